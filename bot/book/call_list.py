"""The agent's daily call list (工作台, issue 21, point 4): who to call now and why, in order.

For the agent's own clients, each client once, under the first kind that applies (KINDS order):
callbacks due now or overdue, then those due later today; maturing deposit and wealth holdings;
birthdays this week (clients who agreed to marketing); newly assigned clients never called; valuable
clients not called for DORMANT_DAYS. Each row has the reason and the opening the chat would give
(bot.guidance.opening, the same function). The contact policy (bot/contact_policy.py) decides who may
be called: do-not-call clients and clients over the contact limits are left out with the reason;
outside the calling hours the rows stay, marked not callable until the hours begin.

Before the rows: the agent's calls in which the bot gave an opening or a pitch but no outcome was
logged (``unfinished``); after them, today's progress (called, reached, deals).

A handful of queries for the whole list, whatever the number of clients; openings are chosen only
for the rows returned (``limit``), and clients alike in everything an opening looks at share one.
Core: no Rasa, no Sanic; the route is bot/web/api/call_list.py.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased, lazyload, selectinload

from bot import access, contact_policy, crm, guidance, labels
from bot.auth import Identity
from bot.contact_policy import CALLBACK_STYLE, ContactDecision
from bot.db import batched
from bot.guidance import CallState, Context, LastCall, ProductInfo, Profile
from bot.learning import store as learning
from bot.learning.store import Learnt
from bot.models import Call, Client, FollowUp, Holding, MarketingContact, Product, User
from bot.outcomes import REACHED
from bot.playbook import playbook
from bot.settings import ContactLimits, contact_limits, get_settings
from bot.timeparse import WEEKDAYS, describe

KINDS = ("callback", "maturity", "birthday", "new", "dormant")
# Holdings that mature: a deposit or a wealth product (Product.category).
MATURING_CATEGORIES = ("deposit", "wealth")
MATURITY_AHEAD = timedelta(days=30)  # a maturity this many days ahead is on the list ...
MATURITY_PAST = timedelta(days=7)  # ... and one this many days past (not yet renewed or moved)
DORMANT_DAYS = 90
# "Valuable": the two top tiers of bot/playbook/segments.yml (Profile.tier_code).
VALUABLE_TIERS = ("private", "high")
# An opening or pitch without an outcome this long ago is no longer pointed out.
UNFINISHED_DAYS = 7
DEFAULT_LIMIT = 100  # rows returned (a day's calls); the counts tell how many more there are
MAX_LIMIT = 500


@dataclass(frozen=True)
class CallItem:
    """One row of the list: whom to call, why, and how to open."""

    client: Client
    kind: str
    reason: str
    due_at: datetime | date | None = None
    overdue: bool = False
    agreed_callback: datetime | None = None  # a callback the customer agreed to (its time)
    decision: ContactDecision | None = None  # not callable now: outside the hours (or until an agreed time)
    opening_style: str | None = None
    opening_name: str | None = None

    @property
    def callable_now(self) -> bool:
        return self.decision is None or self.decision.allowed


@dataclass(frozen=True)
class LeftOut:
    """A client who would be on the list but may not be called: do-not-call or the contact limits."""

    client: Client
    kind: str  # the row it would have been
    reason: str
    rules: tuple[str, ...]  # "do_not_call", "per_day", "per_week" (and "hours" beside them)
    next_allowed: datetime | None = None


@dataclass(frozen=True)
class Unfinished:
    """A call of the agent in which the bot gave an opening or pitch, with no outcome logged since."""

    client: Client
    conversation_id: str
    at: datetime
    reason: str


@dataclass(frozen=True)
class Progress:
    """The agent's calls logged today."""

    called: int = 0
    reached: int = 0  # the customer answered (bot.outcomes.REACHED)
    deals: int = 0


@dataclass(frozen=True)
class CallingHours:
    open: bool
    hours: str
    opens_at: datetime | None = None  # when they begin, if closed now
    reason: str | None = None


