"""Engine and session factory: one per database URL and process, built lazily."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

from bot.settings import get_settings

T = TypeVar("T")


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL; None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    if parsed.query.get("uri") or parsed.database.startswith("file:"):
        return None  # URI filenames (file:...?mode=...): left to whoever wrote them
    return Path(parsed.database)


def secure_sqlite_file(url: str) -> None:
    """Make a SQLite database file readable by its owner only (0600).

    A missing file is created empty with 0600 (an empty file is a valid, empty SQLite
    database); an existing one, and its -wal/-shm companions, are tightened to 0600.
    SQLite creates its journal and WAL files with the database file's permissions.
    """
    path = sqlite_path(url)
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"),
                      path.with_name(path.name + "-journal")):
        try:
            if stat.S_IMODE(candidate.stat().st_mode) & 0o077:
                candidate.chmod(0o600)
        except FileNotFoundError:
            continue


@cache
def engine_for(url: str) -> Engine:
    secure_sqlite_file(url)
    # hide_parameters: a failed statement's values (a client's phone number) stay out of error
    # messages and so out of the logs.
    kwargs = {"future": True, "pool_pre_ping": True, "hide_parameters": True}
    if url.startswith("postgresql"):
        # A server that drops packets must not hold a message for minutes (bot/outbox.py takes over).
        kwargs["connect_args"] = {"connect_timeout": 5}
    if url.startswith("sqlite"):
        # Several processes (actions, web app, CLI) share the file.
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        if sqlite_path(url) is not None:
            # SQLAlchemy 1.4 opens a new connection (and runs the PRAGMAs) for every session on a
            # SQLite file; a pool keeps them, as 2.0 does (6-9 % of the servers' time under load).
            kwargs["poolclass"] = QueuePool
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



# PostgreSQL SQLSTATEs of a server that is not there: connection exceptions (class 08), and
# admin/crash shutdown or "cannot connect now" (57P01-57P03). Deadlocks or statement timeouts are
# OperationalErrors too, but the database is there: those are errors, not outages.
_PG_UNREACHABLE = ("08", "57P01", "57P02", "57P03")
# SQLite's words for a database file that cannot be opened or written right now.
_SQLITE_UNREACHABLE = ("unable to open database file", "disk i/o error", "database is locked")


def unreachable(error: BaseException) -> bool:
    """True if ``error`` says the database cannot be reached (down, restarting, network, a lost
    connection, a file that went away or stays locked), as opposed to a bug or a refused write:
    only then is a write kept for later (bot/outbox.py) or the user told the CRM is down."""
    if isinstance(error, (InterfaceError, DisconnectionError)):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if not isinstance(error, OperationalError):
        return False
    code = getattr(error.orig, "pgcode", None)
    if code is not None:
        return code.startswith(_PG_UNREACHABLE)
    # No SQLSTATE: psycopg2 failed to connect at all (refused, timed out), or a SQLite error.
    message = str(error.orig).lower()
    return "sqlite" not in type(error.orig).__module__ or any(m in message for m in _SQLITE_UNREACHABLE)


# Values bound in one ``IN (...)``: far below any database's limit on a statement's variables
# (SQLite: 32,766; PostgreSQL: 65,535), so a set of any size is queried in bounded batches.
IN_BATCH = 500


def batched(values: Iterable[T], size: int = IN_BATCH) -> Iterator[list[T]]:
    """``values`` in lists of at most ``size``, for ``column.in_(batch)`` one batch at a time."""
    batch: list[T] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
