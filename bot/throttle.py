"""Growing delays after failed logins, per login name and client address, or per known device.

Kept in the ``login_throttle`` table, so a restart does not reset them and every web
process sees the same counters. After ``LOGIN_THRESHOLD`` failures in a row a key is
locked for 30 seconds; every further failure doubles the delay, up to 15 minutes.

A key names a login together with the address it is tried from: an attacker guessing
agent02's password from one address slows down only agent02-from-that-address, never
agent02 elsewhere, and never a whole office behind that address. A browser that has
logged in as the user before carries a signed device cookie (``remember_device``) and
is throttled on a key of its own, so someone else's failures, even from the same
office address, never lock the user out of it. A success clears the key it was
checked against. Counters are forgotten an hour after their last failure.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import clock
from bot.models import LoginThrottle
from bot.settings import get_settings

LOGIN_THRESHOLD = 5
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(minutes=15)
FORGET_AFTER = timedelta(hours=1)
# Device cookie: "<id>.<mac>" entries joined by "~", newest first (a shared office PC
# remembers the last few people who logged in on it).
DEVICE_ENTRIES = 5
_DEVICE_ENTRY = re.compile(r"([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{22})")


def _login(login: str) -> str:
    return (login or "").strip().lower()[:64]


def account_key(login: str, address: str | None) -> str:
    """The counter of one login tried from one client address."""
    return f"acct:{_login(login)}|{(address or 'unknown')[:100]}"


def device_key(login: str, device_id: str) -> str:
    """The counter of one login tried from a browser that logged in as it before."""
    return f"dev:{_login(login)}|{device_id}"


def _device_mac(login: str, device_id: str) -> str:
    digest = hmac.new(get_settings().secret.encode("utf-8"), f"device\0{_login(login)}\0{device_id}".encode(),
                      hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _entries(cookie: str | None) -> list[tuple[str, str]]:
    """The well-formed (device id, mac) entries of a device cookie (anything else is ignored)."""
    found = (_DEVICE_ENTRY.fullmatch(part) for part in (cookie or "").split("~")[:DEVICE_ENTRIES])
    return [match.groups() for match in found if match]


def known_device(cookie: str | None, login: str) -> str | None:
    """The id of the device whose cookie proves an earlier successful login as ``login``, else None."""
    for device_id, mac in _entries(cookie):
        if hmac.compare_digest(mac, _device_mac(login, device_id)):  # both ASCII: the pattern says so
            return device_id
    return None


def remember_device(cookie: str | None, login: str) -> str:
    """The device cookie to set after ``login`` succeeded: its entry first, earlier ones after."""
    device_id = known_device(cookie, login) or secrets.token_urlsafe(16)
    entries = [(device_id, _device_mac(login, device_id))]
    entries += [entry for entry in _entries(cookie) if entry[0] != device_id]
    return "~".join(f"{device_id}.{mac}" for device_id, mac in entries[:DEVICE_ENTRIES])


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
        if row.failures >= LOGIN_THRESHOLD:
            row.locked_until = now + _delay(row.failures, LOGIN_THRESHOLD)
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


def clear_login(session: Session, login: str) -> None:
    """Forget every counter of a login, from every address and device (password reset, re-enabling)."""
    prefixes = (f"acct:{_login(login)}|", f"dev:{_login(login)}|")
    matching = or_(*(LoginThrottle.key.startswith(prefix, autoescape=True) for prefix in prefixes))
    session.execute(delete(LoginThrottle).where(matching).execution_options(synchronize_session=False))


def wait_message(seconds: int) -> str:
    """Chinese: too many failures, try again in ..."""
    span = f"{seconds} 秒" if seconds < 120 else f"{math.ceil(seconds / 60)} 分钟"
    return f"登录失败次数过多，请 {span}后再试。"
