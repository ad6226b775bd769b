"""Rasa's lock store, chosen from SALESBOT_REDIS_URL (endpoints.yml names this module).

One Rasa server can keep its conversation locks in memory. Several Rasa servers sharing one
tracker store must share the locks too, or two of them process messages of the same
conversation at once and interleave (or lose) its events: then the locks live in Redis.

endpoints.yml cannot say "Redis if the variable is set": Rasa's ``${VAR}`` substitution fails
on an unset variable. So endpoints.yml names ``EnvLockStore``, and that picks the store.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from rasa.core.lock import TicketLock
from rasa.core.lock_store import (
    DEFAULT_SOCKET_TIMEOUT_IN_SECONDS,
    LOCK_LIFETIME,
    InMemoryLockStore,
    LockError,
    LockStore,
    RedisLockStore,
)

from bot.settings import get_settings

T = TypeVar("T")


class EnvLockStore(LockStore):
    """``lock_store: type: bot.rasa_ext.lock_store.EnvLockStore`` in endpoints.yml.

    Rasa instantiates a custom lock store as ``cls(endpoint_config=...)``; this class hands back
    the concrete store instead, so Rasa works with its own classes (and sees a RedisLockStore
    where it checks for one): ``AtomicRedisLockStore`` when SALESBOT_REDIS_URL is set, else
    Rasa's ``InMemoryLockStore``.
    """

    def __new__(cls, endpoint_config: Any = None) -> LockStore:  # noqa: ARG003 - Rasa's signature
        url = get_settings().redis_url
        if not url:
            return InMemoryLockStore()
        store = AtomicRedisLockStore.from_url(url)
        try:  # fail at start-up, not at the first chat message
            store.red.ping()
        except Exception as error:  # Rasa reports a ConnectionError as "Cannot connect to lock store."
            raise ConnectionError(f"Redis at SALESBOT_REDIS_URL does not answer: {error}") from error
        return store


class AtomicRedisLockStore(RedisLockStore):
    """Rasa's RedisLockStore with every change of a lock made atomically.

    Rasa's own store reads a lock, changes it in Python and writes it back in separate steps.
    With two servers that is a race: both can issue the same ticket number (and then process
    the same conversation at once), or one server's ``cleanup`` deletes the lock right after
    the other queued a ticket on it (that message then fails with "Could not acquire lock").
    Here each read-change-write runs in a Redis WATCH/MULTI transaction, retried on conflict.
    The key also expires with its last ticket, so a crashed server leaves nothing behind.
    """

    @classmethod
    def from_url(cls, url: str) -> AtomicRedisLockStore:
        """``redis://[user:password@]host[:port][/db]`` (``rediss://`` for TLS)."""
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError("SALESBOT_REDIS_URL must be a redis:// or rediss:// URL")
        path = parts.path.strip("/")
        return cls(host=parts.hostname or "localhost", port=parts.port or 6379, db=int(path) if path else 0,
                   username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None,
                   use_ssl=parts.scheme == "rediss", socket_timeout=DEFAULT_SOCKET_TIMEOUT_IN_SECONDS)

    def _change(self, conversation_id: str, change: Callable[[TicketLock | None], tuple[TicketLock | None, T]]) -> T:
        """Apply ``change`` to the stored lock atomically; it returns (new lock or None to delete, result)."""
        key = self.key_prefix + conversation_id

        def transaction(pipe) -> T:
            raw = pipe.get(key)
            lock, result = change(TicketLock.from_dict(json.loads(raw)) if raw else None)
            pipe.multi()
            if lock is None or not lock.tickets:
                pipe.delete(key)
            else:
                expires = max(ticket.expires for ticket in lock.tickets)
                pipe.set(key, lock.dumps(), ex=max(1, math.ceil(expires - time.time())))
            return result

        return self.red.transaction(transaction, key, value_from_callable=True)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def issue(lock: TicketLock | None) -> tuple[TicketLock, int]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._change(conversation_id, issue)
        except Exception as error:  # Rasa's contract: any failure here is a LockError
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: str) -> None:
        def drop_expired(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, drop_expired)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        def finish(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return lock, None

        self._change(conversation_id, finish)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        # Rasa's version finishes, checks for waiters and deletes in three steps: one here.
        # A lock without tickets is deleted by _change.
        self.finish_serving(conversation_id, ticket_number)
