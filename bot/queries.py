"""The lists the review pages and the JSON API show (calls, conversations, follow-ups, phone
reveals) and the client and call entries in them, each as its reader may see it (bot.access).

Functions take the session of the caller's unit of work; a bad filter is a ValueError whose
message is for the user. The raw row queries they build on live in bot/crm.py.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import Text, and_, cast, func, literal, null, or_, select, union_all
from sqlalchemy.orm import Session

from bot import access, clock, crm, labels, masking
from bot.auth import Identity
from bot.db import batched
from bot.models import (
    DISPOSITION_LABELS,
    DISPOSITIONS,
    STAGE_LABELS,
    Call,
    Client,
    FollowUp,
    LookupRecord,
    PhoneReveal,
    User,
)
from bot.playbook import playbook
from bot.transcripts import conversation_ids_matching

UNLOGGED = "unlogged"  # the outcome filter for conversations about a client without a logged outcome


def client_json(identity: Identity, client: Client) -> dict[str, Any]:
    """The client as ``identity`` may see them (bot.access): whole, or name, stage and owner."""
    if not access.may_read_client(identity, client):
        return access.limited_view(client)
    return {
        "id": client.id, "name": client.name, "phone": access.phone_for(identity, client),
        "phone_hidden": not access.may_see_full_phone(identity, client),
        "gender": client.gender, "age": client.age, "occupation": client.occupation, "company": client.company,
        "annual_income": client.annual_income, "assets": client.assets,
        "card_spend_per_year": client.card_spend_per_year, "stage": client.stage,
        "stage_label": STAGE_LABELS.get(client.stage), "do_not_call": client.do_not_call,
        "agent": client.agent.login if client.agent else None, "referrer": client.referrer,
        "note": client.note, "holdings": [h.product.name for h in client.holdings],
    }


def call_json(call: Call) -> dict[str, Any]:
    return _call_entry(call, call.client.name if call.client else None, call.agent.login if call.agent else None,
                       call.agent.name if call.agent else None)


def _call_entry(call: Any, client: str | None, login: str | None, agent_name: str | None) -> dict[str, Any]:
    """A call as the lists show it; ``call``: the row, or a row of its columns (``calls_json``)."""
    return {
        "id": call.id, "conversation_id": call.conversation_id, "client": client, "client_id": call.client_id,
        "agent": login, "agent_name": agent_name,
        "outcome": call.disposition, "logged": call.disposition is not None,
        "outcome_label": DISPOSITION_LABELS.get(call.disposition) if call.disposition else labels.unlogged(),
        "objections": list(call.objections or []), "opening_style": call.opening_style,
        "products": list(call.products or []), "amount": call.amount, "notes": call.notes,
        "started_at": call.started_at.isoformat(timespec="seconds") if call.started_at else None,
        "ended_at": call.ended_at.isoformat(timespec="seconds") if call.ended_at else None,
    }


def parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(playbook().messages["api_bad_date"].format(value=value)) from None


def _unknown_outcome(outcome: str) -> ValueError:
    return ValueError(playbook().messages["api_unknown_outcome"].format(outcome=outcome))


# --- calls and conversations --------------------------------------------------------------------
#
# Both lists are built in SQL over the CRM alone (calls, and the clients looked up in a conversation,
# ``client_lookups``), paged and counted by the database: a year of a team's calls is never loaded
# to show one page. Only the full-text filter ``q`` reads the tracker store, and filters in Python.

CALL, LOOKUP = 0, 1  # the kind of a list entry: a call row, or a client looked up without one
MERGE_HERE_UP_TO = 1000  # entries before a page that are read and merged here; deeper, the database skips


def _date_bounds(args: dict[str, str]) -> tuple[datetime | None, datetime | None]:
    """The ``from`` day's start and the day after ``to``, as the filters compare them."""
    start, end = parse_date(args.get("from")), parse_date(args.get("to"))
    return start, datetime.combine(end.date(), time.min) + timedelta(days=1) if end else None


def _call_select(session: Session, identity: Identity, args: dict[str, str], outcome: str):
    """The calls visible to ``identity`` matching the filters, as list entries (kind, id, conversation,
    notes, time). ``outcome``: a disposition, UNLOGGED (no outcome yet) or "" (any)."""
    stmt = select(literal(CALL).label("kind"), Call.id.label("id"), Call.conversation_id.label("conversation_id"),
                  Call.notes.label("notes"), Call.started_at.label("at")) \
        .join(Client, Call.client_id == Client.id, isouter=True).join(User, Call.agent_id == User.id, isouter=True)
    owner = access.scope_user_id(session, identity)
    if owner is not None:
        stmt = stmt.where(Call.agent_id == owner)
    if outcome == UNLOGGED:
        stmt = stmt.where(Call.disposition.is_(None))
    elif outcome:
        stmt = stmt.where(Call.disposition == outcome)
    return _list_filters(stmt, args, Call.started_at)


