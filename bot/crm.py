"""CRM queries and writes. Every function takes the session of the caller's unit of work."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from bot import clock
from bot.db import batched
from bot.models import (
    FOLLOWUP_PROMISES,
    Call,
    Client,
    ConversationOwner,
    FollowUp,
    LookupRecord,
    MarketingContact,
    Product,
    User,
)
from bot.text import normalize


def clients_by_phone(session: Session, phone: str) -> list[Client]:
    """Clients with exactly this (normalised, 11-digit) number."""
    return list(session.scalars(select(Client).where(Client.phone == phone).order_by(Client.id)).unique())


def clients_by_phone_suffix(session: Session, digits: str, agent_id: int, limit: int = 10) -> list[Client]:
    """One agent's clients whose number ends in ``digits`` (尾号): never anyone else's, so a suffix
    cannot be used to learn another agent's client's number digit by digit."""
    return list(session.scalars(select(Client).where(
        Client.agent_id == agent_id, Client.phone.endswith(digits, autoescape=True),
    ).order_by(Client.id).limit(limit)).unique())


def clients_by_name(session: Session, name: str, limit: int = 10) -> list[Client]:
    """Clients by name: exact, else partial. Digits in a name are part of the name, never a phone."""
    name = normalize(name or "").strip()
    if not name:
        return []
    exact = session.scalars(select(Client).where(Client.name == name).order_by(Client.id)).unique().all()
    if exact:
        return list(exact)
    return list(session.scalars(
        select(Client).where(Client.name.contains(name, autoescape=True)).order_by(Client.id).limit(limit)
    ).unique())


def get_client(session: Session, client_id: int) -> Client | None:
    return session.get(Client, client_id)


def get_user(session: Session, login: str | None) -> User | None:
    if not login:
        return None
    return session.scalars(select(User).where(User.login == login)).first()


def catalogue(session: Session) -> list[Product]:
    return list(session.scalars(select(Product).where(Product.active.is_(True)).order_by(Product.id)))


def product_names(session: Session) -> dict[str, str]:
    """The active products' names by code."""
    return {p.code: p.name for p in catalogue(session)}


def product_named(session: Session, text: str | None) -> Product | None:
    """The active product a code, name or alias names (白金卡 -> 白金信用卡), or None."""
    wanted = normalize(str(text or "")).strip()
    if not wanted:
        return None
    products = catalogue(session)
    for product in products:
        if wanted in (product.code, normalize(product.name)):
            return product
    for product in products:
        if wanted in {normalize(str(alias)).strip() for alias in product.aliases or []}:
            return product
    return None


def last_call(session: Session, client_id: int, exclude_conversation: str | None = None) -> Call | None:
    stmt = select(Call).where(Call.client_id == client_id)
    if exclude_conversation:
        stmt = stmt.where(Call.conversation_id != exclude_conversation)
    return session.scalars(stmt.order_by(Call.started_at.desc()).limit(1)).first()


def call_summary(call: Call | None) -> dict[str, Any] | None:
    if call is None:
        return None
    return {
        "started_at": call.started_at.strftime("%Y-%m-%d %H:%M"),
        "outcome": call.disposition,
        "agent": call.agent.login if call.agent else None,
        "objections": list(call.objections or []),
    }


def called_today(call: Call | None, now: datetime) -> Call | None:
    """``call`` (the client's last, ``last_call``) if it started today."""
    if call and call.started_at >= datetime.combine(now.date(), time.min):
        return call
    return None


def history_calls(client_ids: list[int], since: datetime, exclude_conversation: str | None = None):
    """The statement for the call rows of ``client_ids`` started at or after ``since``, oldest first, as
    plain rows of the columns the contact policy reads (id, client_id, conversation_id, started_at,
    disposition, objections, products, opening_style); the conversation in progress is left out: a call
    never counts against itself. Rows, not ORM objects: read on most turns, and a call list reads hundreds."""
    stmt = select(Call.id, Call.client_id, Call.conversation_id, Call.started_at, Call.disposition, Call.objections,
                  Call.products, Call.opening_style).where(Call.client_id.in_(client_ids), Call.started_at >= since)
    if exclude_conversation:
        stmt = stmt.where(Call.conversation_id != exclude_conversation)
    return stmt.order_by(Call.started_at, Call.id)


