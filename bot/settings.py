"""All configuration in one place, read from the environment with the contract's defaults."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import datetime, tzinfo
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


def _secret() -> str:
    value = os.environ.get("SALESBOT_SECRET")
    if value:
        return value
    # Generated once per installation so sessions survive restarts; never logged.
    path = var_dir() / "secret.key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def timezone() -> tzinfo:
    """The server's timezone; SALESBOT_TIMEZONE overrides it."""
    name = os.environ.get("SALESBOT_TIMEZONE")
    if name:
        return ZoneInfo(name)
    return datetime.now().astimezone().tzinfo  # type: ignore[return-value]


def get_settings() -> Settings:
    """Read the settings now (cheap; called where needed so tests can set env vars)."""
    return Settings(
        db_url=os.environ.get("SALESBOT_DB_URL") or _sqlite_default("crm.sqlite3"),
        tracker_url=os.environ.get("SALESBOT_TRACKER_URL") or _sqlite_default("tracker.sqlite3"),
        redis_url=os.environ.get("SALESBOT_REDIS_URL") or None,
        secret=_secret(),
        bank_name=os.environ.get("SALESBOT_BANK_NAME", "星海银行"),
        bank_hotline=os.environ.get("SALESBOT_BANK_HOTLINE", "400-000-9595"),
        timezone=timezone(),
    )
