"""Assigning clients to agents, and the unassigned pool (issue 21, point 3).

Supervisors give clients to agents by the ids they ticked or by a filter (segment, tier, stage, never
called, unassigned, current agent), to one agent or evenly over several. Assigning sets the client's
agent and ``assigned_at``, moves the client's open follow-ups to the new agent and records one
``assign`` change per client, all in the caller's transaction. Everything is checked before anything
is written, so a refused request (an unknown client id, a trainee as target) writes nothing.

Disabling an agent returns their clients to the pool (clients without an agent): ``return_to_pool``.
Core: no Sanic; the routes are bot/web/api/book.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session, selectinload

from bot import access, clock, crm
from bot.analytics import client_segments, other_segment
from bot.auth import Identity
from bot.book import changes
from bot.db import batched
from bot.models import STAGE_LABELS, STAGES, Call, Change, Client, FollowUp, User
from bot.playbook import playbook
from bot.profile import Profile, segment_choices, tier_choices

# Why a client went back to the pool (Change.detail["reason"]; labels.yml change_reasons).
AGENT_DISABLED = "agent_disabled"
# The changes that tell how a client came to have no agent (the pool's reason column).
POOL_CHANGE_KINDS = ("assign", "unassign", "import")
FLAG_VALUES = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False,
               "off": False, "": False}


class AssignmentError(ValueError):
    """A refused assignment or filter; the message is for the supervisor (Chinese)."""


def segment_codes() -> dict[str, str]:
    """Segment code -> label as the dashboard names them, the clients in none ("other") last."""
    code, label = other_segment()
    return {**segment_choices(), code: label}


# --- the filter ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClientFilter:
    """Which clients a supervisor means: every given condition holds (none given: every client)."""

    segment: str | None = None  # a segment code (segments.yml, or "other" for clients in none)
    tier: str | None = None  # a tier code (Profile.tier_code)
    stage: str | None = None  # bot.models.STAGES
    never_called: bool = False  # no call row at all
    unassigned: bool = False  # no agent: the pool
    agent: str | None = None  # the current agent's login

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | Any) -> ClientFilter:
        """From query parameters or a JSON object; AssignmentError (Chinese) for a value that names nothing."""
        messages = playbook().messages
        if not isinstance(raw, Mapping):
            raise AssignmentError(messages.book_filter_not_object.format())

        def text(name: str) -> str | None:
            value = raw.get(name)
            return None if value is None or str(value).strip() == "" else str(value).strip()

        def flag(name: str) -> bool:
            value = raw.get(name)
            if isinstance(value, bool) or value is None:
                return bool(value)
            found = FLAG_VALUES.get(str(value).strip().lower())
            if found is None:
                raise AssignmentError(messages.book_filter_bad_flag.format(name=name))
            return found

        found = cls(segment=text("segment"), tier=text("tier"), stage=text("stage"),
                    never_called=flag("never_called"), unassigned=flag("unassigned"), agent=text("agent"))
        for value, known, message in ((found.segment, segment_codes(), messages.book_filter_unknown_segment),
                                      (found.tier, tier_choices(), messages.book_filter_unknown_tier),
                                      (found.stage, STAGES, messages.book_filter_unknown_stage)):
            if value is not None and value not in known:
                raise AssignmentError(message.format(value=value))
        return found


def matching_client_ids(session: Session, wanted: ClientFilter) -> list[int]:
    """Ids of the clients ``wanted`` names, by id (the stable order of an even split)."""
    stmt = select(Client.id).order_by(Client.id)
    if wanted.stage:
        stmt = stmt.where(Client.stage == wanted.stage)
    if wanted.unassigned:
        stmt = stmt.where(Client.agent_id.is_(None))
    if wanted.agent:
        agent = crm.get_user(session, wanted.agent)
        if agent is None or agent.role != "agent":
            raise AssignmentError(playbook().messages.assign_unknown_agent.format(login=wanted.agent))
        stmt = stmt.where(Client.agent_id == agent.id)
    if wanted.never_called:
        stmt = stmt.where(~exists().where(Call.client_id == Client.id))
    ids = list(session.scalars(stmt))
    if not (wanted.segment or wanted.tier):
        return ids
    # Segments and tiers are derived from the profile (bot/profile.py), never stored: read in batches.
    other = other_segment()[0]
    kept = set()
    for clients in _client_batches(session, ids):
        for client in clients:
            profile = Profile.from_row(client)
            if wanted.tier and profile.tier_code != wanted.tier:
                continue
            # As the dashboard counts them (analytics.client_segments): a client in no segment is "other".
            if wanted.segment and wanted.segment not in (profile.segments or (other,)):
                continue
            kept.add(client.id)
    return [i for i in ids if i in kept]


def _client_batches(session: Session, ids: Iterable[int]) -> Iterable[list[Client]]:
    """The clients with ``ids`` (holdings loaded with them, for their profiles), a batch at a time."""
    for batch in batched(ids):
        yield list(session.scalars(select(Client).where(Client.id.in_(batch))
                                   .options(selectinload(Client.holdings))).unique())


def filter_choices(session: Session) -> dict[str, Any]:
    """What the filter bar offers: segments, tiers, stages, and every agent with their number of
    clients (``active``: only active agents may receive clients); and the pool's size."""
    counts = dict(session.execute(select(Client.agent_id, func.count()).group_by(Client.agent_id)).all())
    agents = session.scalars(select(User).where(User.role == "agent").order_by(User.login))
    return {
        "segments": [{"code": c, "label": label} for c, label in segment_codes().items()],
        "tiers": [{"code": c, "label": label} for c, label in tier_choices().items()],
        "stages": [{"code": c, "label": STAGE_LABELS.get(c, c)} for c in STAGES],
        "agents": [{"login": u.login, "name": u.name, "active": u.active, "clients": counts.get(u.id, 0)}
                   for u in agents],
        "pool": counts.get(None, 0),
    }


