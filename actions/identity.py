"""Who sent the latest message: the login and token version our channel verified and signed."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from sqlalchemy.orm import Session

from bot import crm
from bot.auth import Identity, identity_of_user
from bot.models import User


def _signed(tracker: Tracker) -> dict[str, Any]:
    """The channel's metadata on the latest message: who sent it, under which token version."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            metadata = event.get("metadata")
            return metadata if isinstance(metadata, dict) else {}
    return {}


def verified_login(tracker: Tracker) -> str | None:
    """Who sent the latest message: the login our token-checking channel bound to it.

    Nothing else counts (no slot, no earlier message, no entity): the action server only
    answers Rasa (shared secret), and Rasa's channels take the login from the signed token.
    """
    login = _signed(tracker).get("login")
    return str(login) if login else None


def user_refusal(user: User | None, tracker: Tracker, *, need_version: bool = False) -> str | None:
    """Why the user behind the latest message may not act now (a reason for logs), else None.

    The token version the channel verified (metadata ``ver``) must still be the user's: a logout,
    password reset or deactivation since then bumps it (bot/auth.py). ``need_version``: a message
    without one is refused too (a replay, which cannot tell what happened since).
    """
    if user is None:
        return "unknown_user"
    if not user.active:
        return "inactive_user"
    version = _signed(tracker).get("ver")
    if version is None:
        return "no_token_version" if need_version else None
    return "token_revoked" if version != (user.token_version or 0) else None


def acting_user(session: Session, tracker: Tracker) -> tuple[User | None, Identity | None]:
    """The active user behind the latest message and their identity (role from the CRM)."""
    user = crm.get_user(session, verified_login(tracker))
    if user_refusal(user, tracker):
        return None, None
    return user, identity_of_user(user)
