"""Signed requests from Rasa to the action server, and comparisons of secrets that never crash.

Rasa signs each request (bot/rasa_ext/remote_action.py): HMAC-SHA256, with a key derived from
SALESBOT_SECRET (never the secret itself), over the timestamp, a random nonce and the exact body
bytes sent. The action server (bot/action_server.py) accepts a signature only within
MAX_AGE_SECONDS of its timestamp and only once: a request seen on the wire (the multi-host layout
sends it over plain http) cannot be replayed, altered or reused for another body.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

TIMESTAMP_HEADER = "X-Salesbot-Timestamp"
NONCE_HEADER = "X-Salesbot-Nonce"
SIGNATURE_HEADER = "X-Salesbot-Signature"
MAX_AGE_SECONDS = 60  # also the clock skew tolerated between the Rasa and action server hosts
# Signatures remembered for MAX_AGE_SECONDS: room for ~1600 action calls a second.
MAX_REMEMBERED = 100_000
_KEY_LABEL = b"salesbot action server request signing v1"


def same_secret(expected: str | bytes, given: str | bytes | None) -> bool:
    """Constant-time equality that refuses, rather than raises, on any input: ``hmac.compare_digest``
    raises on non-ASCII ``str``, so both sides are compared as UTF-8 bytes (lone surrogates, which
    Sanic makes of undecodable header bytes, included)."""
    if given is None:
        return False
    return hmac.compare_digest(_bytes(expected), _bytes(given))


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


@functools.lru_cache(maxsize=4)
def signing_key(secret: str) -> bytes:
    """The request-signing key: derived from SALESBOT_SECRET, which also signs the login tokens and
    therefore never serves as a key for anything else directly."""
    return hmac.new(secret.encode("utf-8"), _KEY_LABEL, hashlib.sha256).digest()


def _signature(key: bytes, timestamp: str, nonce: str, body: bytes) -> str:
    message = timestamp.encode("ascii") + b"." + nonce.encode("ascii") + b"." + body
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign(body: bytes, key: bytes, now: float | None = None) -> dict[str, str]:
    """The headers that make ``body`` (the exact bytes sent) a request the action server accepts once."""
    timestamp = str(int(time.time() if now is None else now))
    nonce = secrets.token_hex(16)
    return {TIMESTAMP_HEADER: timestamp, NONCE_HEADER: nonce, SIGNATURE_HEADER: _signature(key, timestamp, nonce, body)}


class ReplayGuard:
    """Checks signed requests and remembers the accepted ones while they are fresh (bounded).

    When full of signatures that are all still fresh, a new request is refused ("busy") rather than
    forgetting one that could then be replayed; only authentic requests are remembered, so only the
    holder of the key can fill it.
    """

    def __init__(self, max_entries: int = MAX_REMEMBERED, max_age: int = MAX_AGE_SECONDS) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()  # signature -> when it may be forgotten
        self._max_entries, self._max_age = max_entries, max_age
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def check(self, header: Callable[[str], str | None], body: bytes, key: bytes,
              now: float | None = None) -> str | None:
        """None if the request is authentic, fresh and new (it is remembered); else why not."""
        now = time.time() if now is None else now
        timestamp, nonce, given = header(TIMESTAMP_HEADER), header(NONCE_HEADER), header(SIGNATURE_HEADER)
        if not timestamp or not nonce or not given:
            return "unsigned"
        if not (timestamp.isascii() and timestamp.isdigit() and nonce.isascii() and len(nonce) <= 64):
            return "malformed"
        if abs(now - int(timestamp)) > self._max_age:
            return "stale"
        if not same_secret(_signature(key, timestamp, nonce, body), given):
            return "bad signature"
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < now:
                self._seen.popitem(last=False)
            if given in self._seen:
                return "replayed"
            if len(self._seen) >= self._max_entries:
                return "busy"
            # Kept until its timestamp can no longer pass the freshness check.
            self._seen[given] = int(timestamp) + self._max_age
        return None