def _list_filters(stmt, args: dict[str, str], at):
    """The filters both kinds of entries share: the client's name, the agent's login, the days of ``at``
    (the statement joins Client and User)."""
    if args.get("client"):
        stmt = stmt.where(Client.name.contains(args["client"], autoescape=True))
    if args.get("agent"):
        stmt = stmt.where(User.login == args["agent"])
    start, end = _date_bounds(args)
    if start:
        stmt = stmt.where(at >= start)
    if end:
        stmt = stmt.where(at < end)
    return stmt


def _unlogged_select(session: Session, identity: Identity, args: dict[str, str],
                     conversation_id: str | None = None):
    """Clients looked up in a conversation without a call row there, as list entries, where an
    outcome was due: the conversation's owner could log it (an agent, the client's own) and the
    client may be called at all. Visible to the conversation's owner and to supervisors."""
    stmt = select(literal(LOOKUP).label("kind"), LookupRecord.id.label("id"),
                  LookupRecord.conversation_id.label("conversation_id"), cast(null(), Text).label("notes"),
                  LookupRecord.first_at.label("at")) \
        .join(Client, LookupRecord.client_id == Client.id).join(User, LookupRecord.agent_id == User.id) \
        .where(LookupRecord.call_id.is_(None), Client.do_not_call.is_(False), Client.agent_id == LookupRecord.agent_id,
               User.role == "agent")
    owner = access.scope_user_id(session, identity)
    if owner is not None:
        stmt = stmt.where(LookupRecord.agent_id == owner)
    if conversation_id is not None:
        stmt = stmt.where(LookupRecord.conversation_id == conversation_id)
    return _list_filters(stmt, args, LookupRecord.first_at)


def _entries(session: Session, selects: list, args: dict[str, str], bounds: tuple[int, int] | None
             ) -> tuple[list[tuple[int, int]], int]:
    """(kind, id) of the entries of ``selects`` newest first (a call before a lookup of the same
    moment), the page ``bounds`` (offset, limit) of them or all, and how many there are in all.

    A page near either end is read from each kind on its own along its index and merged here (a page in
    the older half from the oldest end); deeper than MERGE_HERE_UP_TO entries, the database orders the
    union and skips to the page, so no page hands over every entry before it."""
    query = args.get("q")
    if query:
        matching = conversation_ids_matching(query)
        listed = (selects[0] if len(selects) == 1 else union_all(*selects)).subquery()
        rows = session.execute(select(listed.c.kind, listed.c.id, listed.c.conversation_id, listed.c.notes)
                               .order_by(listed.c.at.desc(), listed.c.kind, listed.c.id.desc())).all()
        keys = [(row.kind, row.id) for row in rows
                if row.conversation_id in matching or (row.kind == CALL and query in (row.notes or ""))]
        return (keys[bounds[0]:bounds[0] + bounds[1]] if bounds else keys), len(keys)
    if bounds is None:
        rows = [row for stmt in selects for row in _ordered(session, stmt, None, newest_first=True)]
        rows.sort(key=_newest_first, reverse=True)
        return [(row.kind, row.id) for row in rows], len(rows)
    offset, limit = bounds
    total = sum(session.scalar(select(func.count()).select_from(stmt.subquery())) for stmt in selects)
    # A page in the older half is read from the oldest end: the last page costs what the first does.
    newest_first = offset + limit <= total - offset
    skip = offset if newest_first else max(total - offset - limit, 0)
    take = limit if newest_first else max(min(limit, total - offset), 0)
    if take <= 0:
        return [], total
    if skip <= MERGE_HERE_UP_TO:
        rows = [row for stmt in selects for row in _ordered(session, stmt, skip + take, newest_first=newest_first)]
        rows.sort(key=_newest_first, reverse=newest_first)
        page = rows[skip:skip + take]
    else:
        # Deep in a long list: the database merges both kinds along their indexes and skips to the page,
        # instead of handing over every entry before it (a middle page of a year's list read 250,000).
        listed = (selects[0] if len(selects) == 1 else union_all(*selects)).subquery()
        order = (listed.c.at.desc(), listed.c.kind, listed.c.id.desc()) if newest_first \
            else (listed.c.at, listed.c.kind.desc(), listed.c.id)
        page = session.execute(select(listed.c.kind, listed.c.id).order_by(*order).offset(skip).limit(take)).all()
    if not newest_first:
        page = list(reversed(page))
    return [(row.kind, row.id) for row in page], total