def client_entries(session: Session, identity: Identity, ids: list[int]) -> list[dict[str, Any]]:
    """The clients with ``ids``, in that order, as the assignment table shows them (the phone as
    ``identity`` may see it: masked for supervisors)."""
    found: dict[int, Client] = {}
    for clients in _client_batches(session, ids):
        found.update((c.id, c) for c in clients)
    last_calls: dict[int, datetime] = {}
    for batch in batched(ids):
        last_calls.update(session.execute(select(Call.client_id, func.max(Call.started_at))
                                          .where(Call.client_id.in_(batch)).group_by(Call.client_id)).all())
    entries = []
    for client_id in ids:
        client = found.get(client_id)
        if client is None:
            continue
        profile = Profile.from_row(client)
        last = last_calls.get(client_id)
        entries.append({
            "id": client.id, "name": client.name, "phone": access.phone_for(identity, client),
            "stage": client.stage, "stage_label": STAGE_LABELS.get(client.stage, client.stage),
            "tier": profile.tier_code, "tier_label": profile.tier,
            "segments": [label for _code, label in client_segments(client)],
            "agent": client.agent.login if client.agent else None,
            "agent_name": client.agent.name if client.agent else None,
            "do_not_call": client.do_not_call,
            "assigned_at": client.assigned_at.isoformat(timespec="seconds") if client.assigned_at else None,
            "last_call_at": last.isoformat(timespec="seconds") if last else None,
        })
    return entries


# --- assigning -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Assignment:
    """What an assignment did: each chosen agent with the number of the selected clients they now
    hold, how many clients changed agent, how many already had theirs, how many are on do-not-call."""

    per_agent: tuple[tuple[User, int], ...]
    moved: int
    unchanged: int
    do_not_call: int
    followups_moved: int

    @property
    def count(self) -> int:
        return self.moved + self.unchanged

    def message(self) -> str:
        """已分配 120 位客户：agent01 60 位，agent02 60 位 (and what the supervisor should know)."""
        messages = playbook().messages
        notes = messages.assign_unchanged.format(count=self.unchanged) if self.unchanged else ""
        if self.do_not_call:
            notes += messages.assign_do_not_call.format(count=self.do_not_call)
        return messages.assign_done.format(count=self.count, notes=notes, agents="，".join(
            messages.assign_done_agent.format(login=agent.login, name=agent.name, count=n)
            for agent, n in self.per_agent))

    def as_json(self) -> dict[str, Any]:
        return {"assigned": self.count, "moved": self.moved, "unchanged": self.unchanged,
                "do_not_call": self.do_not_call, "followups_moved": self.followups_moved,
                "per_agent": [{"login": a.login, "name": a.name, "count": n} for a, n in self.per_agent],
                "message": self.message()}


def target_agents(session: Session, logins: Any) -> list[User]:
    """The accounts ``logins`` names, in that order, each an active agent (else AssignmentError)."""
    messages = playbook().messages
    if isinstance(logins, str):
        logins = [logins]
    if not isinstance(logins, (list, tuple)) or not logins:
        raise AssignmentError(messages.assign_no_agents)
    agents: list[User] = []
    for login in dict.fromkeys(str(login).strip() for login in logins):
        user = crm.get_user(session, login)
        if user is None:
            raise AssignmentError(messages.assign_unknown_agent.format(login=login))
        if user.role != "agent":
            raise AssignmentError(messages.assign_not_an_agent.format(login=login, name=user.name))
        if not user.active:
            raise AssignmentError(messages.assign_agent_disabled.format(login=login, name=user.name))
        agents.append(user)
    return agents


