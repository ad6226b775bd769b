"""The JSON API of contract section 7 (same access rules as the pages)."""

from __future__ import annotations

import asyncio
import csv
import functools
import io
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import unquote

from sanic import Blueprint, response
from sanic.request import Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import access, clock, crm, labels, masking
from bot.auth import Identity
from bot.db import batched, sessions
from bot.models import DISPOSITION_LABELS, DISPOSITIONS, STAGE_LABELS, STAGES, Call, Client, FollowUp, PhoneReveal, User
from bot.outcomes import REACHED
from bot.text import phone_query
from bot.transcripts import ClientLookup, client_lookups, conversation_ids_matching, transcript
from bot.web.session import by_bearer_token, csrf_ok, require_identity

api = Blueprint("api", url_prefix="/api")


def error_json(message: str, status: int) -> response.HTTPResponse:
    """The API's refusal: ``{"error": <Chinese message>}`` with the status."""
    return response.json({"error": message}, status=status)


async def in_session(fn, *args):
    """Run blocking DB work off the event loop, in one transaction."""

    def work():
        with sessions().begin() as session:
            return fn(session, *args)

    return await asyncio.to_thread(work)


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


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"日期格式不对：{value}（应为 2026-11-23）") from None


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
            raise ValueError(f"未知的通话结果：{args['outcome']}")
        stmt = stmt.where(Call.disposition == args["outcome"])
    start, end = _parse_date(args.get("from")), _parse_date(args.get("to"))
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


PAGE_LIMIT = 500  # the most (and the default number of) entries one page of a list holds


def page_bounds(args: dict[str, str]) -> tuple[int, int]:
    """(offset, limit) from the ``offset`` and ``limit`` query parameters; ValueError if invalid."""
    try:
        offset, limit = int(args.get("offset") or 0), int(args.get("limit") or PAGE_LIMIT)
    except ValueError:
        raise ValueError("offset 和 limit 应为整数。") from None
    if offset < 0 or not 1 <= limit <= PAGE_LIMIT:
        raise ValueError(f"limit 应在 1 到 {PAGE_LIMIT} 之间，offset 不能小于 0。")
    return offset, limit


def page_json(session: Session, identity: Identity, rows: list[Any], args: dict[str, str],
              load=None) -> response.HTTPResponse:
    """One page of ``rows`` (``load`` turns a page of keys into entries), as ``identity`` may read
    it (bot.masking), with the size of the whole list in ``X-Total-Count``."""
    offset, limit = page_bounds(args)
    page = rows[offset:offset + limit]
    entries = load(session, page) if load is not None else page
    return response.json(masking.for_reader(session, identity, entries), headers={"X-Total-Count": str(len(rows))})


UNLOGGED = "unlogged"  # the outcome filter for conversations about a client without a logged outcome


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
    logged: set[tuple[str, int]] = set()
    for batch in batched({lookup.conversation_id for lookup in lookups}):
        logged.update(session.execute(select(Call.conversation_id, Call.client_id)
                                      .where(Call.conversation_id.in_(batch))).all())
    pending = [lookup for lookup in lookups if (lookup.conversation_id, lookup.client_id) not in logged]
    if not pending:
        return []
    clients: dict[int, Client] = {}
    for batch in batched({lookup.client_id for lookup in pending}):
        clients.update((c.id, c) for c in session.scalars(select(Client).where(Client.id.in_(batch))).unique())
    owners = access.conversation_owners(session, {lookup.conversation_id for lookup in pending})
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
        raise ValueError(f"未知的通话结果：{outcome}")
    entries = []
    calls = query_calls(session, identity, {**args, "outcome": "" if outcome == UNLOGGED else outcome})
    entries += [c for c in calls if outcome != UNLOGGED or not c["logged"]]
    if outcome in ("", UNLOGGED):
        entries += _filtered(unlogged_lookups(session, identity, lookups), args)
    entries.sort(key=lambda e: (e["started_at"] or "", e["id"] or 0), reverse=True)
    return entries


def _filtered(entries: list[dict[str, Any]], args: dict[str, str]) -> list[dict[str, Any]]:
    """The list filters of ``query_calls`` applied to entries without a call row."""
    start, end = _parse_date(args.get("from")), _parse_date(args.get("to"))
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


NO_REAL_CRM = "学员账号只能使用练习模式，不能查看真实客户资料。"


def real_crm_only(handler):
    """Route decorator (after require_identity): trainees never read real clients, calls or follow-ups."""

    @functools.wraps(handler)
    async def wrapper(request: Request, *args, identity: Identity, **kwargs):
        if not access.reads_real_crm(identity):
            return error_json(NO_REAL_CRM, 403)
        return await handler(request, *args, identity=identity, **kwargs)

    return wrapper


