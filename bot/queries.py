"""The lists the review pages and the JSON API show (calls, conversations, follow-ups, phone
reveals) and the client and call entries in them, each as its reader may see it (bot.access).

Functions take the session of the caller's unit of work; a bad filter is a ValueError whose
message is for the user. The raw row queries they build on live in bot/crm.py.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import access, clock, crm, labels, masking
from bot.auth import Identity
from bot.db import batched
from bot.models import DISPOSITION_LABELS, DISPOSITIONS, STAGE_LABELS, Call, Client, FollowUp, PhoneReveal, User
from bot.playbook import playbook
from bot.transcripts import ClientLookup, client_lookups, conversation_ids_matching

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
    return {
        "id": call.id, "conversation_id": call.conversation_id,
        "client": call.client.name if call.client else None,
        "client_id": call.client_id,
        "agent": call.agent.login if call.agent else None,
        "agent_name": call.agent.name if call.agent else None,
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


# --- calls -------------------------------------------------------------------------------------

def matching_call_ids(session: Session, identity: Identity, args: dict[str, str]) -> list[int]:
    """Ids of the calls visible to ``identity`` that match the query parameters, newest first.

    The full-text filter ``q`` is applied here rather than in SQL: the conversations it matches
    come from the tracker store (another database), a set of any size that no IN list may carry."""
    stmt = select(Call.id, Call.conversation_id, Call.notes).join(Client, Call.client_id == Client.id, isouter=True) \
        .join(User, Call.agent_id == User.id, isouter=True)
    owner = access.scope_user_id(session, identity)
    if owner is not None:
        stmt = stmt.where(Call.agent_id == owner)
    if args.get("client"):
        stmt = stmt.where(Client.name.contains(args["client"], autoescape=True))
    if args.get("agent"):
        stmt = stmt.where(User.login == args["agent"])
    if args.get("outcome"):
        if args["outcome"] not in DISPOSITIONS:
            raise _unknown_outcome(args["outcome"])
        stmt = stmt.where(Call.disposition == args["outcome"])
    start, end = parse_date(args.get("from")), parse_date(args.get("to"))
    if start:
        stmt = stmt.where(Call.started_at >= start)
    if end:
        stmt = stmt.where(Call.started_at < datetime.combine(end.date(), time.min) + timedelta(days=1))
    rows = session.execute(stmt.order_by(Call.started_at.desc(), Call.id.desc()))
    query = args.get("q")
    if not query:
        return [row.id for row in rows]
    matching = conversation_ids_matching(query)
    return [row.id for row in rows if row.conversation_id in matching or query in (row.notes or "")]


def calls_json(session: Session, call_ids: list[int]) -> list[dict[str, Any]]:
    """The calls with these ids, in that order (loaded in bounded batches)."""
    found: dict[int, Call] = {}
    for batch in batched(call_ids):
        found.update((c.id, c) for c in session.scalars(select(Call).where(Call.id.in_(batch))).unique())
    return [call_json(found[i]) for i in call_ids if i in found]


def query_calls(session: Session, identity: Identity, args: dict[str, str]) -> list[dict[str, Any]]:
    """Every call visible to ``identity``, newest first, filtered by the query parameters."""
    return calls_json(session, matching_call_ids(session, identity, args))


# --- conversations -----------------------------------------------------------------------------

def _unlogged_json(lookup: ClientLookup, client: Client | None, agent: User | None) -> dict[str, Any]:
    """A conversation in which the agent pulled up ``client`` but logged no outcome for them."""
    return {
        "id": None, "conversation_id": lookup.conversation_id,
        "client": client.name if client else None, "client_id": lookup.client_id,
        "agent": agent.login if agent else lookup.login, "agent_name": agent.name if agent else None,
        "outcome": None, "logged": False, "outcome_label": labels.unlogged(),
        "objections": [], "opening_style": None, "products": [], "amount": None, "notes": None,
        "started_at": lookup.first_at.isoformat(timespec="seconds") if lookup.first_at else None,
        "ended_at": None,
    }


def unlogged_lookups(session: Session, identity: Identity,
                     lookups: list[ClientLookup] | None = None) -> list[dict[str, Any]]:
    """Clients looked up in a conversation (tracker store) that have no call row there, as
    ``identity`` may list them: the conversation's owner or a supervisor (bot.access)."""
    lookups = client_lookups() if lookups is None else lookups
    readable = access.readable_conversations(session, identity, {lookup.conversation_id for lookup in lookups})
    lookups = [lookup for lookup in lookups if lookup.conversation_id in readable]
    if not lookups:
        return []
    logged = crm.logged_clients(session, {lookup.conversation_id for lookup in lookups})
    pending = [lookup for lookup in lookups if (lookup.conversation_id, lookup.client_id) not in logged]
    if not pending:
        return []
    clients: dict[int, Client] = {}
    for batch in batched({lookup.client_id for lookup in pending}):
        clients.update((c.id, c) for c in session.scalars(select(Client).where(Client.id.in_(batch))).unique())
    owners = crm.conversation_owners(session, {lookup.conversation_id for lookup in pending})
    users = {u.login: u for u in session.scalars(select(User))}
    entries = []
    for lookup in pending:
        owner = owners.get(lookup.conversation_id) or lookup.login
        client, agent = clients.get(lookup.client_id), users.get(owner or "")
        # A forgotten outcome only where one was due: the owner could log it (their own client,
        # an agent, not a supervisor's look) and the client may be called at all.
        if client is None or agent is None or client.do_not_call or not access.may_write_client(
                Identity(agent.login, agent.role, agent.name), client):
            continue
        entries.append(_unlogged_json(lookup, client, agent))
    return entries


def query_conversations(session: Session, identity: Identity, args: dict[str, str],
                        lookups: list[ClientLookup] | None = None) -> list[dict[str, Any]]:
    """Every conversation about a client, one entry per client, newest first: the logged call rows
    and the clients looked up without a logged outcome (``outcome=unlogged`` lists only those)."""
    outcome = args.get("outcome") or ""
    if outcome and outcome != UNLOGGED and outcome not in DISPOSITIONS:
        raise _unknown_outcome(outcome)
    entries = []
    calls = query_calls(session, identity, {**args, "outcome": "" if outcome == UNLOGGED else outcome})
    entries += [c for c in calls if outcome != UNLOGGED or not c["logged"]]
    if outcome in ("", UNLOGGED):
        entries += _filtered(unlogged_lookups(session, identity, lookups), args)
    entries.sort(key=lambda e: (e["started_at"] or "", e["id"] or 0), reverse=True)
    return entries


def _filtered(entries: list[dict[str, Any]], args: dict[str, str]) -> list[dict[str, Any]]:
    """The list filters of ``query_calls`` applied to entries without a call row."""
    start, end = parse_date(args.get("from")), parse_date(args.get("to"))
    matching = conversation_ids_matching(args["q"]) if args.get("q") else None
    kept = []
    for entry in entries:
        started = datetime.fromisoformat(entry["started_at"]) if entry["started_at"] else None
        if args.get("client") and args["client"] not in (entry["client"] or ""):
            continue
        if args.get("agent") and entry["agent"] != args["agent"]:
            continue
        if start and (started is None or started < start):
            continue
        if end and (started is None or started >= datetime.combine(end.date(), time.min) + timedelta(days=1)):
            continue
        if matching is not None and entry["conversation_id"] not in matching:
            continue
        kept.append(entry)
    return kept


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
