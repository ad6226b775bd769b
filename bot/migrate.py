"""Alembic migrations run programmatically, so no alembic.ini path juggling is needed."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from bot.db import secure_sqlite_file
from bot.settings import PACKAGE_DIR, get_settings


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(PACKAGE_DIR / "migrations"))
    # ConfigParser interpolation would choke on '%' in URL-encoded passwords.
    config.set_main_option("sqlalchemy.url", (url or get_settings().db_url).replace("%", "%%"))
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    secure_sqlite_file(url or get_settings().db_url)  # a new SQLite file starts as 0600
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)