@dataclass
class CallList:
    agent: User
    items: list[CallItem]
    left_out: list[LeftOut]
    unfinished: list[Unfinished]
    progress: Progress
    calling_hours: CallingHours
    counts: dict[str, int] = field(default_factory=dict)  # rows per kind, returned or not

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _texts() -> dict[str, str]:
    return playbook().messages.call_list_texts


def _day(when: date) -> str:
    return _texts()["date"].format(month=when.month, day=when.day)


def _wan(amount: float | None) -> str:
    texts = _texts()
    if amount is None:
        return texts["amount_unknown"]
    if amount >= 10000:
        return texts["amount_wan"].format(amount=f"{round(amount / 10000, 2):g}")
    return texts["amount_yuan"].format(amount=f"{amount:g}")


# --- the rules of each kind (pure: tested at their boundaries) ---------------------------------------

def week_of(today: date) -> tuple[date, date]:
    """Monday and Sunday of the week ``today`` is in."""
    monday = today - timedelta(days=today.weekday())
    return monday, monday + timedelta(days=6)


def birthday_in(born: date, year: int) -> date:
    """The birthday in ``year``; 29 February is kept on 28 February in other years."""
    try:
        return born.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def birthday_this_week(born: date | None, today: date) -> date | None:
    """The day of this week (Monday-Sunday) on which the birthday falls, or None."""
    if born is None:
        return None
    monday, sunday = week_of(today)
    for year in sorted({monday.year, sunday.year}):
        day = birthday_in(born, year)
        if monday <= day <= sunday:
            return day
    return None


def maturity_due(matures_at: date | None, today: date) -> bool:
    """Within the next MATURITY_AHEAD days, or past by at most MATURITY_PAST."""
    return matures_at is not None and today - MATURITY_PAST <= matures_at <= today + MATURITY_AHEAD


def dormant_since(last_call: datetime | None, today: date) -> bool:
    """Called before, but not for DORMANT_DAYS days or more."""
    return last_call is not None and (today - last_call.date()).days >= DORMANT_DAYS


def agreed_by_customer(followup: FollowUp) -> bool:
    """A callback the customer agreed to, by its cause (rows without one count as the agent's plan)."""
    return bool(followup.agreed_by_customer)


def callback_reason(followup: FollowUp, product_names: dict[str, str]) -> str:
    """Why the callback exists, from its cause fields; rows from before them keep their note."""
    texts, pb = _texts(), playbook()
    if followup.promise is None and not (followup.objection or followup.product_code):
        return followup.reason
    objection = pb.objections.get(followup.objection) if followup.objection else None
    product = product_names.get(followup.product_code, followup.product_code) if followup.product_code else None
    promise = texts.get(f"promise_{followup.promise}") or texts["promise_unknown"]
    cause = "，".join(part for part in (objection.name if objection else None, product) if part)
    return texts["callback"].format(promise=promise, cause=cause) if cause else promise


# --- reading the agent's book: a handful of queries ---------------------------------------------------

@dataclass(frozen=True)
class _Product:
    category: str
    name: str


@dataclass(frozen=True)
class _Holding:
    id: int
    matures_at: date | None
    amount: float | None
    product: _Product


@dataclass(frozen=True)
class _BookEntry:
    """What choosing a client's row reads of them (``_kind_of``, the tier, the contact policy): a book of
    thousands is read as plain rows, and only the clients listed are loaded whole (``_clients``)."""

    id: int
    name: str
    stage: str
    do_not_call: bool
    dnc_source: str | None
    birth_date: date | None
    marketing_consent: bool | None
    assigned_at: datetime | None
    assets: float | None
    card_spend_per_year: float | None
    deposits: float | None
    loan_balance: float | None
    last_at: datetime | None  # when the client was last called (whoever called), None if never
    holdings: tuple[_Holding, ...] = ()


_BOOK_COLUMNS = (Client.id, Client.name, Client.stage, Client.do_not_call, Client.dnc_source, Client.birth_date,
                 Client.marketing_consent, Client.assigned_at, Client.assets, Client.card_spend_per_year,
                 Client.deposits, Client.loan_balance)


