"""Engine and session factory: one per database URL and process, built lazily."""

from __future__ import annotations

from functools import cache

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from bot.settings import get_settings


@cache
def engine_for(url: str) -> Engine:
    kwargs = {"future": True, "pool_pre_ping": True}
    if url.startswith("sqlite"):
        # Several processes (actions, web app, CLI) share the file.
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

    return engine


@cache
def _session_factory(url: str) -> sessionmaker:
    return sessionmaker(bind=engine_for(url), future=True, expire_on_commit=False)


def sessions(url: str | None = None) -> sessionmaker:
    """The session factory for ``url`` (default: the configured CRM database).

    Use one session per unit of work: ``with sessions().begin() as session: ...``.
    """
    return _session_factory(url or get_settings().db_url)

