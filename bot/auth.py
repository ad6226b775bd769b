"""Logins, signed tokens and conversation ownership, shared by the web app and the Rasa channels."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import User
from bot.passwords import verify_password
from bot.settings import get_settings

ALGORITHM = "HS256"
TOKEN_TTL_SECONDS = 12 * 3600  # one working day


@dataclass(frozen=True)
class Identity:
    """A verified user: only ever built from a signed token or session, or from a user row."""

    login: str
    role: str
    name: str


def authenticate(session: Session, login: str, password: str) -> User | None:
    """The active user with this login and password, else None (same cost either way)."""
    user = session.scalars(select(User).where(User.login == (login or "").strip())).first()
    if user is None or not user.active:
        verify_password(password or "", _DUMMY_HASH)  # no timing hint about which logins exist
        return None
    return user if verify_password(password or "", user.password_hash) else None


_DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def issue_token(user: User, purpose: str = "api", ttl: int = TOKEN_TTL_SECONDS, **claims) -> str:
    now = int(time.time())
    payload = {"sub": user.login, "role": user.role, "name": user.name, "purpose": purpose,
               "iat": now, "exp": now + ttl, **claims}
    return jwt.encode(payload, get_settings().secret, algorithm=ALGORITHM)


def read_token(token: str | None, purpose: str = "api") -> dict | None:
    """The token's claims if it is ours, unexpired and for ``purpose``; else None."""
    if not token:
        return None
    try:
        claims = jwt.decode(token, get_settings().secret, algorithms=[ALGORITHM],
                            options={"require": ["exp", "sub", "role"]})
    except jwt.PyJWTError:
        return None
    return claims if claims.get("purpose") == purpose else None


def identity_from_token(token: str | None, purpose: str = "api") -> Identity | None:
    claims = read_token(token, purpose)
    if claims is None:
        return None
    return Identity(claims["sub"], claims["role"], claims.get("name", claims["sub"]))


def bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None