def _own_clients(session: Session, agent: User, now: datetime) -> dict[int, _BookEntry]:
    """The agent's clients who may be on the list at ``now`` (``_kind_of`` decides), as ``_BookEntry``
    rows with when each was last called and the holdings that may mature (two queries).

    Clients called in the last DORMANT_DAYS with no follow-up due, no holding maturing and no
    birthday to mark cannot be on it and are not read (about half a book). The last call is a subquery
    per client, answered from the (client_id, started_at) index: grouping the book's calls made
    PostgreSQL scan every call of the team (118 against 47 ms for 4,000 clients among 500,000 calls)."""
    today = now.date()
    maturing_window = (Holding.matures_at >= today - MATURITY_PAST, Holding.matures_at <= today + MATURITY_AHEAD)
    holdings: dict[int, list[_Holding]] = defaultdict(list)
    for row in session.execute(
            select(Holding.client_id, Holding.id, Holding.matures_at, Holding.amount, Product.category, Product.name)
            .join(Product, Holding.product_id == Product.id)
            .where(Holding.client_id.in_(_own_ids(agent)), Product.category.in_(MATURING_CATEGORIES),
                   *maturing_window)):
        holdings[row.client_id].append(_Holding(row.id, row.matures_at, row.amount, _Product(row.category, row.name)))
    last_at = select(func.max(Call.started_at)).where(Call.client_id == Client.id).correlate(Client) \
        .scalar_subquery().label("last_at")
    book = select(*_BOOK_COLUMNS, last_at).where(Client.agent_id == agent.id).subquery()
    due = exists().where(FollowUp.client_id == book.c.id, FollowUp.agent_id == agent.id, FollowUp.status == "open",
                         FollowUp.due_at <= datetime.combine(today, time.max))
    maturing = exists().where(Holding.client_id == book.c.id, Holding.product_id == Product.id,
                              Product.category.in_(MATURING_CATEGORIES), *maturing_window)
    dormant_before = datetime.combine(today - timedelta(days=DORMANT_DAYS - 1), time.min)
    may_list = or_(book.c.last_at.is_(None), book.c.last_at < dormant_before, due, maturing,
                   and_(book.c.marketing_consent.is_(True), book.c.birth_date.is_not(None)))
    return {row.id: _BookEntry(*row, holdings=tuple(holdings.get(row.id, ())))
            for row in session.execute(select(book).where(may_list))}


def _clients(session: Session, client_ids: set[int]) -> dict[int, Client]:
    """The listed clients, whole (their holdings and products), in bounded batches."""
    found: dict[int, Client] = {}
    for batch in batched(sorted(client_ids)):
        stmt = select(Client).where(Client.id.in_(batch)).options(selectinload(Client.holdings))
        found.update((client.id, client) for client in session.scalars(stmt).unique())
    return found


def _own_ids(agent: User):
    return select(Client.id).where(Client.agent_id == agent.id)


def _due_followups(session: Session, agent: User, today: date) -> dict[int, FollowUp]:
    """The earliest open follow-up of this agent due by the end of today, per client of theirs."""
    stmt = select(FollowUp).where(
        FollowUp.agent_id == agent.id, FollowUp.status == "open",
        FollowUp.due_at <= datetime.combine(today, time.max), FollowUp.client_id.in_(_own_ids(agent)),
    ).order_by(FollowUp.due_at, FollowUp.id).options(lazyload("*"))  # client and agent: already loaded
    found: dict[int, FollowUp] = {}
    for followup in session.scalars(stmt).unique():
        found.setdefault(followup.client_id, followup)
    return found


