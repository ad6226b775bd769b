"""All configuration in one place, read from the environment with the contract's defaults."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import secrets
import stat
import sys
from dataclasses import dataclass
from datetime import datetime, time, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(__file__).resolve().parent


def var_dir() -> Path:
    path = Path(os.environ.get("SALESBOT_VAR_DIR", PROJECT_ROOT / "var"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sqlite_default(name: str) -> str:
    return f"sqlite:///{var_dir() / name}"


@dataclass(frozen=True)
class Settings:
    db_url: str
    tracker_url: str
    redis_url: str | None
    secret: str
    bank_name: str
    bank_hotline: str
    timezone: tzinfo
    listen: str


# SALESBOT_SECRET signs the HS256 tokens (and keys the action server's request signatures): a
# short or repetitive one can be cracked offline from any token. 32 random bytes at least.
MIN_SECRET_BYTES = 32
MIN_SECRET_DISTINCT_CHARS = 8


class SecretError(ValueError):
    """SALESBOT_SECRET (or var/secret.key) is too weak to sign anything."""


def _secret() -> str:
    value = os.environ.get("SALESBOT_SECRET")
    if value:
        return _strong(value, "SALESBOT_SECRET")
    # Generated once per installation so sessions survive restarts; never logged.
    path = var_dir() / "secret.key"
    if not path.exists():
        _create_secret_file(path)
    elif stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o600)  # an older installation's file: owner only
    return _strong(path.read_text().strip(), f"SALESBOT_SECRET ({path})")


def _strong(secret: str, source: str) -> str:
    if len(secret.encode("utf-8", "surrogatepass")) < MIN_SECRET_BYTES or len(set(secret)) < MIN_SECRET_DISTINCT_CHARS:
        raise SecretError(
            f"{source} 太弱：至少需要 {MIN_SECRET_BYTES} 字节的随机值（is too weak: at least {MIN_SECRET_BYTES} random "
            "bytes are needed). 生成一个 / generate one: "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'; "
            "或不设置 SALESBOT_SECRET，由 salesbot prepare 生成 var/secret.key "
            "(or leave it unset and salesbot prepare writes var/secret.key).")
    return secret


def require_strong_secret() -> None:
    """Start-up of every service: exit with the reason (no traceback) unless the secret is strong."""
    try:
        _secret()
    except SecretError as error:
        sys.exit(f"salesbot: {error}")


def _create_secret_file(path: Path) -> None:
    """Write a new random secret to ``path``: owner-only from its first byte, published atomically.

    The secret goes into a private temporary file (O_EXCL, mode 0600), which is then
    hard-linked into place: other processes see either no file or the whole secret,
    and if one of them won the race, its secret stays and ours is discarded.
    """
    value = secrets.token_urlsafe(48)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        _write_new(tmp, value)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError:  # no hard links on this file system: create it in place
            with contextlib.suppress(FileExistsError):
                _write_new(path, value)
    finally:
        tmp.unlink(missing_ok=True)


def _write_new(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def listen_address() -> str:
    """SALESBOT_LISTEN: where the web app and Rasa listen. Loopback by default, so the demo
    logins published in the README only ever work from this computer."""
    return os.environ.get("SALESBOT_LISTEN", "").strip() or "127.0.0.1"


def is_loopback(address: str) -> bool:
    """Whether only this computer can reach an address (127.0.0.0/8, ::1, localhost)."""
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: assume other computers can reach it


def timezone() -> tzinfo:
    """The server's timezone; SALESBOT_TIMEZONE overrides it."""
    name = os.environ.get("SALESBOT_TIMEZONE")
    if name:
        return ZoneInfo(name)
    return datetime.now().astimezone().tzinfo  # type: ignore[return-value]


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def redis_url() -> str | None:
    """SALESBOT_REDIS_URL: the lock store shared by several Rasa servers (unset: one server)."""
    return os.environ.get("SALESBOT_REDIS_URL") or None


def clock_offset_seconds() -> float:
    """SALESBOT_CLOCK_OFFSET (seconds) shifts every process's clock alike, so end-to-end tests can
    run the services at a fixed hour of the day whatever the hour of the CI run. Unset in production."""
    return float(os.environ.get("SALESBOT_CLOCK_OFFSET") or 0)