def conversation_route(handler):
    """Route decorator for ``<conversation_id:path>`` routes: the id percent-decoded (Sanic 21.12
    passes route parameters as sent), so an id with a space, a slash or Chinese opens too (old
    conversations, kept from before the channels checked ids)."""

    @functools.wraps(handler)
    async def wrapper(request: Request, *args, conversation_id: str, **kwargs):
        return await handler(request, *args, conversation_id=unquote(conversation_id), **kwargs)

    return wrapper


def csrf_ok_for(request: Request) -> bool:
    """Writes from a browser session need its CSRF token (header); Bearer clients cannot be forged.
    Called after ``require_identity``: a Bearer credential here is a valid token."""
    if by_bearer_token(request):
        return True
    return csrf_ok(request, request.headers.get("X-CSRF-Token"))


def _args(request: Request) -> dict[str, str]:
    return {key: request.args.get(key) for key in request.args}


# Shorter keys are client ids; from 7 digits on a key is a phone number (+86 and separators allowed).
MIN_PHONE_KEY_DIGITS = 7


def _client_by_key(session: Session, identity: Identity, key: str) -> Client | None:
    """A client by id or phone, None if unknown or not one client: the same access-checked lookup
    as the chat (bot.access.lookup_clients), so a number names a client only to those who may read
    them, and a suffix finds only the agent's own clients."""
    key = unquote(key)  # Sanic leaves %xx in route parameters: %2B86 is +86
    if key.isascii() and key.isdigit() and len(key) < MIN_PHONE_KEY_DIGITS:
        found = access.lookup_clients(session, identity, "client_id", key)
    else:
        typed = phone_query(key)
        if typed is None or typed.digits is None:
            return None
        found = access.lookup_clients(session, identity, "phone", typed.digits)
    return found.clients[0] if len(found.clients) == 1 else None


@api.get("/labels")
async def get_labels(_request: Request):
    """Every disposition, stage, intent and button label (bot/playbook/labels.yml): the same
    JSON the pages carry, for other clients of the API. Labels are not data: no login needed."""
    return response.json(labels.for_pages())


@api.get("/clients/<key>")
@require_identity
@real_crm_only
async def get_client(request: Request, key: str, identity: Identity):
    def work(session: Session):
        client = _client_by_key(session, identity, key)
        if client is None:
            return error_json("没有这个客户。", 404)
        # The free-text note may hold numbers (another client's, a new one): the exit rule applies.
        return response.json(masking.for_reader(session, identity, client_json(identity, client)))

    return await in_session(work)


@api.post("/clients/<key>/phone")
@require_identity
@real_crm_only
async def reveal_phone(request: Request, key: str, identity: Identity):
    """A supervisor's "show number": the full number, written to the audit table."""
    if not csrf_ok_for(request):
        return error_json("页面已过期，请刷新后再试。", 403)

    def work(session: Session):
        client = _client_by_key(session, identity, key)
        if client is None:
            return error_json("没有这个客户。", 404)
        if access.may_see_full_phone(identity, client):
            return response.json({"client_id": client.id, "phone": client.phone})
        phone = access.record_phone_reveal(session, identity, client)
        if phone is None:
            return error_json("只有主管可以查看其他坐席客户的号码。", 403)
        return response.json({"client_id": client.id, "phone": phone, "audited": True})

    return await in_session(work)


def phone_reveals(session: Session, limit: int = 200) -> list[dict[str, Any]]:
    rows = session.scalars(select(PhoneReveal).order_by(PhoneReveal.revealed_at.desc(), PhoneReveal.id.desc())
                           .limit(limit)).unique()
    return [{"user": r.user.login, "user_name": r.user.name, "client_id": r.client_id, "client": r.client.name,
             "kind": r.kind, "revealed_at": r.revealed_at.isoformat(timespec="seconds")} for r in rows]


@api.get("/audit/phone-reveals")
@require_identity
async def list_phone_reveals(request: Request, identity: Identity):
    """Who pressed "show number" for which client, and when (supervisors only)."""
    if not access.may_list_phone_reveals(identity):
        return error_json("只有主管可以查看号码查看记录。", 403)
    return response.json(await in_session(phone_reveals))


async def list_reply(fn, *args) -> response.HTTPResponse:
    """``fn(session, *args)``'s response; a bad filter or page parameter (ValueError) is a 400."""
    try:
        return await in_session(fn, *args)
    except ValueError as error:
        return error_json(str(error), 400)