def _full_last_calls(session: Session, client_ids: list[int]) -> dict[int, LastCall]:
    """client id -> their latest call row (the latest id among calls of one moment), as the opening reads it."""
    found: dict[int, tuple[tuple[datetime, int], LastCall]] = {}
    for batch in batched(client_ids):
        for row in session.execute(select(Call.id, Call.client_id, Call.started_at, Call.disposition, Call.objections,
                                          Call.products, Call.opening_style).where(Call.client_id.in_(batch))):
            key = (row.started_at, row.id)
            if row.client_id not in found or found[row.client_id][0] < key:
                found[row.client_id] = (key, LastCall(row.started_at, row.disposition, tuple(row.objections or ()),
                                                      tuple(row.products or ()), row.opening_style))
    return {client_id: last for client_id, (_key, last) in found.items()}


def _recent(session: Session, client_ids: list[int], now: datetime, limits: ContactLimits,
            exclude_conversation: str | None) -> tuple[dict[int, list[Any]], dict[int, list[MarketingContact]]]:
    """Per client of ``client_ids`` (those on the list), what the contact policy reads
    (contact_policy.judge): the calls since the cooling-off period began (a week at least, rows of the
    columns it reads, crm.history_calls) and the marketing contacts of the last week. Read for the listed clients only,
    through the (client_id, started_at) and (client_id, at) indexes: a month of the team's calls is not
    read to find a book's few hundred."""
    since = now - max(contact_policy.WEEK, timedelta(days=limits.cooling_off_days))
    history: dict[int, list[Any]] = defaultdict(list)
    recent: dict[int, list[MarketingContact]] = defaultdict(list)
    for batch in batched(sorted(client_ids)):
        # The columns the policy reads, as plain rows.
        contacts = select(MarketingContact).where(MarketingContact.client_id.in_(batch),
                                                  MarketingContact.at >= now - contact_policy.WEEK)
        if exclude_conversation:
            contacts = contacts.where(MarketingContact.conversation_id != exclude_conversation)
        for call in session.execute(crm.history_calls(batch, since, exclude_conversation)):
            history[call.client_id].append(call)
        for contact in session.scalars(contacts.order_by(MarketingContact.at, MarketingContact.id)):
            recent[contact.client_id].append(contact)
    return history, recent


def progress_today(session: Session, agent: User, today: date) -> Progress:
    """The agent's calls logged today: called, reached (bot.outcomes.REACHED), deals."""
    start = datetime.combine(today, time.min)
    rows = session.execute(select(Call.disposition, func.count()).where(
        Call.agent_id == agent.id, Call.disposition.is_not(None), Call.started_at >= start,
        Call.started_at < start + timedelta(days=1)).group_by(Call.disposition)).all()
    counts = dict(rows)
    return Progress(called=sum(counts.values()), reached=sum(n for d, n in counts.items() if d in REACHED),
                    deals=counts.get("deal", 0))


def _unfinished_contacts(session: Session, now: datetime, exclude_conversation: str | None, *,
                         agent: User | None = None, client_id: int | None = None,
                         limit: int | None = None) -> list[MarketingContact]:
    """Openings or pitches given in the last UNFINISHED_DAYS with no outcome logged for the client
    since (in that conversation or a later one), latest first: the agent's own clients', or one client's."""
    contact = aliased(MarketingContact)
    logged = exists().where(Call.client_id == contact.client_id, Call.disposition.is_not(None),
                            or_(Call.conversation_id == contact.conversation_id, Call.started_at >= contact.at))
    stmt = select(contact).join(Client, Client.id == contact.client_id).where(
        contact.at >= now - timedelta(days=UNFINISHED_DAYS), ~logged, Client.do_not_call.is_(False))
    if agent is not None:
        stmt = stmt.where(contact.agent_id == agent.id, Client.agent_id == agent.id)
    if client_id is not None:
        stmt = stmt.where(contact.client_id == client_id)
    if exclude_conversation:
        stmt = stmt.where(contact.conversation_id != exclude_conversation)
    return list(session.scalars(stmt.order_by(contact.at.desc(), contact.id.desc()).limit(limit)))


