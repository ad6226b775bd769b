"""Growing delays after failed logins, per login name and per client address.

Kept in the ``login_throttle`` table, so a restart does not reset them and every web
process sees the same counters. After ``threshold`` failures in a row a key is locked
for 30 seconds; every further failure doubles the delay, up to 15 minutes. A
successful login clears its login name's counter. An address's counter is not
cleared by a success (an attacker with one account must not be able to reset it), but
its threshold is higher, because a whole office may sit behind one address.
Counters are forgotten an hour after their last failure.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import clock
from bot.models import LoginThrottle

LOGIN_THRESHOLD = 5
ADDRESS_THRESHOLD = 20
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(minutes=15)
FORGET_AFTER = timedelta(hours=1)


def login_key(login: str) -> str:
    return "login:" + (login or "").strip().lower()[:64]


def address_key(address: str | None) -> str:
    return "addr:" + (address or "unknown")[:100]


def _threshold(key: str) -> int:
    return ADDRESS_THRESHOLD if key.startswith("addr:") else LOGIN_THRESHOLD


def _delay(failures: int, threshold: int) -> timedelta:
    doublings = min(failures - threshold, 10)  # 30 s * 2**10 is far beyond the cap already
    return min(FIRST_DELAY * 2**doublings, MAX_DELAY)


def wait_seconds(session: Session, keys: list[str], now: datetime | None = None) -> int:
    """How long (whole seconds, 0 = not at all) an attempt for these keys must wait."""
    now = now or clock.now()
    rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys)))
    waits = [(row.locked_until - now).total_seconds() for row in rows if row.locked_until]
    return max([math.ceil(w) for w in waits if w > 0], default=0)


def record_failure(session: Session, keys: list[str], now: datetime | None = None) -> None:
    now = now or clock.now()
    for key in keys:
        row = session.get(LoginThrottle, key)
        if row is None:
            row = LoginThrottle(key=key, failures=0, last_failure_at=now)
            session.add(row)
        elif row.last_failure_at < now - FORGET_AFTER:
            row.failures, row.locked_until = 0, None
        row.failures += 1
        row.last_failure_at = now
        threshold = _threshold(key)
        if row.failures >= threshold:
            row.locked_until = now + _delay(row.failures, threshold)
    # Housekeeping: counters nobody has touched for a long time.
    session.execute(delete(LoginThrottle).where(LoginThrottle.last_failure_at < now - FORGET_AFTER - MAX_DELAY,
                                                LoginThrottle.key.not_in(keys)))


def record_failure_retrying(sessions_factory, keys: list[str]) -> None:
    """``record_failure`` in its own transaction; retried once if another process inserted the same key."""
    for attempt in range(2):
        try:
            with sessions_factory.begin() as session:
                record_failure(session, keys)
            return
        except IntegrityError:
            if attempt:
                raise


def clear(session: Session, key: str) -> None:
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


def wait_message(seconds: int) -> str:
    """Chinese: too many failures, try again in ..."""
    span = f"{seconds} 秒" if seconds < 120 else f"{math.ceil(seconds / 60)} 分钟"
    return f"登录失败次数过多，请 {span}后再试。"