def calls_since(session: Session, client_id: int, since: datetime, exclude_conversation: str | None = None) -> list:
    """The client's calls started at or after ``since`` (``history_calls``): the contact policy's history."""
    return list(session.execute(history_calls([client_id], since, exclude_conversation)))


def contacts_since(session: Session, client_id: int, since: datetime,
                   exclude_conversation: str | None = None) -> list[MarketingContact]:
    """The client's marketing contacts (an opening or a pitch given) at or after ``since``, oldest first;
    the conversation in progress left out."""
    stmt = select(MarketingContact).where(MarketingContact.client_id == client_id, MarketingContact.at >= since)
    if exclude_conversation:
        stmt = stmt.where(MarketingContact.conversation_id != exclude_conversation)
    return list(session.scalars(stmt.order_by(MarketingContact.at, MarketingContact.id)))


def note_contact(session: Session, *, conversation_id: str, client_id: int, agent_id: int, at: datetime,
                 opening_style: str | None) -> bool:
    """Keep that this conversation gave the client an opening or a pitch (once: the first one's time
    and style). Returns whether it was new."""
    found = session.scalars(select(MarketingContact).where(MarketingContact.conversation_id == conversation_id,
                                                           MarketingContact.client_id == client_id)).first()
    if found is not None:
        return False
    session.add(MarketingContact(conversation_id=conversation_id, client_id=client_id, agent_id=agent_id, at=at,
                                 opening_style=opening_style))
    session.flush()
    return True


def call_for(session: Session, conversation_id: str, client_id: int) -> Call | None:
    """The call row of this client in this conversation (a conversation may cover several clients)."""
    return session.scalars(select(Call).where(Call.conversation_id == conversation_id,
                                              Call.client_id == client_id)).first()


def upsert_call(session: Session, conversation_id: str, client_id: int, **fields: Any) -> tuple[Call, bool]:
    """The client's call row in this conversation, created or updated; returns (call, created)."""
    call = call_for(session, conversation_id, client_id)
    created = call is None
    if created:
        call = Call(conversation_id=conversation_id, client_id=client_id)
        session.add(call)
    for key, value in fields.items():
        if value is not None:
            setattr(call, key, value)
    session.flush()
    return call, created


def count_deals(session: Session, client_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(Call).where(Call.client_id == client_id, Call.disposition == "deal")
    ) or 0


@dataclass(frozen=True)
class FollowUpCause:
    """Why a follow-up exists (bot.models.FollowUp's cause fields): the objection intent that led to
    it, the product discussed (code) and what the customer was promised (FOLLOWUP_PROMISES)."""

    objection: str | None = None
    product_code: str | None = None
    promise: str | None = None

    def __post_init__(self):
        if self.promise is not None and self.promise not in FOLLOWUP_PROMISES:
            raise ValueError(f"unknown follow-up promise {self.promise!r}")

    def apply(self, followup: FollowUp) -> None:
        followup.objection, followup.product_code, followup.promise = self.objection, self.product_code, self.promise


@dataclass(frozen=True)
class Booking:
    """What booking a callback did: the client's one open follow-up, and where it was before
    if an open one was moved instead of adding a second (``moved_from``: its old due time)."""

    followup: FollowUp
    moved_from: datetime | None = None
    answered: int = 0  # earlier callbacks this call was the answer to, now done

    @property
    def moved(self) -> bool:
        return self.moved_from is not None


def open_followups(session: Session, client_id: int) -> list[FollowUp]:
    """The client's open follow-ups, earliest first (at most one once booked through
    ``add_followup``; older data may hold more)."""
    return list(session.scalars(select(FollowUp).where(
        FollowUp.client_id == client_id, FollowUp.status == "open").order_by(FollowUp.due_at)).unique())