def _newest_first(row) -> tuple:
    """The list's order, newest first when sorted in reverse: a call before a lookup of the same moment."""
    return row.at, -row.kind, row.id


def _ordered(session: Session, stmt, limit: int | None, *, newest_first: bool) -> list:
    """(at, kind, id) of the first ``limit`` entries of ``stmt`` from the newest end or the oldest."""
    listed = stmt.subquery()
    order = (listed.c.at.desc(), listed.c.id.desc()) if newest_first else (listed.c.at, listed.c.id)
    ordered = select(listed.c.at, listed.c.kind, listed.c.id).order_by(*order)
    if limit is not None:
        ordered = ordered.limit(limit)
    return session.execute(ordered).all()


def _check_outcome(outcome: str, unlogged_too: bool = False) -> None:
    if outcome and outcome not in DISPOSITIONS and not (unlogged_too and outcome == UNLOGGED):
        raise _unknown_outcome(outcome)


def matching_call_ids(session: Session, identity: Identity, args: dict[str, str]) -> list[int]:
    """Ids of the calls visible to ``identity`` that match the query parameters, newest first."""
    return [key for _kind, key in calls_page(session, identity, args, None)[0]]


ExportMark = tuple[datetime, int]  # (started_at, id) of the last call exported


def export_call_ids(session: Session, identity: Identity, args: dict[str, str], after: ExportMark | None,
                    size: int = 2000) -> tuple[list[int], ExportMark | None]:
    """The next ``size`` calls of the export after ``after`` (None: from the newest), newest first, read
    along the (started_at, id) index: the first rows go out at once, whatever the list's length. Returns
    their ids and the mark to go on from (None: the end). The full-text filter ``q`` reads the whole list."""
    _check_outcome(args.get("outcome") or "")
    if args.get("q"):
        ids = [] if after is not None else matching_call_ids(session, identity, args)
        return ids, None
    listed = _call_select(session, identity, args, args.get("outcome") or "")
    if after is not None:
        listed = listed.where(or_(Call.started_at < after[0], and_(Call.started_at == after[0], Call.id < after[1])))
    rows = session.execute(listed.order_by(Call.started_at.desc(), Call.id.desc()).limit(size)).all()
    mark = (rows[-1].at, rows[-1].id) if len(rows) == size else None
    return [row.id for row in rows], mark


def calls_page(session: Session, identity: Identity, args: dict[str, str],
               bounds: tuple[int, int] | None) -> tuple[list[tuple[int, int]], int]:
    """The keys of one page of the calls list (all of it when ``bounds`` is None) and its size."""
    _check_outcome(args.get("outcome") or "")
    return _entries(session, [_call_select(session, identity, args, args.get("outcome") or "")], args, bounds)


def calls_json(session: Session, call_ids: list[int]) -> list[dict[str, Any]]:
    """The calls with these ids, in that order (read in bounded batches, only the columns shown: an
    export reads a year of calls this way)."""
    columns = (Call.id, Call.conversation_id, Call.client_id, Call.disposition, Call.objections, Call.opening_style,
               Call.products, Call.amount, Call.notes, Call.started_at, Call.ended_at,
               Client.name.label("client_name"), User.login.label("login"), User.name.label("agent_name"))
    found: dict[int, dict[str, Any]] = {}
    for batch in batched(call_ids):
        rows = session.execute(select(*columns).join(Client, Call.client_id == Client.id, isouter=True)
                               .join(User, Call.agent_id == User.id, isouter=True).where(Call.id.in_(batch)))
        found.update((row.id, _call_entry(row, row.client_name, row.login, row.agent_name)) for row in rows)
    return [found[i] for i in call_ids if i in found]


def conversations_page(session: Session, identity: Identity, args: dict[str, str],
                       bounds: tuple[int, int] | None) -> tuple[list[tuple[int, int]], int]:
    """The review list: every conversation about a client, one entry per client, newest first:
    the call rows and the clients looked up without one (``outcome=unlogged``: the calls without an
    outcome and those). The keys of one page (all when ``bounds`` is None) and the list's size."""
    outcome = args.get("outcome") or ""
    _check_outcome(outcome, unlogged_too=True)
    selects = [_call_select(session, identity, args, outcome)]
    if outcome in ("", UNLOGGED):
        selects.append(_unlogged_select(session, identity, args))
    return _entries(session, selects, args, bounds)