def unfinished_call(session: Session, client: Client, now: datetime,
                    exclude_conversation: str | None) -> str | None:
    """The note for a lookup (actions/lookup.py): the client's last call gave an opening or a pitch and
    no outcome was logged for it (nor since); None when there is nothing to point out."""
    found = _unfinished_contacts(session, now, exclude_conversation, client_id=client.id, limit=1)
    if not found:
        return None
    agent = session.get(User, found[0].agent_id)
    return _texts()["lookup_unfinished"].format(time=describe(found[0].at, now), agent=agent.name if agent else "",
                                                name=client.name)


# --- the list --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Candidate:
    kind: str
    order: tuple[Any, ...]
    reason: str
    due_at: datetime | date | None = None
    overdue: bool = False
    agreed_callback: datetime | None = None
    overdue_followup: datetime | None = None


def _kind_of(client: _BookEntry, now: datetime, followup: FollowUp | None, last_at: datetime | None,
             product_names: dict[str, str]) -> _Candidate | None:
    """The first kind that applies to the client (KINDS order), or None."""
    texts, today = _texts(), now.date()
    if followup is not None:
        agreed = followup.due_at if agreed_by_customer(followup) and followup.due_at.date() == today else None
        overdue = followup.due_at if followup.due_at.date() < today else None
        return _Candidate("callback", (followup.due_at,), callback_reason(followup, product_names), followup.due_at,
                          followup.due_at < now, agreed, overdue)
    maturing = sorted((h for h in client.holdings if h.product.category in MATURING_CATEGORIES
                       and maturity_due(h.matures_at, today)), key=lambda h: (h.matures_at, h.id))
    if maturing:
        holding = maturing[0]
        key = "maturity" if holding.matures_at >= today else "matured"
        return _Candidate("maturity", (holding.matures_at,), texts[key].format(
            product=holding.product.name, date=_day(holding.matures_at), amount=_wan(holding.amount)),
            holding.matures_at, holding.matures_at < today)
    birthday = birthday_this_week(client.birth_date, today) if client.marketing_consent else None
    if birthday is not None:
        reason = texts["birthday_today"] if birthday == today else texts["birthday"].format(
            date=_day(birthday), weekday=WEEKDAYS[birthday.weekday()])
        return _Candidate("birthday", (birthday,), reason, birthday)
    if last_at is None:
        assigned = client.assigned_at
        reason = texts["new_assigned"].format(date=_day(assigned)) if assigned else texts["new"]
        return _Candidate("new", (assigned is None, assigned or now, client.id), reason)
    if dormant_since(last_at, today):
        profile = Profile.contribution_of(client)
        if profile.tier_code in VALUABLE_TIERS:
            return _Candidate("dormant", (last_at, client.id), texts["dormant"].format(
                tier=profile.tier, days=(today - last_at.date()).days, date=_day(last_at)))
    return None


def _left_out_reason(client: _BookEntry) -> str:
    texts = _texts()
    if client.dnc_source:
        return texts["do_not_call_source"].format(name=client.name, source=client.dnc_source)
    return texts["do_not_call"].format(name=client.name)