def _client_ids(values: Any) -> list[int]:
    """Distinct client ids, ascending: the order the clients are dealt to the agents."""
    messages = playbook().messages
    if values is None:
        raise AssignmentError(messages.assign_no_clients)
    if not isinstance(values, (list, tuple)):
        raise AssignmentError(messages.assign_bad_client_ids)
    ids = set()
    for value in values:
        # Whole numbers only (not 1.5, not true), and no longer than a database id can be.
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if not (isinstance(text, str) and text.isascii() and text.isdigit()
                and len(text) <= access.MAX_CLIENT_ID_DIGITS):
            raise AssignmentError(messages.assign_bad_client_ids)
        ids.add(int(text))
    if not ids:
        raise AssignmentError(messages.assign_no_clients)
    return sorted(ids)


def assign(session: Session, client_ids: Any, agent_logins: Any, by: User | None,
           now: datetime | None = None) -> Assignment:
    """Give the clients to the agents: all to one, or dealt round-robin by client id over several, so
    each chosen agent gets as many as the next, give or take one. Refuses (AssignmentError, nothing
    written) an empty selection, an unknown client id, or a target that is not an active agent.
    Clients on do-not-call are assigned too (they stay do-not-call); the result counts them."""
    agents = target_agents(session, agent_logins)
    ids = _client_ids(client_ids)
    current: dict[int, tuple[int | None, bool]] = {}
    for batch in batched(ids):
        current.update((row.id, (row.agent_id, row.do_not_call)) for row in session.execute(
            select(Client.id, Client.agent_id, Client.do_not_call).where(Client.id.in_(batch))))
    unknown = [i for i in ids if i not in current]
    if unknown:
        shown = "、".join(str(i) for i in unknown[:10]) + ("…" if len(unknown) > 10 else "")
        raise AssignmentError(playbook().messages.assign_unknown_clients.format(ids=shown))
    now = now or clock.now()
    logins = _logins(session, {agent_id for agent_id, _dnc in current.values() if agent_id is not None})
    given: dict[int, list[int]] = defaultdict(list)
    per_agent: dict[int, int] = defaultdict(int)
    rows = []
    for position, client_id in enumerate(ids):
        agent = agents[position % len(agents)]
        per_agent[agent.id] += 1
        before = current[client_id][0]
        if before == agent.id:
            continue
        given[agent.id].append(client_id)
        rows.append(_change_row("assign", client_id, {"agent": [logins.get(before), agent.login]}, by, now))
    followups = sum(_set_agent(session, agent_id, client_ids_, now) for agent_id, client_ids_ in given.items())
    changes.record_many(session, rows)
    return Assignment(per_agent=tuple((a, per_agent[a.id]) for a in agents), moved=len(rows),
                      unchanged=len(ids) - len(rows), do_not_call=sum(dnc for _a, dnc in current.values()),
                      followups_moved=followups)


def assign_matching(session: Session, wanted: ClientFilter, agent_logins: Any, by: User | None,
                    expected: int | None = None, now: datetime | None = None) -> Assignment:
    """``assign`` the clients ``wanted`` names; with ``expected`` (the count the supervisor saw),
    refuses if the filter now names another number of clients."""
    target_agents(session, agent_logins)  # a bad target is the first thing to say, as for ids
    ids = matching_client_ids(session, wanted)
    if not ids:
        raise AssignmentError(playbook().messages.assign_no_clients)
    if expected is not None and expected != len(ids):
        raise AssignmentError(playbook().messages.assign_filter_changed.format(count=len(ids), expected=expected))
    return assign(session, ids, agent_logins, by, now)


def return_to_pool(session: Session, agent: User, by: User | None, now: datetime | None = None) -> int:
    """An agent was disabled: every client of theirs goes back to the pool (no agent), one
    ``unassign`` change each. Returns how many.

    "Their open clients" is read as ALL their clients, deal and loyal stages included: a disabled
    account has no call list, so a loyal client's maturity reminder or a valuable client's dormant
    call would wait on nobody's list, unseen; in the pool the supervisor sees them and gives them to
    someone. Credit for past deals stays on the calls (Call.agent_id), not on Client.agent_id.
    Their open follow-ups keep existing, still under the disabled agent: the pool lists them as
    待回访（原坐席已停用）, and assigning the client moves them to the new agent."""
    now = now or clock.now()
    ids = list(session.scalars(select(Client.id).where(Client.agent_id == agent.id).order_by(Client.id)))
    _set_agent(session, None, ids, None)
    changes.record_many(session, [_change_row("unassign", client_id,
                                              {"agent": [agent.login, None], "reason": AGENT_DISABLED}, by, now)
                                  for client_id in ids])
    return len(ids)


