"""A durable outbox for the CRM writes the database could not take when the agent made them.

When the CRM database is unreachable while an agent makes one of the ``DURABLE_WRITES`` (logs an
outcome, books a callback), the request (the action, the little of the conversation the action
reads, the moment) is kept in a local SQLite file beside the action server, fsynced before the
agent is told it is safe. ``replay_deferred`` writes pending entries once the database answers
again, oldest first, at the moment they were made, and a conversation's later writes queue behind
its pending ones, so an older outcome never lands over a newer one. An entry is deleted once settled
(written, or refused, e.g. because its user has since been logged out); what remains until the
agent's next message is a notice of the outcome (the agent's own words, numbers masked), deleted
once told. Should the process die between a CRM commit and the deletion, the entry is replayed,
and the writes are keyed by conversation and client (a call row, the client's one open
follow-up): re-running one updates the same rows, it does not add new ones.

The file holds no more than a replay needs (``replay_state``: no transcript, no client card, no
typed number) and forgets it as soon as it can: deleted rows are overwritten (``secure_delete``).
It lives on the action server's disk, not in the CRM: it must work when the CRM does not.

The core knows no Rasa tracker: the actions (actions/common.py) hand it the function that makes
one entry's write (``set_replayer``).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot import logs
from bot.db import secure_sqlite_file, unreachable
from bot.playbook import playbook
from bot.settings import var_dir

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DurableWrite:
    """A CRM write an agent must not lose: kept here when the CRM is unreachable, replayed later.

    ``entities``: what its action reads of the message (all the outbox keeps of it besides the
    masked text); ``intents``: only messages with one of the intents it gives make the write
    (None: every message). A function: the playbook is read when a write is made, not at import.
    """

    action: str
    entities: frozenset[str]
    intents: Callable[[], Collection[str]] | None = None


# The durable writes, in one place: an outcome (actions/outcome.py), a callback at the time the
# agent named (actions/followups.py), and the callback an objection answer books (actions/guidance.py
# ``book_follow_up``: only the objections answered by agreeing a time to call again, objections.yml).
DURABLE_WRITES: dict[str, DurableWrite] = {write.action: write for write in (
    DurableWrite("action_log_outcome", frozenset({"outcome", "amount", "product"})),
    DurableWrite("action_schedule_callback", frozenset({"time", "client_name"})),
    DurableWrite("action_handle_objection", frozenset({"product"}), intents=lambda: playbook().callback_objections),
    # A complaint the agent recorded is never lost (its words are in the call's slots).
    DurableWrite("action_record_complaint", frozenset({"complaint_category"})),
    # The customer's yes to the deal logs it (actions/guidance.py: only when the call's state says
    # the "OK" is yes to the deal, guidance.confirms_deal).
    DurableWrite("action_customer_agrees", frozenset({"product"}), intents=lambda: ("customer_agrees",)),
)}
REPLAY_ENTITIES = frozenset().union(*(write.entities for write in DURABLE_WRITES.values()))


def is_durable(action: str, intent: str | None) -> bool:
    """Whether ``action`` run for a message with ``intent`` makes a durable write."""
    write = DURABLE_WRITES.get(action)
    return write is not None and (write.intents is None or intent in write.intents())

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


# --- what an entry keeps ---------------------------------------------------------------------

def replay_state(tracker: Any, slots: Iterable[str]) -> dict[str, Any]:
    """The minimum of ``tracker`` (a rasa_sdk Tracker, read through its attributes) a deferred
    write needs to be replayed (``Tracker.from_dict``), and all the outbox keeps: the ``slots``
    named (the call's), the entities of the message that made the write (``REPLAY_ENTITIES``),
    the moments of the conversation's messages and lookups (actions/outcome.py ``_started_at``),
    and who sent the message under which token version. Not the transcript, the client card, the
    phone slot or entity, nor earlier messages' words; numbers the agent typed are masked."""
    latest = tracker.latest_message or {}
    signed: dict[str, Any] = {}  # the channel's metadata on the latest message (actions/identity.py)
    events: list[dict[str, Any]] = []
    for event in tracker.events:
        if event.get("event") == "user":
            metadata = event.get("metadata")
            signed = metadata if isinstance(metadata, dict) else {}
            events.append({"event": "user", "timestamp": event.get("timestamp")})
        elif event.get("event") == "slot" and event.get("name") == "current_client_id":
            events.append({"event": "slot", "name": "current_client_id", "value": event.get("value")})
    for event in reversed(events):
        if event["event"] == "user":
            event["metadata"] = {key: signed[key] for key in ("login", "ver") if key in signed}
            break
    intent = latest.get("intent") or {}
    return {
        "sender_id": tracker.sender_id,
        "slots": {name: tracker.get_slot(name) for name in slots if tracker.get_slot(name) is not None},
        "latest_message": {
            "text": logs.mask(latest.get("text") or ""),
            "intent": {"name": intent.get("name"), "confidence": intent.get("confidence")},
            "entities": [{"entity": e["entity"], "value": _masked(e.get("value"))}
                         for e in latest.get("entities") or () if e.get("entity") in REPLAY_ENTITIES],
        },
        "events": events,
    }


def _masked(value: Any) -> Any:
    return logs.mask(value) if isinstance(value, str) else value


# --- the replay --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Replayed:
    """What replaying an entry did: written (``refusal`` None), or refused with the reason for the
    agent (``refusal``) and, when the user's rights refused it before the write, for the logs (``why``)."""

    refusal: str | None = None
    why: str | None = None


# Makes one entry's write in the CRM, as its user, at the moment it was made; raises if the CRM
# is unreachable. Set by the actions (actions/common.py), which know Rasa's trackers.
Replayer = Callable[[Deferred], Replayed]
_replayer: Replayer | None = None


def set_replayer(replayer: Replayer) -> None:
    global _replayer
    _replayer = replayer


_replaying = threading.Lock()
# After the CRM was found unreachable, messages do not each try again at once (each try can cost a
# connect timeout): the background replayer and the next message after this pause do.
RETRY_PAUSE_SECONDS = 2.0
_next_try = 0.0


def replay_deferred(wait: bool = False) -> int:
    """Write the outbox's pending entries, oldest first, each at the moment it was made; stops at
    the first that finds the CRM still unreachable. Returns how many were settled (written or refused).

    ``wait``: wait for a replay under way in another thread (an action about to run), instead of
    leaving it to that thread (the background replayer, bot/action_server.py). The outcome of each
    entry is told to the agent on their conversation's next message (actions/common.py CrmAction.run).
    """
    global _next_try
    if _replayer is None:
        return 0  # no actions loaded in this process: nothing here can make the writes
    if not _replaying.acquire(timeout=60 if wait else 0):
        return 0  # another thread is replaying: the outbox is ordered, one replayer at a time
    try:
        if time.monotonic() < _next_try:
            return 0
        settled = 0
        for entry in pending():
            if entry.action not in DURABLE_WRITES:
                finish(entry.id, FAILED, playbook().messages["internal_error_short"])
                continue
            try:
                replayed = _replayer(entry)
            except Exception as error:  # noqa: BLE001
                if unreachable(error):
                    attempted(entry.id)
                    _next_try = time.monotonic() + RETRY_PAUSE_SECONDS
                    return settled
                logger.exception("deferred write %s (%s) failed", entry.id, entry.action)
                finish(entry.id, FAILED, playbook().messages["internal_error_short"])
                settled += 1
                continue
            finish(entry.id, WRITTEN if replayed.refusal is None else FAILED, replayed.refusal)
            if replayed.why is not None:
                # The user's rights now, not when the CRM went down: a write of a user logged
                # out, reset or disabled since, or for a client handed over, is not made.
                logger.warning("deferred write %s (%s) refused: %s", entry.id, entry.action, replayed.why)
            else:
                logger.info("deferred write %s (%s) %s", entry.id, entry.action,
                            "refused" if replayed.refusal is not None else "written")
            settled += 1
        return settled
    finally:
        _replaying.release()
