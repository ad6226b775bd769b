"""A durable outbox for the CRM writes the database could not take when the agent made them.

When the CRM database is unreachable while an agent logs an outcome or books a callback, the
request (the action, the little of the conversation the action reads, the moment) is kept in a
local SQLite file beside the action server, fsynced before the agent is told it is safe. The
action server replays pending entries once the database answers again (actions/common.py),
oldest first, at the moment they were made, and a conversation's later writes queue behind its
pending ones, so an older outcome never lands over a newer one. An entry is deleted once settled
(written, or refused, e.g. because its user has since been logged out); what remains until the
agent's next message is a notice of the outcome (the agent's own words, numbers masked), deleted
once told. Should the process die between a CRM commit and the deletion, the entry is replayed,
and the writes are keyed by conversation and client (a call row, the client's one open
follow-up): re-running one updates the same rows, it does not add new ones.

The file holds no more than a replay needs (actions/common.py ``replay_state``: no transcript,
no client card, no typed number) and forgets it as soon as it can: deleted rows are overwritten
(``secure_delete``). It lives on the action server's disk, not in the CRM: it must work when the
CRM does not.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.settings import var_dir

PENDING, WRITTEN, FAILED = "pending", "written", "failed"
_lock = threading.Lock()  # one writer per process; SQLite's own locking covers other processes

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    made_at TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    action TEXT NOT NULL,
    text TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_entries_conversation ON outbox_entries (conversation_id);
CREATE TABLE IF NOT EXISTS outbox_notices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    text TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT
);
CREATE INDEX IF NOT EXISTS outbox_notices_conversation ON outbox_notices (conversation_id);
"""
# Files written before entries were kept minimal and deleted: their pending writes move over as
# they are (the replay refuses them: made without a token version, see actions/common.py), and
# the old table, with every conversation it kept, goes.
_UPGRADE = """
INSERT INTO outbox_entries (created_at, made_at, conversation_id, action, text, state, attempts)
    SELECT created_at, made_at, conversation_id, action, text, tracker, attempts
    FROM deferred_writes WHERE status = 'pending' ORDER BY id;
DROP TABLE deferred_writes;
"""


@dataclass(frozen=True)
class Deferred:
    """A write waiting for the CRM: ``state`` is the tracker state its action needs."""

    id: int
    made_at: datetime
    conversation_id: str
    action: str
    text: str
    state: dict[str, Any]


@dataclass(frozen=True)
class Notice:
    """What became of a deferred write, for its agent: ``status`` WRITTEN or FAILED (``result`` says why)."""

    text: str
    status: str
    result: str | None


def path() -> Path:
    return var_dir() / "outbox.sqlite3"


_ready: set[Path] = set()  # files whose schema this process has made sure of


@contextmanager
def _connection() -> Iterator[sqlite3.Connection]:
    from bot.db import secure_sqlite_file

    file = path()
    fresh = file not in _ready or not file.exists()
    if fresh:
        secure_sqlite_file(f"sqlite:///{file}")  # it holds the agent's words: owner only
    connection = sqlite3.connect(file, timeout=30, isolation_level=None)
    try:
        # FULL: a deferral the agent was told is safe survives a power cut.
        connection.execute("PRAGMA synchronous=FULL")
        # A settled entry is gone from the file too, not left readable in a free page.
        connection.execute("PRAGMA secure_delete=ON")
        if fresh:
            _prepare(connection)
            _ready.add(file)
        yield connection
    finally:
        connection.close()