def _set_agent(session: Session, agent_id: int | None, client_ids: list[int], assigned_at: datetime | None) -> int:
    """Set the clients' agent (and ``assigned_at``); an agent also takes over their open follow-ups.
    Returns how many follow-ups moved. Bulk statements: a filter may name tens of thousands."""
    moved = 0
    for batch in batched(client_ids):
        session.execute(update(Client).where(Client.id.in_(batch)).values(agent_id=agent_id, assigned_at=assigned_at)
                        .execution_options(synchronize_session=False))
        if agent_id is not None:
            moved += crm.hand_over_followups(session, batch, agent_id)
    # Rows already loaded in this session (and their ``agent``) are read again when next used.
    for row in list(session.identity_map.values()):
        if isinstance(row, (Client, FollowUp)):
            session.expire(row)
    return moved


def _change_row(kind: str, client_id: int, detail: dict[str, Any], by: User | None, now: datetime) -> dict[str, Any]:
    return changes.row(kind=kind, entity="client", entity_id=client_id, detail=detail, user=by, at=now)


def _logins(session: Session, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    return dict(session.execute(select(User.id, User.login).where(User.id.in_(user_ids))).all())


# --- the pool --------------------------------------------------------------------------------------

def pool_ids(session: Session) -> list[int]:
    """The clients without an agent: those with an open follow-up first (soonest due), then by id."""
    ids = list(session.scalars(select(Client.id).where(Client.agent_id.is_(None)).order_by(Client.id)))
    due = dict(session.execute(
        select(FollowUp.client_id, func.min(FollowUp.due_at)).join(Client, FollowUp.client_id == Client.id)
        .where(Client.agent_id.is_(None), FollowUp.status == "open").group_by(FollowUp.client_id)).all())
    return sorted(ids, key=lambda i: (i not in due, due.get(i) or datetime.min, i))


def pool_entries(session: Session, identity: Identity, ids: list[int]) -> list[dict[str, Any]]:
    """The pool's clients as the table shows them, each with why it is there and its open follow-ups
    (待回访（原坐席已停用） when the agent who booked it is disabled)."""
    messages = playbook().messages
    entries = client_entries(session, identity, ids)
    reasons = _pool_reasons(session, ids)
    followups: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for batch in batched(ids):
        for followup in session.scalars(select(FollowUp).where(FollowUp.client_id.in_(batch), FollowUp.status == "open")
                                        .order_by(FollowUp.due_at)).unique():
            disabled = followup.agent is None or not followup.agent.active
            followups[followup.client_id].append({
                "due_at": followup.due_at.isoformat(timespec="seconds"), "reason": followup.reason,
                "agent": followup.agent.login if followup.agent else None, "agent_active": not disabled,
                "label": messages.pool_followup_agent_disabled if disabled else messages.pool_followup,
            })
    for entry in entries:
        entry["reason"] = reasons.get(entry["id"], messages.pool_reason_never)
        entry["followups"] = followups.get(entry["id"], [])
    return entries


def _pool_reasons(session: Session, ids: list[int]) -> dict[int, str]:
    """Why each client is in the pool, from the latest change that gave or took their agent."""
    latest: dict[int, Change] = {}
    for batch in batched(ids):
        for change in session.scalars(select(Change).where(
                Change.entity == "client", Change.entity_id.in_(batch), Change.kind.in_(POOL_CHANGE_KINDS))
                .order_by(Change.at, Change.id)).unique():
            latest[change.entity_id] = change
    former = {c.detail["agent"][0] for c in latest.values() if c.kind == "unassign" and _agent_pair(c)}
    names = dict(session.execute(select(User.login, User.name).where(User.login.in_(former))).all()) if former else {}
    messages = playbook().messages
    reasons = {}
    for client_id, change in latest.items():
        date = change.at.strftime("%Y-%m-%d")
        if change.kind == "import":
            reasons[client_id] = messages.pool_reason_imported.format(date=date)
        elif change.kind == "unassign" and _agent_pair(change):
            login = change.detail["agent"][0]
            message = (messages.pool_reason_agent_disabled if change.detail.get("reason") == AGENT_DISABLED
                       else messages.pool_reason_unassigned)
            reasons[client_id] = message.format(date=date, login=login, name=names.get(login, login))
    return reasons


def _agent_pair(change: Change) -> bool:
    pair = (change.detail or {}).get("agent")
    return isinstance(pair, list) and len(pair) == 2 and bool(pair[0])


def pool_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Client).where(Client.agent_id.is_(None))) or 0
