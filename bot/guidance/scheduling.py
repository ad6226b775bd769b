"""When a callback the customer agreed to is due: the objection's delay, within the calling hours."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.contact_policy import next_calling_moment
from bot.playbook import playbook
from bot.settings import ContactLimits, contact_limits

# The reason of a follow-up booked at a time the agent agreed with the customer (约他明天三点再打).
AGREED_TIME_REASON = "约回访"
# A callback the bot proposes keeps clear of the edges of the calling hours: not in the first half
# hour (the agent's own list comes first) nor in the last hour (time to talk). With 09:00-21:00 the
# proposed callbacks fall in 09:30-20:00.
AFTER_START = timedelta(minutes=30)
BEFORE_END = timedelta(hours=1)


def callback_due(intent: str, now: datetime) -> datetime:
    """When an objection answered with a callback (busy, think it over, ...) is called back."""
    return office_hours(now + playbook().callback_objections[intent])


def office_hours(when: datetime, limits: ContactLimits | None = None) -> datetime:
    """Round up to a quarter hour; a time outside the callback window (the calling hours less their
    edges, see above) moves to the next morning's first callback time (09:30 by default)."""
    limits = limits or contact_limits()
    when = when.replace(second=0, microsecond=0)
    if when.minute % 15:
        when += timedelta(minutes=15 - when.minute % 15)
    day_start = next_calling_moment(when.replace(hour=0, minute=0), limits)  # this day's opening
    first, last = day_start + AFTER_START, _closing(day_start, limits) - BEFORE_END
    if first >= last:  # hours too short for the margins: the calling hours themselves
        first, last = day_start, _closing(day_start, limits)
    if when < day_start:
        return first
    if when >= last:
        return first + timedelta(days=1)
    return when


def _closing(day_start: datetime, limits: ContactLimits) -> datetime:
    """The end of the calling hours on ``day_start``'s day."""
    end = limits.calling_hours[1]
    closing = day_start.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    return closing if closing > day_start else closing + timedelta(days=1)  # 24:00