@api.get("/calls")
@require_identity
@real_crm_only
async def list_calls(request: Request, identity: Identity):
    """Logged calls, newest first: one page (``offset``, ``limit``), the total in X-Total-Count."""
    args = _args(request)

    def work(session: Session):
        return page_json(session, identity, matching_call_ids(session, identity, args), args, calls_json)

    return await list_reply(work)


@api.get("/conversations")
@require_identity
@real_crm_only
async def list_conversations(request: Request, identity: Identity):
    """The review list: every conversation about a client (logged or not), one entry per client,
    paged like ``/api/calls``."""
    args = _args(request)
    lookups = await asyncio.to_thread(client_lookups)

    def work(session: Session):
        return page_json(session, identity, query_conversations(session, identity, args, lookups), args)

    return await list_reply(work)


CSV_FIELDS = ["started_at", "agent", "client", "outcome", "objections", "opening_style", "products",
              "amount", "notes", "conversation_id"]


def csv_rows(session: Session, identity: Identity, call_ids: list[int]) -> str:
    """CSV lines for these calls, as ``identity`` may read them (bot.masking)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore")
    for call in masking.for_reader(session, identity, calls_json(session, call_ids)):
        row = {**call, "objections": " ".join(call["objections"]), "products": " ".join(call["products"])}
        writer.writerow({key: spreadsheet_safe(value) for key, value in row.items()})
    return buffer.getvalue()


@api.get("/calls.csv")
@require_identity
@real_crm_only
async def export_calls(request: Request, identity: Identity):
    """Every logged call the user may see (no cap), streamed a batch at a time."""
    args = _args(request)
    try:
        call_ids = await in_session(matching_call_ids, identity, args)
    except ValueError as error:
        return error_json(str(error), 400)
    reply = await request.respond(content_type="text/csv; charset=utf-8",
                                  headers={"Content-Disposition": 'attachment; filename="calls.csv"'})
    header = io.StringIO()
    csv.DictWriter(header, fieldnames=CSV_FIELDS).writeheader()
    # BOM so that Excel opens the Chinese text correctly.
    await reply.send("\ufeff" + header.getvalue())
    for batch in batched(call_ids):
        await reply.send(await in_session(csv_rows, identity, batch))
    await reply.eof()


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """Free text that a spreadsheet would run as a formula (=HYPERLINK(...)) gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


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
        raise ValueError("due 只能是 today、overdue 或 all。")
    rows = session.scalars(stmt.order_by(FollowUp.due_at)).unique()
    return masking.for_reader(session, identity, [{
        "id": f.id, "client": f.client.name, "client_id": f.client_id, "agent": f.agent.login,
        "phone": access.phone_for(identity, f.client), "due_at": f.due_at.isoformat(timespec="minutes"),
        "reason": f.reason, "status": f.status, "overdue": crm.is_overdue(f, now), "conversation_id": f.conversation_id,
    } for f in rows])


@api.get("/followups")
@require_identity
@real_crm_only
async def list_followups(request: Request, identity: Identity):
    try:
        rows = await in_session(query_followups, identity, request.args.get("due", "all"))
    except ValueError as error:
        return error_json(str(error), 400)
    return response.json(rows)


@api.get("/conversations/<conversation_id:path>")
@conversation_route
@require_identity
async def get_conversation(request: Request, conversation_id: str, identity: Identity):
    def work(session: Session):
        allowed = access.may_read_conversation(session, identity, conversation_id)
        return allowed, [call_json(c) for c in conversation_calls(session, conversation_id)] if allowed else []

    allowed, calls = await in_session(work)
    if not allowed:
        return error_json("这是其他坐席的会话，您无权查看。", 403)
    turns = await asyncio.to_thread(transcript, conversation_id)
    if not turns and not calls:
        return error_json("没有这个会话。", 404)
    # Stored text (notes, turns, the bot's cards) shows numbers as this reader may see them.
    shown = await in_session(masking.for_reader, identity, {"calls": calls, "turns": turns})
    # "call": the first call row (contract); "calls": every client's call row of the conversation.
    return response.json({"conversation_id": conversation_id, "call": shown["calls"][0] if calls else None,
                          **shown})


def conversation_calls(session: Session, conversation_id: str) -> list[Call]:
    """Every call row of a conversation (one per client since migration 0004), in call order."""
    return list(session.scalars(select(Call).where(Call.conversation_id == conversation_id)
                                .order_by(Call.started_at, Call.id)).unique())


def product_names(session: Session) -> dict[str, str]:
    return {p.code: p.name for p in crm.catalogue(session)}


