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
from dataclasses import dataclass

import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import throttle
from bot.db import sessions
from bot.models import User
from bot.passwords import DUMMY_HASH, hash_password, needs_rehash, verify_password
from bot.settings import get_settings

ALGORITHM = "HS256"
TOKEN_TTL_SECONDS = 8 * 3600  # API tokens (POST /api/token): one working day
CHAT_TOKEN_TTL_SECONDS = 15 * 60  # the widget's socket.io token; the page renews it


@dataclass(frozen=True)
class Identity:
    """A verified user: only ever built from a signed token or session, or from a user row."""

    login: str
    role: str
    name: str


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
    """The outcome of a login attempt: a user, or a refusal (``wait_seconds`` > 0: throttled)."""

    user: User | None = None
    wait_seconds: int = 0

    @property
    def error(self) -> str | None:
        if self.user is not None:
            return None
        if self.wait_seconds:
            return throttle.wait_message(self.wait_seconds)
        return "用户名或密码错误。"


def log_in(login: str, password: str, address: str | None) -> LoginResult:
    """Check a login attempt against the throttle and the password (blocking: ~0.4 s of scrypt).

    The returned user is detached from its session (safe to read after return).
    """
    keys = [throttle.login_key(login), throttle.address_key(address)]
    factory = sessions()
    with factory.begin() as session:
        wait = throttle.wait_seconds(session, keys)
    if wait:
        return LoginResult(wait_seconds=wait)
    with factory.begin() as session:
        user = authenticate(session, login, password)
        if user is not None:
            throttle.clear(session, keys[0])
            session.flush()
            session.expunge(user)
            return LoginResult(user=user)
    throttle.record_failure_retrying(factory, keys)
    return LoginResult()


def revoke_tokens(user: User) -> None:
    """Invalidate every session, API token and chat token the user holds (caller commits)."""
    user.token_version = (user.token_version or 0) + 1


def issue_token(user: User, purpose: str = "api", ttl: int = TOKEN_TTL_SECONDS, **claims) -> str:
    now = int(time.time())
    payload = {"sub": user.login, "role": user.role, "name": user.name, "purpose": purpose,
               "ver": user.token_version or 0, "iat": now, "exp": now + ttl, **claims}
    return jwt.encode(payload, get_settings().secret, algorithm=ALGORITHM)


def read_token(token: str | None, purpose: str = "api") -> dict | None:
    """The token's claims if it is ours, unexpired and for ``purpose``; else None.

    Signature and expiry only: whether the user still holds it is ``user_for_claims``.
    """
    if not token:
        return None
    try:
        claims = jwt.decode(token, get_settings().secret, algorithms=[ALGORITHM],
                            options={"require": ["exp", "sub", "role"]})
    except jwt.PyJWTError:
        return None
    return claims if claims.get("purpose") == purpose else None


def user_for_claims(session: Session, claims: dict | None) -> User | None:
    """The user the claims name, if they exist, are active and the token version still matches."""
    if not claims or not isinstance(claims.get("sub"), str):
        return None
    user = _find_user(session, claims["sub"])
    if user is None or not user.active or claims.get("ver") != (user.token_version or 0):
        return None
    return user


def identity_of_user(user: User) -> Identity:
    return Identity(user.login, user.role, user.name)


def identity_from_token(token: str | None, purpose: str = "api") -> Identity | None:
    """The token's user as they are now in the database, or None (blocking: one query)."""
    claims = read_token(token, purpose)
    if claims is None:
        return None
    with sessions().begin() as session:
        user = user_for_claims(session, claims)
        return identity_of_user(user) if user is not None else None


def bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None