def trust_proxy() -> bool:
    """SALESBOT_TRUST_PROXY: the web app sits behind a reverse proxy that sets X-Forwarded-*."""
    return _flag("SALESBOT_TRUST_PROXY")


def recording_notice() -> str | None:
    """SALESBOT_RECORDING_NOTICE: the bank's own wording of the recording notice (else the playbook's)."""
    return os.environ.get("SALESBOT_RECORDING_NOTICE") or None


def actions_host(default: str) -> str:
    """SALESBOT_ACTIONS_HOST: where the action server listens (a multi-host deployment, behind its firewall)."""
    return os.environ.get("SALESBOT_ACTIONS_HOST") or default


def action_url(actions_port: int) -> str:
    """SALESBOT_ACTION_URL: where Rasa reaches the action server (default: this computer)."""
    return os.environ.get("SALESBOT_ACTION_URL") or f"http://127.0.0.1:{actions_port}/webhook"


def public_origins() -> list[str]:
    """SALESBOT_PUBLIC_ORIGIN (comma-separated): origins, besides the web app's own, whose pages may talk to Rasa."""
    return [o.strip().rstrip("/") for o in os.environ.get("SALESBOT_PUBLIC_ORIGIN", "").split(",") if o.strip()]


class SettingError(ValueError):
    """An environment variable holds a value the product cannot use (checked by ``salesbot prepare``)."""


@dataclass(frozen=True)
class ContactLimits:
    """The contact policy's limits (bot/contact_policy.py); a count of 0 turns that limit off."""

    calling_hours: tuple[time, time]  # [start, end) local time: 09:00 may be called, 21:00 not
    max_calls_per_day: int
    max_calls_per_week: int  # over the last 7 days (a rolling window, not the calendar week)
    cooling_off_days: int  # after a refusal, no new pitch of the same product (0: none)


_HOURS_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _calling_hours(value: str) -> tuple[time, time]:
    match = _HOURS_RE.match(value)
    if match:
        h1, m1, h2, m2 = map(int, match.groups())
        if h1 < 24 and m1 < 60 and m2 < 60 and (h2 < 24 or (h2, m2) == (24, 0)):
            start = time(h1, m1)
            end = time.max if h2 == 24 else time(h2, m2)
            if start < end:
                return start, end
    raise SettingError(
        f"SALESBOT_CALLING_HOURS={value!r} 无效：应为“开始-结束”的本地时间，开始早于结束，如 09:00-21:00 "
        f"(invalid: expected local start-end times, start before end, e.g. 09:00-21:00).")


def _count(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) > 10_000:
        raise SettingError(f"{name}={value!r} 无效：应为 0 到 10000 之间的整数，0 表示不限 "
                           f"(invalid: expected a whole number from 0 to 10000; 0 turns the limit off).")
    return int(value)


def contact_limits() -> ContactLimits:
    """SALESBOT_CALLING_HOURS, SALESBOT_MAX_CALLS_PER_DAY/WEEK and SALESBOT_COOLING_OFF_DAYS, with the
    contract's defaults; raises SettingError naming the variable for a malformed value."""
    return ContactLimits(
        calling_hours=_calling_hours(os.environ.get("SALESBOT_CALLING_HOURS", "").strip() or "09:00-21:00"),
        max_calls_per_day=_count("SALESBOT_MAX_CALLS_PER_DAY", 1),
        max_calls_per_week=_count("SALESBOT_MAX_CALLS_PER_WEEK", 3),
        cooling_off_days=_count("SALESBOT_COOLING_OFF_DAYS", 30),
    )


def tracker_url() -> str:
    """Rasa's tracker store (SALESBOT_TRACKER_URL), read alone: a migration needs it, not the secret."""
    return os.environ.get("SALESBOT_TRACKER_URL") or _sqlite_default("tracker.sqlite3")


def get_settings() -> Settings:
    """Read the settings now (cheap; called where needed so tests can set env vars)."""
    return Settings(
        db_url=os.environ.get("SALESBOT_DB_URL") or _sqlite_default("crm.sqlite3"),
        tracker_url=tracker_url(),
        redis_url=redis_url(),
        secret=_secret(),
        bank_name=os.environ.get("SALESBOT_BANK_NAME", "星海银行"),
        bank_hotline=os.environ.get("SALESBOT_BANK_HOTLINE", "400-000-9595"),
        timezone=timezone(),
        listen=listen_address(),
    )