def call_list(session: Session, agent: User, now: datetime, *, limit: int | None = DEFAULT_LIMIT,
              exclude_conversation: str | None = None, limits: ContactLimits | None = None) -> CallList:
    """The agent's call list at ``now`` (see the module's docstring). ``exclude_conversation``: the
    call in progress in the agent's widget, which never counts against itself; ``limit``: the most
    rows returned (None: all)."""
    limits = limits or contact_limits()
    today = now.date()
    clients = _own_clients(session, agent, now)
    followups = _due_followups(session, agent, today)
    product_names = dict(session.execute(select(Product.code, Product.name)).all())
    unfinished = _unfinished(_unfinished_contacts(session, now, exclude_conversation, agent=agent))
    waiting = set(unfinished)

    candidates: list[tuple[_BookEntry, _Candidate]] = []
    for client in clients.values():
        if client.id in waiting:
            continue  # the outcome comes first: the client is on the unfinished list
        found = _kind_of(client, now, followups.get(client.id), client.last_at, product_names)
        if found is not None:
            candidates.append((client, found))
    history, contacts = _recent(session, [client.id for client, _found in candidates if not client.do_not_call],
                                now, limits, exclude_conversation)
    rows: list[tuple[_BookEntry, _Candidate, ContactDecision]] = []
    left_out: list[tuple[tuple[Any, ...], _BookEntry, _Candidate, str, tuple[str, ...], datetime | None]] = []
    for client, found in candidates:
        order = (KINDS.index(found.kind), *found.order)
        if client.do_not_call:
            left_out.append((order, client, found, _left_out_reason(client), ("do_not_call",), None))
            continue
        decision = contact_policy.judge(client.name, history.get(client.id, []), contacts.get(client.id, []),
                                        now=now, agreed_callback=found.agreed_callback, limits=limits)
        if decision.allowed or set(decision.rules) <= {"hours"} or decision.agreed_callback is not None:
            rows.append((client, found, decision))
        else:
            left_out.append((order, client, found, decision.reason or "", decision.rules, decision.next_allowed))
    rows.sort(key=lambda row: (KINDS.index(row[1].kind), *row[1].order))
    left_out.sort(key=lambda entry: entry[0])
    counts = {kind: 0 for kind in KINDS}
    for _client, found, _decision in rows:
        counts[found.kind] += 1
    shown = rows if limit is None else rows[:limit]
    whole = _clients(session, {entry.id for entry, _found, _decision in shown} | {entry[1].id for entry in left_out}
                     | waiting)
    last_shown = _full_last_calls(session, [entry.id for entry, _found, _decision in shown if entry.last_at])
    listed = [(whole[entry.id], found, decision) for entry, found, decision in shown]
    items = _with_openings(session, agent, now, listed, last_shown)
    left = [LeftOut(whole[entry.id], found.kind, reason, rules, next_allowed)
            for _order, entry, found, reason, rules, next_allowed in left_out]
    waiting_calls = [Unfinished(whole[client_id], contact.conversation_id, contact.at,
                                _texts()["unfinished"].format(time=describe(contact.at, now)))
                     for client_id, contact in unfinished.items()]
    return CallList(agent, items, left, waiting_calls,
                    progress_today(session, agent, today), calling_hours(now, limits), counts)


def _unfinished(contacts: Iterable[MarketingContact]) -> dict[int, MarketingContact]:
    """The latest unfinished call per client (client id -> it), latest first: ``contacts`` are the
    agent's own clients' (``_unfinished_contacts`` with ``agent``)."""
    latest: dict[int, MarketingContact] = {}
    for contact in contacts:
        latest.setdefault(contact.client_id, contact)
    return latest


def calling_hours(now: datetime, limits: ContactLimits) -> CallingHours:
    hours = contact_policy.hours_label(limits)
    if contact_policy.in_calling_hours(now, limits):
        return CallingHours(True, hours)
    opens = contact_policy.next_calling_moment(now, limits)
    return CallingHours(False, hours, opens, _texts()["outside_hours"].format(
        now=f"{now:%H:%M}", hours=hours, next=describe(opens, now)))


# The opening chosen for a client, kept per process: the list is asked for again after every reply in
# the widget, and choosing (bot.guidance.opening) is the list's dearest part. The key is everything the
# choice reads (the client's profile without name and number, the last call, the products cooling off,
# an agreed callback, the active catalogue, the day): a changed client or a deactivated product is a new
# key at once, never a stale answer.
_OPENINGS: OrderedDict[tuple[Any, ...], str | None] = OrderedDict()
_OPENINGS_LOCK = threading.Lock()
OPENINGS_KEPT = 20_000