def add_followup(session: Session, *, client_id: int, agent_id: int, due_at: datetime, reason: str,
                 conversation_id: str | None = None, now: datetime | None = None,
                 cause: FollowUpCause | None = None) -> Booking:
    """Book a callback; a client has at most one open follow-up.

    ``reason`` is the note people read; ``cause`` is why the follow-up exists, as data (the objection,
    the product, the promise): the next call's opening reads the cause, never the note.

    With ``now`` and a conversation, the callbacks booked in earlier calls and due by the end of
    today are done first: this call is the one they were booked for, so a booking here is a new
    callback. Any follow-up still open (this call's own booking, or one booked earlier for a later
    day, whichever agent booked it) is moved to the new time and belongs to this call and agent
    from then on: a busy client relayed five times is one callback, not five."""
    answered = 0
    if conversation_id and now is not None:
        for callback in pending_callbacks(session, client_id, now, conversation_id):
            callback.close("done", now)
            answered += 1
    still_open = open_followups(session, client_id)
    if still_open:
        followup, extra = still_open[0], still_open[1:]
        for duplicate in extra:  # rows from before the one-open rule: fold them into this one
            duplicate.close("done", now or clock.now())
        # Booked again for the same time (the same objection relayed twice): nothing moved.
        moved_from = followup.due_at if followup.due_at != due_at else None
        followup.due_at, followup.reason, followup.agent_id = due_at, reason, agent_id
        followup.conversation_id = conversation_id
        (cause or FollowUpCause()).apply(followup)
        session.flush()
        return Booking(followup, moved_from, answered)
    followup = FollowUp(client_id=client_id, agent_id=agent_id, due_at=due_at, reason=reason,
                        conversation_id=conversation_id)
    (cause or FollowUpCause()).apply(followup)
    session.add(followup)
    session.flush()
    return Booking(followup, None, answered)


def close_followups_after_call(session: Session, client_id: int, now: datetime, conversation_id: str, *,
                               keep_this_calls_booking: bool) -> int:
    """An outcome was logged for a client who was reached: the callbacks this call answered
    (due by the end of today, booked in earlier calls) are done; this call's own booking is
    done too unless ``keep_this_calls_booking``. Callbacks agreed for a later day stay open:
    this call was not the one they were booked for. Returns how many were closed."""
    closed = 0
    for followup in pending_callbacks(session, client_id, now, conversation_id):
        followup.close("done", now)
        closed += 1
    if not keep_this_calls_booking:
        for followup in open_followups(session, client_id):
            if followup.conversation_id == conversation_id:
                followup.close("done", now)
                closed += 1
    return closed


def is_overdue(followup: FollowUp, now: datetime) -> bool:
    """Still to do and its time has passed (done and cancelled ones are never overdue)."""
    return followup.status == "open" and followup.due_at < now


def pending_callbacks(session: Session, client_id: int, now: datetime, conversation_id: str) -> list[FollowUp]:
    """The client's open callbacks due by the end of today (overdue ones too), latest first,
    that an earlier call booked: this call is the one they were booked for."""
    until = datetime.combine(now.date(), time.max)
    return list(session.scalars(select(FollowUp).where(
        FollowUp.client_id == client_id, FollowUp.status == "open", FollowUp.due_at <= until,
        (FollowUp.conversation_id != conversation_id) | FollowUp.conversation_id.is_(None),
    ).order_by(FollowUp.due_at.desc())).unique())


def hand_over_followups(session: Session, client_ids: list[int], agent_id: int) -> int:
    """Clients given to another agent (an assignment, an import) bring their open follow-ups; bulk
    statements, since a filter or a sheet may name tens of thousands. Returns how many moved."""
    moved = 0
    for ids in batched(client_ids):
        moved += session.execute(update(FollowUp).where(FollowUp.client_id.in_(ids), FollowUp.status == "open")
                                 .values(agent_id=agent_id).execution_options(synchronize_session=False)).rowcount
    return moved