def _prepare(db: sqlite3.Connection) -> None:
    """The schema, and the upgrade of an older file, in one transaction (statement by statement:
    ``executescript`` would commit on its own)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        for statement in filter(str.strip, _SCHEMA.split(";")):
            db.execute(statement)
        if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'deferred_writes'").fetchone():
            for statement in filter(str.strip, _UPGRADE.split(";")):
                db.execute(statement)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


# Whether the outbox may hold work for this process: entries still to write, or notices the
# agent has not read yet. True at start-up (the file may hold some) and after each deferral;
# cleared once a look finds neither. Spares every action the outbox file in normal times.
_active = True


def active() -> bool:
    return _active and path().exists()


def has_pending(conversation_id: str) -> bool:
    """Whether this conversation has writes still waiting for the CRM."""
    if not active():
        return False
    with _connection() as db:
        return db.execute("SELECT 1 FROM outbox_entries WHERE conversation_id = ? LIMIT 1",
                          (conversation_id,)).fetchone() is not None


def defer(action: str, state: dict[str, Any], made_at: datetime, text: str) -> int:
    """Keep a write for later; returns its id once it is on disk. ``state``: only what the replay
    reads (the caller trims it); ``text``: the agent's words for the notice, numbers masked."""
    global _active
    with _lock, _connection() as db:
        _active = True
        cursor = db.execute(
            "INSERT INTO outbox_entries (created_at, made_at, conversation_id, action, text, state) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (datetime.now().isoformat(), made_at.isoformat(), str(state.get("sender_id") or ""), action,
             text, json.dumps(state, ensure_ascii=False, default=str)))
        return int(cursor.lastrowid)


def pending() -> list[Deferred]:
    """Entries still to write, oldest first (a conversation's writes in the order they were made)."""
    if not path().exists():
        return []
    with _connection() as db:
        rows = db.execute("SELECT id, made_at, conversation_id, action, text, state FROM outbox_entries "
                          "ORDER BY id").fetchall()
    return [Deferred(id=r[0], made_at=datetime.fromisoformat(r[1]), conversation_id=r[2], action=r[3],
                     text=r[4], state=json.loads(r[5])) for r in rows]


def finish(entry_id: int, status: str, result: str | None = None) -> None:
    """Settle an entry: written (its CRM transaction committed) or failed (refused; ``result`` says
    why, in the agent's words). The entry is deleted; a notice for the agent takes its place."""
    with _lock, _connection() as db:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO outbox_notices (conversation_id, text, status, result) "
                   "SELECT conversation_id, text, ?, ? FROM outbox_entries WHERE id = ?", (status, result, entry_id))
        db.execute("DELETE FROM outbox_entries WHERE id = ?", (entry_id,))
        db.execute("COMMIT")


def attempted(entry_id: int) -> None:
    """The database was still unreachable: the entry stays pending."""
    with _lock, _connection() as db:
        db.execute("UPDATE outbox_entries SET attempts = attempts + 1 WHERE id = ?", (entry_id,))


def take_news(conversation_id: str) -> list[Notice]:
    """The notices of this conversation's settled writes, oldest first; deleted, so the agent
    hears each once."""
    global _active
    if not active():
        return []
    with _lock, _connection() as db:
        db.execute("BEGIN IMMEDIATE")
        rows = db.execute("SELECT id, text, status, result FROM outbox_notices WHERE conversation_id = ? "
                          "ORDER BY id", (conversation_id,)).fetchall()
        db.execute("DELETE FROM outbox_notices WHERE conversation_id = ?", (conversation_id,))
        # Nothing left to write or to tell anyone (one action server per outbox file): quiet again.
        if (db.execute("SELECT 1 FROM outbox_entries LIMIT 1").fetchone() is None
                and db.execute("SELECT 1 FROM outbox_notices LIMIT 1").fetchone() is None):
            _active = False
        db.execute("COMMIT")
    return [Notice(text=r[1], status=r[2], result=r[3]) for r in rows]


def counts() -> dict[str, int]:
    """Entries still to write (``pending``) and notices not yet told (``untold``), zeros left out
    (for health checks and tests)."""
    if not path().exists():
        return {}
    with _connection() as db:
        found = {"pending": db.execute("SELECT COUNT(*) FROM outbox_entries").fetchone()[0],
                 "untold": db.execute("SELECT COUNT(*) FROM outbox_notices").fetchone()[0]}
    return {key: count for key, count in found.items() if count}