def entries_json(session: Session, keys: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """The list entries of these keys (``conversations_page``), in that order."""
    calls = {entry["id"]: entry for entry in calls_json(session, [key for kind, key in keys if kind == CALL])}
    lookups = _lookups_json(session, [key for kind, key in keys if kind == LOOKUP])
    found = {CALL: calls, LOOKUP: lookups}
    return [found[kind][key] for kind, key in keys if key in found[kind]]


def query_conversations(session: Session, identity: Identity, args: dict[str, str]) -> list[dict[str, Any]]:
    """The whole review list (``conversations_page``) as entries."""
    return entries_json(session, conversations_page(session, identity, args, None)[0])


def _lookups_json(session: Session, lookup_ids: list[int]) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    for batch in batched(lookup_ids):
        rows = session.execute(select(LookupRecord, Client.name, User.login, User.name)
                               .join(Client, LookupRecord.client_id == Client.id)
                               .join(User, LookupRecord.agent_id == User.id)
                               .where(LookupRecord.id.in_(batch))).all()
        found.update((row[0].id, _unlogged_json(*row)) for row in rows)
    return found


def _unlogged_json(lookup: LookupRecord, client: str, login: str, agent_name: str) -> dict[str, Any]:
    """A conversation in which the agent pulled up a client but logged no outcome for them."""
    return {
        "id": None, "conversation_id": lookup.conversation_id, "client": client, "client_id": lookup.client_id,
        "agent": login, "agent_name": agent_name,
        "outcome": None, "logged": False, "outcome_label": labels.unlogged(),
        "objections": [], "opening_style": None, "products": [], "amount": None, "notes": None,
        "started_at": lookup.first_at.isoformat(timespec="seconds"), "ended_at": None,
    }


def unlogged_lookups(session: Session, identity: Identity, conversation_id: str | None = None) -> list[dict[str, Any]]:
    """Clients looked up (in one conversation, or in any) without a call row there, as ``identity``
    may list them (``_unlogged_select``), newest first."""
    stmt = _unlogged_select(session, identity, {}, conversation_id).subquery()
    ids = list(session.scalars(select(stmt.c.id).order_by(stmt.c.at.desc(), stmt.c.id.desc())))
    found = _lookups_json(session, ids)
    return [found[i] for i in ids if i in found]


def unlogged_per_agent(session: Session, identity: Identity) -> dict[int, int]:
    """How many conversations about a client lack a call row, per agent id (``_unlogged_select``)."""
    stmt = _unlogged_select(session, identity, {}).add_columns(LookupRecord.agent_id.label("agent_id")).subquery()
    return dict(session.execute(select(stmt.c.agent_id, func.count()).group_by(stmt.c.agent_id)).all())


# --- follow-ups and the phone-reveal audit -------------------------------------------------------

def query_followups(session: Session, identity: Identity, due: str) -> list[dict[str, Any]]:
    now = clock.now()
    stmt = select(FollowUp).where(FollowUp.status == "open")
    owner = access.scope_user_id(session, identity)
    if owner is not None:
        stmt = stmt.where(FollowUp.agent_id == owner)
    if due == "today":
        stmt = stmt.where(FollowUp.due_at <= datetime.combine(now.date(), time.max))
    elif due == "overdue":
        stmt = stmt.where(FollowUp.due_at < now)
    elif due not in ("", "all"):
        raise ValueError(playbook().messages["api_bad_due"])
    rows = session.scalars(stmt.order_by(FollowUp.due_at)).unique()
    return masking.for_reader(session, identity, [{
        "id": f.id, "client": f.client.name, "client_id": f.client_id, "agent": f.agent.login,
        "phone": access.phone_for(identity, f.client), "due_at": f.due_at.isoformat(timespec="minutes"),
        "reason": f.reason, "status": f.status, "overdue": crm.is_overdue(f, now), "conversation_id": f.conversation_id,
        # Why it exists, as data (issue 21): the objection intent, the product code, the promise.
        "objection": f.objection, "product": f.product_code, "promise": f.promise,
    } for f in rows])


def phone_reveals(session: Session, limit: int = 200) -> list[dict[str, Any]]:
    rows = session.scalars(select(PhoneReveal).order_by(PhoneReveal.revealed_at.desc(), PhoneReveal.id.desc())
                           .limit(limit)).unique()
    return [{"user": r.user.login, "user_name": r.user.name, "client_id": r.client_id, "client": r.client.name,
             "kind": r.kind, "revealed_at": r.revealed_at.isoformat(timespec="seconds")} for r in rows]


def opening_titles() -> dict[str, str]:
    """The opening styles' names by code, shown beside the codes stored with a call."""
    try:
        return {key: technique.name for key, technique in playbook().openings.items()}
    except Exception:  # noqa: BLE001 - labels only; the codes are shown instead
        return {}