def _with_openings(session: Session, agent: User, now: datetime,
                   rows: list[tuple[Client, _Candidate, ContactDecision]],
                   last_calls: dict[int, LastCall]) -> list[CallItem]:
    """The rows with the opening the chat would give each client now (bot.guidance.opening)."""
    if not rows:
        return []
    settings = get_settings()
    catalogue = tuple(ProductInfo.from_row(p) for p in crm.catalogue(session))
    shared = (hash(catalogue), now.date())
    version, table = learning.opening_evidence(session, now)
    product_version, products = learning.product_evidence(session, now)
    team_controls = learning.controls(session)
    items = []
    for client, found, decision in rows:
        profile = Profile.from_row(client)
        last = last_calls.get(client.id)
        # The learner's best guess for the client's segment (no exploration: no call yet).
        learnt = Learnt(profile.main_segment, table, team_controls, explore=False, version=version, products=products)
        key = (*shared, replace(profile, id=0, name="", phone=""), last, decision.cooling_off,
               found.agreed_callback is not None, version, product_version, team_controls.get(profile.main_segment))
        with _OPENINGS_LOCK:
            known = key in _OPENINGS
            style = _OPENINGS.get(key)
        if not known:
            context = Context(bank=settings.bank_name, hotline=settings.bank_hotline, agent_name=agent.name, now=now,
                              profile=profile, catalogue=catalogue, pending_callback=found.agreed_callback,
                              overdue_followup=found.overdue_followup, last_call=last,
                              cooling_off=decision.cooling_off, learnt=learnt)
            style = guidance.opening(context, CallState()).opening_style
            with _OPENINGS_LOCK:
                _OPENINGS[key] = style
                while len(_OPENINGS) > OPENINGS_KEPT:
                    _OPENINGS.popitem(last=False)
        items.append(CallItem(client, found.kind, found.reason, found.due_at, found.overdue, found.agreed_callback,
                              decision, style, opening_name(style)))
    return items


def forget_openings() -> None:
    """Drop the kept openings (the benchmark times a cold list)."""
    with _OPENINGS_LOCK:
        _OPENINGS.clear()


def opening_name(style: str | None) -> str | None:
    """An opening style's Chinese name (the call-back opening's too)."""
    pb = playbook()
    if style == CALLBACK_STYLE:
        return pb.callback_opening.name
    technique = pb.openings.get(style) if style else None
    return technique.name if technique else None


# --- JSON, as the reader may see it ----------------------------------------------------------------

def _iso(value: datetime | date | None) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    return value.isoformat() if value is not None else None


def call_list_json(found: CallList, identity: Identity | None) -> dict[str, Any]:
    """The list for the API (the phone as ``identity`` may see it: bot.access); the route passes it
    through bot.masking like every exit."""
    kinds = labels.call_list_kinds()

    def who(client: Client) -> dict[str, Any]:
        return {"client": client.name, "client_id": client.id, "phone": access.phone_for(identity, client)}

    return {
        "agent": found.agent.login,
        "agent_name": found.agent.name,
        "items": [{
            **who(item.client), "kind": item.kind, "kind_label": kinds[item.kind], "reason": item.reason,
            "due_at": _iso(item.due_at), "overdue": item.overdue, "opening_style": item.opening_style,
            "opening_name": item.opening_name, "callable": item.callable_now,
            "not_before": None if item.callable_now else _iso(item.decision.next_allowed),
            "note": None if item.callable_now else item.decision.reason,
        } for item in found.items],
        "left_out": [{
            **who(entry.client), "kind": entry.kind, "kind_label": kinds[entry.kind], "reason": entry.reason,
            "rules": list(entry.rules), "next_allowed": _iso(entry.next_allowed),
        } for entry in found.left_out],
        "unfinished": [{
            **who(entry.client), "conversation_id": entry.conversation_id, "at": _iso(entry.at),
            "reason": entry.reason,
        } for entry in found.unfinished],
        "progress": {"called": found.progress.called, "reached": found.progress.reached,
                     "deals": found.progress.deals},
        "calling_hours": {"open": found.calling_hours.open, "hours": found.calling_hours.hours,
                          "opens_at": _iso(found.calling_hours.opens_at), "reason": found.calling_hours.reason},
        "counts": dict(found.counts),
        "total": found.total,
    }
