"""Logins, signed tokens and their revocation, shared by the web app and the Rasa channels.

Every token (API token, the widget's chat token, the session cookie) names its user
and carries the user's ``token_version`` (claim ``ver``). A token is only honoured
while that user exists, is active and still has that version: bumping the version
(logout, deactivation, password reset) revokes every token the user holds, at once,
in every process. ``identity_from_token`` therefore reads the database: call it from
async code with ``asyncio.to_thread``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import jwt
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot import throttle
from bot.db import sessions
from bot.models import User
from bot.passwords import DUMMY_HASH, hash_password, needs_rehash, verify_password
from bot.settings import get_settings

ALGORITHM = "HS256"
TOKEN_TTL_SECONDS = 8 * 3600  # API tokens (POST /api/token): one working day
CHAT_TOKEN_TTL_SECONDS = 15 * 60  # the widget's socket.io token; the page renews it
# What a token may be used for (claim ``purpose``): the JSON API takes "api" tokens (and the
# "session" cookie); the Rasa channels take "chat" tokens (the widget's) and "api" ones (REST clients).
API, CHAT, SESSION = "api", "chat", "session"
CHANNEL_PURPOSES = (API, CHAT)


@dataclass(frozen=True)
class Identity:
    """A verified user: only ever built from a signed token or session, or from a user row."""

    login: str
    role: str
    name: str
    # The token version it was verified under (claim ``ver``), when built from a user row: the
    # channels pass it on with each message, so a write replayed later is checked against it.
    token_version: int | None = field(default=None, compare=False)
    # Logged in with a one-time password a supervisor gave them: until they set their own, the web app
    # shows them only the page to set it and the JSON API refuses them (bot/web/session.py).
    must_change_password: bool = field(default=False, compare=False)


def _find_user(session: Session, login: str) -> User | None:
    return session.scalars(select(User).where(User.login == (login or "").strip())).first()


def authenticate(session: Session, login: str, password: str) -> User | None:
    """The active user with this login and password, else None (same cost either way).

    A stored hash weaker than today's parameters is replaced on success (the caller's
    transaction writes it).
    """
    user = _find_user(session, login)
    if user is None or not user.active:
        verify_password(password or "", DUMMY_HASH)  # no timing hint about which logins exist
        return None
    if not verify_password(password or "", user.password_hash):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a login attempt: a user, or a refusal (``wait_seconds`` > 0: throttled).

    On success, ``failed_logins`` is how many wrong passwords were typed for the user since
    their previous login (shown to them), and ``device_cookie`` the browser's new device cookie.
    """

    user: User | None = None
    wait_seconds: int = 0
    failed_logins: int = 0
    device_cookie: str | None = None

    @property
    def error(self) -> str | None:
        if self.user is not None:
            return None
        if self.wait_seconds:
            return throttle.wait_message(self.wait_seconds)
        return "用户名或密码错误。"


def log_in(login: str, password: str, address: str | None, device_cookie: str | None = None) -> LoginResult:
    """Check a login attempt against the throttle and the password (blocking: ~0.4 s of scrypt).

    The throttle counts failures per login and client address, or, from a browser whose device
    cookie proves an earlier login as this user, per that browser: nobody else's failures
    lock the user out of it. The returned user is detached from its session (safe to read after return).
    """
    device = throttle.known_device(device_cookie, login)
    key = throttle.device_key(login, device) if device else throttle.account_key(login, address)
    factory = sessions()
    with factory.begin() as session:
        wait = throttle.wait_seconds(session, [key])
    if wait:
        return LoginResult(wait_seconds=wait)
    with factory.begin() as session:
        user = authenticate(session, login, password)
        if user is not None:
            throttle.clear(session, key)
            failed, user.failed_logins = user.failed_logins or 0, 0
            session.flush()
            session.expunge(user)
            return LoginResult(user=user, failed_logins=failed,
                               device_cookie=throttle.remember_device(device_cookie, login))
        # Told to the user at their next login (nothing happens for a login that does not exist).
        session.execute(update(User).where(User.login == (login or "").strip())
                        .values(failed_logins=User.failed_logins + 1))
    throttle.record_failure_retrying(factory, [key])
    return LoginResult()


def revoke_tokens(user: User) -> None:
    """Invalidate every session, API token and chat token the user holds (caller commits)."""
    user.token_version = (user.token_version or 0) + 1


def issue_token(user: User, purpose: str = API, ttl: int = TOKEN_TTL_SECONDS, **claims) -> str:
    now = int(time.time())
    payload = {"sub": user.login, "role": user.role, "name": user.name, "purpose": purpose,
               "ver": user.token_version or 0, "iat": now, "exp": now + ttl, **claims}
    return jwt.encode(payload, get_settings().secret, algorithm=ALGORITHM)


def read_token(token: str | None, purpose: str | tuple[str, ...] = API) -> dict | None:
    """The token's claims if it is ours, unexpired and for ``purpose`` (or one of them); else None.

    Signature and expiry only: whether the user still holds it is ``user_for_claims``.
    """
    if not token:
        return None
    try:
        claims = jwt.decode(token, get_settings().secret, algorithms=[ALGORITHM],
                            options={"require": ["exp", "sub", "role"]})
    except jwt.PyJWTError:
        return None
    purposes = (purpose,) if isinstance(purpose, str) else purpose
    return claims if claims.get("purpose") in purposes else None


def user_for_claims(session: Session, claims: dict | None) -> User | None:
    """The user the claims name, if they exist, are active and the token version still matches."""
    if not claims or not isinstance(claims.get("sub"), str):
        return None
    user = _find_user(session, claims["sub"])
    if user is None or not user.active or claims.get("ver") != (user.token_version or 0):
        return None
    return user


def identity_of_user(user: User) -> Identity:
    return Identity(user.login, user.role, user.name, user.token_version or 0, bool(user.must_change_password))


def identity_from_token(token: str | None, purpose: str | tuple[str, ...] = API) -> Identity | None:
    """The token's user as they are now in the database, or None (blocking: one query)."""
    claims = read_token(token, purpose)
    if claims is None:
        return None
    with sessions().begin() as session:
        user = user_for_claims(session, claims)
        return identity_of_user(user) if user is not None else None


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None when there is none (or it is blank)."""
    if header and header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None