def mark_do_not_call(session: Session, client: Client, now: datetime, source: str | None = None) -> int:
    """The one place a client becomes 勿扰 (a call's outcome, the bank's opt-out register): the flag, where
    it came from (kept if already known), and every open follow-up cancelled; returns how many were open."""
    client.do_not_call = True
    if source is not None:
        client.dnc_source = source
    return cancel_followups(session, client.id, now)


def cancel_followups(session: Session, client_id: int, now: datetime) -> int:
    """Cancel every open follow-up of a client (勿扰); returns how many were open."""
    open_ones = list(session.scalars(select(FollowUp).where(FollowUp.client_id == client_id,
                                                            FollowUp.status == "open")))
    for followup in open_ones:
        followup.close("cancelled", now)
    return len(open_ones)


def due_followups(session: Session, *, agent_id: int | None, until: datetime,
                  since: datetime | None = None) -> list[FollowUp]:
    """Open follow-ups due up to ``until`` (all agents when ``agent_id`` is None)."""
    stmt = select(FollowUp).where(FollowUp.status == "open", FollowUp.due_at <= until)
    if agent_id is not None:
        stmt = stmt.where(FollowUp.agent_id == agent_id)
    if since is not None:
        stmt = stmt.where(FollowUp.due_at >= since)
    return list(session.scalars(stmt.order_by(FollowUp.due_at)).unique())



# --- conversations: their call rows and owners -------------------------------------------------

def note_lookup(session: Session, *, conversation_id: str, client_id: int, agent_id: int | None,
                at: datetime) -> None:
    """The client was pulled up in this conversation: kept once, with the first time."""
    found = session.scalar(select(LookupRecord.id).where(LookupRecord.conversation_id == conversation_id,
                                                         LookupRecord.client_id == client_id))
    if found is None:
        logged = call_for(session, conversation_id, client_id)
        session.add(LookupRecord(conversation_id=conversation_id, client_id=client_id, agent_id=agent_id,
                                 first_at=at, call_id=logged.id if logged else None))


def settle_lookup(session: Session, call: Call) -> None:
    """The call row now exists for the lookup of its client in its conversation: no longer 未记录结果."""
    session.execute(update(LookupRecord).where(
        LookupRecord.conversation_id == call.conversation_id, LookupRecord.client_id == call.client_id,
        LookupRecord.call_id.is_(None)).values(call_id=call.id).execution_options(synchronize_session=False))


