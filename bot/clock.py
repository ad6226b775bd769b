"""The one clock of the product: naive local time in the configured timezone.

The CRM stores naive local times, and office-hour rules (callbacks, "today") depend on
the hour, so every part reads the time here; tests freeze it to run at any hour.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

from bot.settings import clock_offset_seconds, timezone

_source: Callable[[], datetime] | None = None
# A moment pinned for one context only (a task, or a thread started with its context): a write
# kept while the CRM was down is replayed at the time it was made (bot/outbox.py) without moving
# the clock of the actions running beside it.
_pinned: ContextVar[datetime | None] = ContextVar("salesbot_clock_pinned", default=None)


def offset() -> timedelta:
    """How far every process's clock is shifted (settings.clock_offset_seconds)."""
    return timedelta(seconds=clock_offset_seconds())


def now() -> datetime:
    """The current local time, naive (how the CRM stores times)."""
    pinned = _pinned.get()
    if pinned is not None:
        return pinned
    if _source is not None:
        return _source()
    return datetime.now(timezone()).replace(tzinfo=None) + offset()


def from_timestamp(timestamp: float) -> datetime:
    """A POSIX timestamp (e.g. of a tracker event) on this clock, naive local time."""
    return datetime.fromtimestamp(timestamp, timezone()).replace(tzinfo=None) + offset()


def timestamp() -> float:
    """``now()`` as a POSIX timestamp, as a tracker event carries it (``from_timestamp`` reads it back)."""
    return (now() - offset()).replace(tzinfo=timezone()).timestamp()


@contextmanager
def frozen_by(source: Callable[[], datetime]) -> Iterator[None]:
    """Make ``now()`` return ``source()`` inside the block (tests at any hour)."""
    global _source
    previous, _source = _source, source
    try:
        yield
    finally:
        _source = previous


def frozen(at: datetime):
    """Make ``now()`` return ``at`` inside the block."""
    return frozen_by(lambda: at)


@contextmanager
def pinned(at: datetime) -> Iterator[None]:
    """Make ``now()`` return ``at`` inside the block, in this context only."""
    token = _pinned.set(at)
    try:
        yield
    finally:
        _pinned.reset(token)
