"""A durable outbox for the CRM writes the database could not take when the agent made them.

When the CRM database is unreachable while an agent logs an outcome or books a callback, the
request (the action, the conversation's tracker as the action saw it, the moment) is kept in a
local SQLite file beside the action server, fsynced before the agent is told it is safe. The
action server replays pending entries once the database answers again (actions/common.py),
oldest first, at the moment they were made, and a conversation's later writes queue behind its
pending ones, so an older outcome never lands over a newer one. Each entry is marked written
right after its CRM commit; should the process die between the two, the entry is replayed, and
the writes are keyed by conversation and client (a call row, the client's one open follow-up):
re-running one updates the same rows, it does not add new ones.

The file lives on the action server's disk, not in the CRM: it must work when the CRM does not.
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
CREATE TABLE IF NOT EXISTS deferred_writes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    made_at TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    action TEXT NOT NULL,
    text TEXT NOT NULL,
    tracker TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    result TEXT,
    announced INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS deferred_writes_status ON deferred_writes (status, id);
CREATE INDEX IF NOT EXISTS deferred_writes_conversation ON deferred_writes (conversation_id, announced);
"""


@dataclass(frozen=True)
class Deferred:
    id: int
    made_at: datetime
    conversation_id: str
    action: str
    text: str
    tracker: dict[str, Any]
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
        secure_sqlite_file(f"sqlite:///{file}")  # it holds conversation text: owner only
    connection = sqlite3.connect(file, timeout=30, isolation_level=None)
    try:
        # FULL: a deferral the agent was told is safe survives a power cut.
        connection.execute("PRAGMA synchronous=FULL")
        if fresh:
            connection.executescript(_SCHEMA)
            _ready.add(file)
        yield connection
    finally:
        connection.close()


# Whether the outbox may hold work for this process: entries still to write, or settled ones the
# agent has not heard of yet. True at start-up (the file may hold some) and after each deferral;
# cleared once a look finds neither. Spares every action the outbox file in normal times, also
# after an outage is over (the file stays).
_active = True


def active() -> bool:
    return _active and path().exists()


def has_pending(conversation_id: str) -> bool:
    """Whether this conversation has writes still waiting for the CRM."""
    if not active():
        return False
    with _connection() as db:
        return db.execute("SELECT 1 FROM deferred_writes WHERE conversation_id = ? AND status = ? LIMIT 1",
                          (conversation_id, PENDING)).fetchone() is not None


def defer(action: str, tracker: dict[str, Any], made_at: datetime, text: str) -> int:
    """Keep a write for later; returns its id once it is on disk."""
    global _active
    with _lock, _connection() as db:
        _active = True
        cursor = db.execute(
            "INSERT INTO deferred_writes (created_at, made_at, conversation_id, action, text, tracker) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (datetime.now().isoformat(), made_at.isoformat(), str(tracker.get("sender_id") or ""), action,
             text, json.dumps(tracker, ensure_ascii=False, default=str)))
        return int(cursor.lastrowid)


def _row(row: tuple) -> Deferred:
    return Deferred(id=row[0], made_at=datetime.fromisoformat(row[1]), conversation_id=row[2], action=row[3],
                    text=row[4], tracker=json.loads(row[5]), status=row[6], result=row[7])


_COLUMNS = "id, made_at, conversation_id, action, text, tracker, status, result"


def pending() -> list[Deferred]:
    """Entries still to write, oldest first (a conversation's writes in the order they were made)."""
    if not path().exists():
        return []
    with _connection() as db:
        rows = db.execute(f"SELECT {_COLUMNS} FROM deferred_writes WHERE status = ? ORDER BY id",
                          (PENDING,)).fetchall()
    return [_row(r) for r in rows]


def finish(entry_id: int, status: str, result: str | None = None) -> None:
    """Mark an entry written (its CRM transaction committed) or failed (refused; ``result`` says why)."""
    with _lock, _connection() as db:
        db.execute("UPDATE deferred_writes SET status = ?, result = ?, attempts = attempts + 1 WHERE id = ?",
                   (status, result, entry_id))


def attempted(entry_id: int) -> None:
    """The database was still unreachable: the entry stays pending."""
    with _lock, _connection() as db:
        db.execute("UPDATE deferred_writes SET attempts = attempts + 1 WHERE id = ?", (entry_id,))


def take_news(conversation_id: str) -> list[Deferred]:
    """Entries of this conversation that were written or failed since the agent last heard;
    marked as told, so the agent hears each once."""
    global _active
    if not active():
        return []
    with _lock, _connection() as db:
        rows = db.execute(
            f"SELECT {_COLUMNS} FROM deferred_writes WHERE conversation_id = ? AND status != ? AND announced = 0 "
            "ORDER BY id", (conversation_id, PENDING)).fetchall()
        if rows:
            db.execute(f"UPDATE deferred_writes SET announced = 1 WHERE id IN ({','.join('?' * len(rows))})",
                       [r[0] for r in rows])
        # Nothing left to write or to tell anyone (one action server per outbox file): quiet again.
        if db.execute("SELECT 1 FROM deferred_writes WHERE status = ? OR announced = 0 LIMIT 1",
                      (PENDING,)).fetchone() is None:
            _active = False
    return [_row(r) for r in rows]


def counts() -> dict[str, int]:
    """How many entries are in each state (for health checks and tests)."""
    if not path().exists():
        return {}
    with _connection() as db:
        return dict(db.execute("SELECT status, COUNT(*) FROM deferred_writes GROUP BY status").fetchall())