def lookup_rows(db: Session | Connection, lookups: Iterable[Any]
                ) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Rows for ``client_lookups`` of the lookups found in the tracker store's history
    (``bot.transcripts.client_lookups``) that the CRM has none for: conversations from before lookups
    were kept in the CRM. Each is attributed to its conversation's owner (``conversation_owners``),
    else to whom its first message was attributed. ``db``: a session or a plain connection (a migration).
    Also returns the conversations that had no owner, with the user they were attributed to."""
    pending = [lookup for lookup in lookups if lookup.first_at is not None]
    known: set[tuple[str, int]] = set()
    for batch in batched({lookup.conversation_id for lookup in pending}):
        known.update(tuple(row) for row in db.execute(
            select(LookupRecord.conversation_id, LookupRecord.client_id)
            .where(LookupRecord.conversation_id.in_(batch))).all())
    pending = [lookup for lookup in pending if (lookup.conversation_id, lookup.client_id) not in known]
    if not pending:
        return [], {}
    owners = conversation_owners(db, {lookup.conversation_id for lookup in pending})
    users = {login: user_id for login, user_id in db.execute(select(User.login, User.id)).all()}
    clients: set[int] = set()
    for batch in batched({lookup.client_id for lookup in pending}):
        clients.update(row[0] for row in db.execute(select(Client.id).where(Client.id.in_(batch))).all())
    calls: dict[tuple[str, int], int] = {}
    for batch in batched({lookup.conversation_id for lookup in pending}):
        calls.update(((conversation, client), call_id) for call_id, conversation, client in db.execute(
            select(Call.id, Call.conversation_id, Call.client_id).where(Call.conversation_id.in_(batch))).all())
    rows = []
    for lookup in pending:
        key = (lookup.conversation_id, lookup.client_id)
        if lookup.client_id not in clients or key in known:
            continue
        known.add(key)
        owner = owners.get(lookup.conversation_id) or lookup.login
        rows.append({"conversation_id": lookup.conversation_id, "client_id": lookup.client_id,
                     "agent_id": users.get(owner or ""), "first_at": lookup.first_at, "call_id": calls.get(key)})
    unowned = {row["conversation_id"]: row["agent_id"] for row in rows
               if row["conversation_id"] not in owners and row["agent_id"] is not None}
    return rows, unowned


def record_lookups(db: Session | Connection, lookups: Iterable[Any]) -> int:
    """Keep the tracker store's lookups the CRM has no row for (``lookup_rows``); the rows added. A
    conversation without an owner row goes to whom its first message was attributed, as
    bot.access.claim_conversation would bind it: the list and the transcript page then agree."""
    rows, unowned = lookup_rows(db, lookups)
    if not rows:
        return 0
    if unowned:
        db.execute(ConversationOwner.__table__.insert(),
                   [{"conversation_id": c, "user_id": u, "created_at": clock.now()} for c, u in unowned.items()])
    db.execute(LookupRecord.__table__.insert(), rows)
    return len(rows)


def conversation_calls(session: Session, conversation_id: str) -> list[Call]:
    """Every call row of a conversation (one per client since migration 0004), in call order."""
    return list(session.scalars(select(Call).where(Call.conversation_id == conversation_id)
                                .order_by(Call.started_at, Call.id)).unique())


def logged_clients(session: Session, conversation_ids: Iterable[str]) -> set[tuple[str, int]]:
    """(conversation, client) of every call row of these conversations (bounded ``IN`` batches)."""
    logged: set[tuple[str, int]] = set()
    for batch in batched(set(conversation_ids)):
        logged.update(session.execute(select(Call.conversation_id, Call.client_id)
                                      .where(Call.conversation_id.in_(batch))).all())
    return logged


def conversation_owners(session: Session | Connection, conversation_ids: Iterable[str]) -> dict[str, str]:
    """The login that owns each of these conversations that has one (bounded ``IN`` batches): its
    owner row, else the agent of its first call row."""
    wanted = set(conversation_ids)
    owners: dict[str, str] = {}
    for batch in batched(wanted):
        owners.update(session.execute(
            select(ConversationOwner.conversation_id, User.login).join(User, ConversationOwner.user_id == User.id)
            .where(ConversationOwner.conversation_id.in_(batch))).all())
    for batch in batched(wanted - owners.keys()):
        for conversation_id, login in session.execute(
                select(Call.conversation_id, User.login).join(User, Call.agent_id == User.id)
                .where(Call.conversation_id.in_(batch)).order_by(Call.id)):
            owners.setdefault(conversation_id, login)
    return owners


def owned_by(conversation_id: ColumnElement, user_id: int) -> ColumnElement:
    """A filter: ``conversation_id`` (a column) is of a conversation the user owns: by its owner
    row, or, without one, by a call row of theirs."""
    owned = select(ConversationOwner.conversation_id).where(ConversationOwner.user_id == user_id)
    called = select(Call.conversation_id).where(
        Call.agent_id == user_id, Call.conversation_id.not_in(select(ConversationOwner.conversation_id)))
    return conversation_id.in_(owned) | conversation_id.in_(called)


def call_client_names(session: Session, conversation_ids: Iterable[str]) -> dict[str, str]:
    """The name of a client called in each of these conversations (the first call row's)."""
    return {c.conversation_id: c.client.name for c in session.scalars(
        select(Call).where(Call.conversation_id.in_(set(conversation_ids))).order_by(Call.id.desc())).unique()
        if c.client}
