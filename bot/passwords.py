"""Password hashing with scrypt (a memory-hard KDF from the standard library).

Parameters follow OWASP's current recommendation for scrypt: N=2**17, r=8, p=1
(128 MiB and roughly a third of a second per hash). Stored hashes carry their own
parameters, so older, weaker hashes still verify; ``needs_rehash`` tells the login
code to replace them with the current strength.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading

_N, _R, _P = 2**17, 8, 1
_DKLEN = 32
# Refuse absurd parameters in a stored hash (a corrupted row must not eat the server's memory).
_MAX_N, _MAX_R, _MAX_P = 2**20, 16, 4
# Each hash needs 128*r*(N+p+2) bytes: at most this many at once per process, so a
# burst of logins cannot exhaust memory (and CPU-bound work gains nothing beyond the cores).
_SLOTS = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))

# Verified against for unknown or disabled logins: costs exactly as much as a real hash.
DUMMY_HASH = f"scrypt${_N}${_R}${_P}$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _maxmem(n: int, r: int, p: int) -> int:
    """OpenSSL's memory limit for these parameters, with a little headroom."""
    return 128 * r * (n + p + 2) + 1024 * 1024


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    with _SLOTS:
        return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen,
                              maxmem=_maxmem(n, r, p))


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _N, _R, _P, _DKLEN)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return None
        params = int(n), int(r), int(p)
        if not (1 < params[0] <= _MAX_N and 0 < params[1] <= _MAX_R and 0 < params[2] <= _MAX_P):
            return None
        return (*params, base64.b64decode(salt), base64.b64decode(digest))
    except (ValueError, TypeError, AttributeError):
        return None


def verify_password(password: str, stored: str) -> bool:
    parsed = _parse(stored)
    if parsed is None:
        return False
    n, r, p, salt, expected = parsed
    try:
        actual = _scrypt(password, salt, n, r, p, len(expected))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(stored: str) -> bool:
    """True if ``stored`` is weaker than the current parameters (rehash it after a good login)."""
    parsed = _parse(stored)
    if parsed is None:
        return True
    n, r, p, _salt, digest = parsed
    return n < _N or r < _R or p < _P or len(digest) < _DKLEN
