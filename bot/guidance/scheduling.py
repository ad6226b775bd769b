"""When a callback the customer agreed to is due: the objection's delay, within office hours."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.playbook import playbook

# The reason of a follow-up booked at a time the agent agreed with the customer (约他明天三点再打).
AGREED_TIME_REASON = "约回访"


def callback_due(intent: str, now: datetime) -> datetime:
    """When an objection answered with a callback (busy, think it over, ...) is called back."""
    return office_hours(now + playbook().callback_objections[intent])


def office_hours(when: datetime) -> datetime:
    """Round up to a quarter hour; move a callback outside 9:00-20:00 to the next morning at 9:30."""
    when = when.replace(second=0, microsecond=0)
    if when.minute % 15:
        when += timedelta(minutes=15 - when.minute % 15)
    if when.hour < 9:
        return when.replace(hour=9, minute=30)
    if when.hour >= 20:
        return (when + timedelta(days=1)).replace(hour=9, minute=30)
    return when