OTHER_SEGMENT = ("other", "其他客户")


def opening_titles() -> dict[str, str]:
    from bot.playbook import playbook

    try:
        return {key: technique.name for key, technique in playbook().openings.items()}
    except Exception:  # noqa: BLE001 - labels only; the codes are shown instead
        return {}


def client_segments(client: Client) -> list[tuple[str, str]]:
    """(code, label) of each segment the client belongs to; ``OTHER_SEGMENT`` when none."""
    from bot.profile import Profile

    profile = Profile.from_row(client)
    return list(zip(profile.segments, profile.segment_labels, strict=True)) or [OTHER_SEGMENT]


def conversion_rows(calls: list[Call], key_of, titles: dict[str, str]) -> list[dict[str, Any]]:
    """Per key: logged calls, calls that reached the customer, deals, interested, and the deal
    rate among reached calls (None when none was reached); most calls first."""
    rows: dict[str, dict[str, Any]] = {}
    for call in calls:
        for key in key_of(call):
            row = rows.setdefault(key, {"key": key, "label": titles.get(key, key), "calls": 0, "reached": 0,
                                        "deals": 0, "interested": 0})
            row["calls"] += 1
            row["reached"] += call.disposition in REACHED
            row["deals"] += call.disposition == "deal"
            row["interested"] += call.disposition == "interested"
    for row in rows.values():
        row["rate"] = round(row["deals"] / row["reached"], 3) if row["reached"] else None
    return sorted(rows.values(), key=lambda r: (-r["calls"], r["key"]))


def conversion_data(calls: list[Call]) -> dict[str, list[dict[str, Any]]]:
    """Conversion by opening style (calls that used one) and by client segment (a client in two
    segments counts in both)."""
    logged = [c for c in calls if c.disposition]
    segments: dict[int, list[tuple[str, str]]] = {}
    for call in logged:
        if call.client is not None and call.client_id not in segments:
            segments[call.client_id] = client_segments(call.client)
    segment_titles = {code: label for found in segments.values() for code, label in found}
    segment_titles.setdefault(*OTHER_SEGMENT)
    return {
        "by_opening": conversion_rows([c for c in logged if c.opening_style], lambda c: [c.opening_style],
                                      opening_titles()),
        "by_segment": conversion_rows(
            logged, lambda c: [code for code, _label in segments.get(c.client_id, [OTHER_SEGMENT])],
            segment_titles),
    }


def dashboard_data(session: Session, identity: Identity, lookups: list[ClientLookup] | None = None) -> dict[str, Any]:
    """Disposition counts per agent, conversations without a logged outcome per agent, the client
    funnel by stage, objection frequency."""
    owner = access.scope_user_id(session, identity)
    calls = select(Call)
    clients = select(Client.stage, func.count()).group_by(Client.stage)
    if owner is not None:
        calls = calls.where(Call.agent_id == owner)
        clients = clients.where(Client.agent_id == owner)
    per_agent: dict[str, dict[str, int]] = {}
    unlogged: dict[str, int] = {}
    objections: dict[str, int] = {}
    visible = list(session.scalars(calls).unique())
    for call in visible:
        agent = call.agent.name if call.agent else "未知"
        row = per_agent.setdefault(agent, {d: 0 for d in DISPOSITIONS})
        if call.disposition:
            row[call.disposition] += 1
        else:
            unlogged[agent] = unlogged.get(agent, 0) + 1
        for objection in call.objections or []:
            objections[objection] = objections.get(objection, 0) + 1
    for entry in unlogged_lookups(session, identity, lookups):
        agent = entry["agent_name"] or entry["agent"] or "未知"
        unlogged[agent] = unlogged.get(agent, 0) + 1
    funnel = dict.fromkeys(STAGES, 0)
    funnel.update(dict(session.execute(clients).all()))
    return {
        "dispositions": per_agent,
        # Conversations about a client without a logged outcome, per agent (review: 未记录结果).
        "unlogged": dict(sorted(unlogged.items(), key=lambda kv: -kv[1])),
        "disposition_labels": DISPOSITION_LABELS,
        "funnel": [{"stage": s, "label": STAGE_LABELS[s], "count": funnel[s]} for s in STAGES],
        "objections": dict(sorted(objections.items(), key=lambda kv: -kv[1])),
        "conversion": conversion_data(visible),
    }


@api.get("/dashboard")
@require_identity
@real_crm_only
async def dashboard(request: Request, identity: Identity):
    lookups = await asyncio.to_thread(client_lookups)
    return response.json(await in_session(dashboard_data, identity, lookups))
