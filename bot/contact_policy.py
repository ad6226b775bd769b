"""The contact policy: may a marketing call be made to this client now, and if not, why and when.

The rules (defaults in bot/settings.py ``contact_limits``, documented in docs/compliance.md):

- calling hours, local time, start included and end excluded (09:00-21:00: 08:59 and 21:00 are out);
- at most N marketing calls per client per calendar day and per rolling 7 days (0: no limit);
- after a refusal, no new pitch of the same product for N days (another product may be offered).

A marketing call is a conversation in which the bot gave an opening or a pitch for the client (kept
as a marketing contact the moment it was given, bot.crm.note_contact, or seen on a logged call row),
whether or not an outcome was logged. Not counted: the conversation in progress (it never counts against itself),
a callback the customer agreed to (its call-back opening), and calls that never reached the
customer (no answer, wrong number). An agreed callback due now may be made whatever the counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy.orm import Session

from bot import clock, crm
from bot.models import Call, Client, MarketingContact
from bot.outcomes import NOT_REACHED
from bot.playbook import playbook
from bot.settings import ContactLimits, contact_limits
from bot.timeparse import describe

CALLBACK_STYLE = "callback"  # the opening of a callback the customer agreed to (not a marketing call)
WEEK = timedelta(days=7)  # the weekly limit's window: rolling, so a Sunday and a Monday are one week
# An agreed callback may be made from this long before its time (the agent dials a little early).
CALLBACK_EARLY = timedelta(minutes=15)
# Objections after which the products of the call cool off (besides the disposition 拒绝).
REFUSAL_OBJECTIONS = frozenset({"objection_not_interested"})
REFUSED = "refused"
# The slot an agent picks when proposing another callback time (quarter hours, as elsewhere).
SLOT = timedelta(minutes=15)


@dataclass(frozen=True)
class CoolingOff:
    """A product the client refused: no new pitch of it until ``until``."""

    product: str  # code
    refused_at: datetime
    until: datetime


@dataclass(frozen=True)
class ContactDecision:
    """Whether a marketing call may be made now; if not, why (Chinese) and the next allowed moment."""

    allowed: bool
    rules: tuple[str, ...] = ()  # the rules broken now: "hours", "per_day", "per_week"
    reason: str | None = None
    next_allowed: datetime | None = None
    agreed_callback: datetime | None = None  # an agreed callback later today (allowed then)
    cooling_off: tuple[CoolingOff, ...] = ()

    def cooling(self, product: str | None) -> CoolingOff | None:
        return next((c for c in self.cooling_off if c.product == product), None)


def hours_label(limits: ContactLimits) -> str:
    start, end = limits.calling_hours
    return f"{start:%H:%M}-{'24:00' if end == time.max else f'{end:%H:%M}'}"


def in_calling_hours(when: datetime, limits: ContactLimits | None = None) -> bool:
    start, end = (limits or contact_limits()).calling_hours
    return start <= when.time() < end


def next_calling_moment(when: datetime, limits: ContactLimits | None = None) -> datetime:
    """``when`` if it is inside the calling hours, else the next start of them."""
    limits = limits or contact_limits()
    if in_calling_hours(when, limits):
        return when
    start = limits.calling_hours[0]
    day = when.date() if when.time() < start else when.date() + timedelta(days=1)
    return datetime.combine(day, start)


def nearest_calling_times(when: datetime, now: datetime, limits: ContactLimits | None = None) -> list[datetime]:
    """For a callback asked for outside the calling hours: the allowed quarter-hour slots just before
    and just after ``when`` (later than ``now``), nearest first."""
    limits = limits or contact_limits()
    start, end = limits.calling_hours
    after = next_calling_moment(when, limits)
    # The last slot that starts before the end of the hours, on the day before ``when`` if it is early.
    day = when.date() if when.time() >= end else when.date() - timedelta(days=1)
    closing = datetime.combine(day, time.min) + timedelta(days=1) if end == time.max else datetime.combine(day, end)
    before = closing - SLOT
    if not in_calling_hours(before, limits):
        before = datetime.combine(day, start)
    found = [t for t in (before, after) if t > now and in_calling_hours(t, limits)]
    return sorted(found, key=lambda t: (abs(t - when), t))


def marketing_calls(calls: Iterable[Call]) -> list[Call]:
    """The calls that count against the limits (see the module's docstring)."""
    return [c for c in calls if (c.opening_style or c.products) and c.opening_style != CALLBACK_STYLE
            and c.disposition not in NOT_REACHED]


def marketing_starts(calls: Iterable[Call], contacts: Iterable[MarketingContact]) -> list[datetime]:
    """When each marketing call started, one per conversation, from the call rows and the contacts
    kept when the bot gave an opening or a pitch (a logged 无人接听/空号 or a call-back opening wins)."""
    rows = {c.conversation_id: c for c in calls}
    starts = {c.conversation_id: c.started_at for c in marketing_calls(rows.values())}
    for contact in contacts:
        row = rows.get(contact.conversation_id)
        if contact.opening_style == CALLBACK_STYLE or (
                row is not None and (row.disposition in NOT_REACHED or row.opening_style == CALLBACK_STYLE)):
            continue
        starts[contact.conversation_id] = min(contact.at, starts.get(contact.conversation_id, contact.at))
    return sorted(starts.values())


def is_refusal(call: Call) -> bool:
    return call.disposition == REFUSED or bool(REFUSAL_OBJECTIONS & set(call.objections or ()))


def cooling_off(calls: Iterable[Call], now: datetime, limits: ContactLimits) -> tuple[CoolingOff, ...]:
    """The products the client refused in the cooling-off period, each with its latest refusal."""
    if not limits.cooling_off_days:
        return ()
    period = timedelta(days=limits.cooling_off_days)
    latest: dict[str, datetime] = {}
    for call in calls:
        if is_refusal(call) and call.started_at + period > now:
            for product in call.products or ():
                latest[product] = max(latest.get(product, call.started_at), call.started_at)
    return tuple(CoolingOff(code, at, at + period) for code, at in sorted(latest.items(), key=lambda kv: kv[1]))


def _history(session: Session, client_id: int, now: datetime, conversation_id: str | None,
             limits: ContactLimits) -> list[Call]:
    since = now - max(WEEK, timedelta(days=limits.cooling_off_days))
    return crm.calls_since(session, client_id, since, conversation_id)


def cooling_off_for(session: Session, client_id: int, now: datetime, conversation_id: str | None = None,
                    limits: ContactLimits | None = None) -> tuple[CoolingOff, ...]:
    """The client's products in their cooling-off period now (the conversation in progress excluded)."""
    limits = limits or contact_limits()
    if not limits.cooling_off_days:
        return ()
    since = now - timedelta(days=limits.cooling_off_days)
    return cooling_off(crm.calls_since(session, client_id, since, conversation_id), now, limits)


def _ceil_minute(when: datetime) -> datetime:
    floor = when.replace(second=0, microsecond=0)
    return floor if floor == when else floor + timedelta(minutes=1)


def _broken(at: datetime, starts: list[datetime], limits: ContactLimits) -> list[tuple[str, int, int]]:
    """The count rules broken at ``at``: (rule, calls counted, limit)."""
    broken = []
    today = sum(1 for s in starts if s.date() == at.date())
    if limits.max_calls_per_day and today >= limits.max_calls_per_day:
        broken.append(("per_day", today, limits.max_calls_per_day))
    week = sum(1 for s in starts if s > at - WEEK)
    if limits.max_calls_per_week and week >= limits.max_calls_per_week:
        broken.append(("per_week", week, limits.max_calls_per_week))
    return broken


def next_allowed(now: datetime, starts: list[datetime], limits: ContactLimits) -> datetime:
    """The first moment from ``now`` inside the calling hours at which no count limit is reached
    (the calls in ``starts`` are all in the past, so later moments only drop calls)."""
    at = now
    for _ in range(64):  # each step drops a day or a call: bounded
        at = next_calling_moment(at, limits)
        broken = dict((rule, count) for rule, count, _limit in _broken(at, starts, limits))
        if "per_day" in broken:
            at = datetime.combine(at.date() + timedelta(days=1), time.min)
            continue
        if "per_week" in broken:
            window = sorted(s for s in starts if s > at - WEEK)
            at = window[len(window) - limits.max_calls_per_week] + WEEK
            continue
        return _ceil_minute(at)
    return _ceil_minute(at)


def decide(session: Session, client: Client, *, now: datetime | None = None, conversation_id: str | None = None,
           agreed_callback: datetime | None = None, limits: ContactLimits | None = None) -> ContactDecision:
    """May a marketing call be made to ``client`` now (``now``: bot.clock by default)?

    ``conversation_id``: the conversation in progress, never counted; ``agreed_callback``: the time
    of a callback the customer agreed to, due today (the counts do not stop it once it is due)."""
    limits = limits or contact_limits()
    now = now or clock.now()
    history = _history(session, client.id, now, conversation_id, limits)
    contacts = crm.contacts_since(session, client.id, now - WEEK, conversation_id)
    return judge(client.name, history, contacts, now=now, agreed_callback=agreed_callback, limits=limits)


def judge(name: str, history: list[Call], contacts: list[MarketingContact], *, now: datetime,
          agreed_callback: datetime | None = None, limits: ContactLimits | None = None) -> ContactDecision:
    """``decide`` over the client's rows already read (``name``: the client's, for the reason): the
    client's calls since the cooling-off period began (at least a week back) and their marketing
    contacts of the last week, each without the conversation in progress. Lets the call list judge
    many clients with a few queries (bot/book/call_list.py)."""
    limits = limits or contact_limits()
    cooling = cooling_off(history, now, limits)
    starts = marketing_starts(history, contacts)
    messages = playbook().messages
    callback_due = agreed_callback is not None and agreed_callback - CALLBACK_EARLY <= now
    broken = [] if callback_due else _broken(now, starts, limits)
    reasons = []
    rules = []
    if not in_calling_hours(now, limits):
        rules.append("hours")
        reasons.append(messages["contact_outside_hours"].format(now=f"{now:%H:%M}", hours=hours_label(limits)))
    for rule, count, limit in broken:
        rules.append(rule)
        key = "contact_day_limit" if rule == "per_day" else "contact_week_limit"
        reasons.append(messages[key].format(name=name, count=count, limit=limit))
    if not rules:
        return ContactDecision(True, cooling_off=cooling)
    when = next_allowed(now, [] if callback_due else starts, limits)
    later_callback = None
    if agreed_callback is not None and not callback_due and agreed_callback > now:
        later_callback = agreed_callback
        when = min(when, next_calling_moment(agreed_callback - CALLBACK_EARLY, limits))
    text = messages["contact_blocked"].format(name=name, reasons="；".join(reasons), next=describe(when, now))
    if later_callback is not None:
        text += messages["contact_blocked_agreed_callback"].format(time=describe(later_callback, now))
    return ContactDecision(False, tuple(rules), text, when, later_callback, cooling)


def cooling_off_text(cooling: CoolingOff, product_name: str) -> str:
    """The reason a product is not pitched (the pitch's note)."""
    return playbook().messages["cooling_off_refused"].format(
        date=_day(cooling.refused_at), product=product_name, until=_day(cooling.until))


def cooling_off_line(cooling: CoolingOff, product_name: str) -> str:
    return playbook().messages["cooling_off_line"].format(
        product=product_name, date=_day(cooling.refused_at), until=_day(cooling.until))


def _day(when: datetime) -> str:
    return f"{when.month}月{when.day}日"


def limits_summary(limits: ContactLimits | None = None) -> str:
    """The limits in force, for the client card when the client may be called."""
    limits = limits or contact_limits()
    messages = playbook().messages

    def count(value: int) -> str:
        return messages["contact_times"].format(count=value) if value else messages["contact_unlimited"]

    return messages["contact_card_ok"].format(hours=hours_label(limits), per_day=count(limits.max_calls_per_day),
                                              per_week=count(limits.max_calls_per_week))
