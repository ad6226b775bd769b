"""The team's accounts (issue 21): list, create with a one-time password, disable, enable, reset, and
the user's own change of a one-time password. One core function per action: the command line
(``salesbot user``) and the supervisor's 账号 tab both call these, and each records its change in the
change log in the same transaction. A change says what changed, never a password or a hash.

A one-time password (generated here, shown once to whoever created or reset the account) sets
``User.must_change_password``: until the user has chosen their own password, the web app shows them
only the page to set it and the JSON API refuses them (bot/web)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import clock, labels, throttle
from bot.auth import revoke_tokens
from bot.book import changes
from bot.book.assignment import return_to_pool
from bot.crm import get_user
from bot.models import ROLES, Client, ConversationOwner, User
from bot.passwords import hash_password, verify_password
from bot.playbook import playbook

MIN_PASSWORD_CHARS = 8
LOGIN_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MAX_NAME_CHARS = 64
# One-time passwords: read aloud or copied, so no 0/O, 1/l/I; 12 of 55 characters is about 69 bits.
ONE_TIME_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz"
ONE_TIME_CHARS = 12
USER = "user"  # Change.entity of an account


class AccountError(ValueError):
    """A refused account action; the message is for the user (Chinese). ``status``: the HTTP status
    the web app answers with (400 bad input, 403 refused, 404 no such user, 409 exists)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Issued:
    """An account created or reset, with the one-time password to show once (None: the password was
    chosen by whoever typed it, on the command line)."""

    user: User
    one_time_password: str | None = None


def _text(key: str) -> str:
    return playbook().messages.account_texts[key]


def password_problem(password: Any, repeat: Any = None) -> str | None:
    """Why ``password`` may not be a user's own password (Chinese), or None. ``repeat``: the second
    typing, when there was one."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_CHARS:
        return _text("password_too_short").format(min=MIN_PASSWORD_CHARS)
    if repeat is not None and repeat != password:
        return _text("password_mismatch")
    return None


def one_time_password() -> str:
    return "".join(secrets.choice(ONE_TIME_ALPHABET) for _ in range(ONE_TIME_CHARS))


def find(session: Session, login: Any) -> User:
    """The account ``login`` names (AccountError 404 if none)."""
    user = get_user(session, login.strip()) if isinstance(login, str) else None
    if user is None:
        raise AccountError(_text("not_found").format(login=login), 404)
    return user


def accounts(session: Session) -> list[dict[str, Any]]:
    """Every account, supervisors' view: by role, then login; with the number of clients assigned and
    when they last started a conversation (logins themselves are not recorded)."""
    users = list(session.scalars(select(User).order_by(User.role, User.login)))
    assigned = dict(session.execute(select(Client.agent_id, func.count()).where(Client.agent_id.is_not(None))
                                    .group_by(Client.agent_id)).all())
    last_active = dict(session.execute(select(ConversationOwner.user_id, func.max(ConversationOwner.created_at))
                                       .group_by(ConversationOwner.user_id)).all())
    return [account_json(u, assigned.get(u.id, 0), last_active.get(u.id)) for u in users]


def account_json(user: User, clients: int = 0, last_active: datetime | None = None) -> dict[str, Any]:
    return {"login": user.login, "name": user.name, "role": user.role,
            "role_label": labels.roles().get(user.role, user.role), "active": bool(user.active),
            "must_change_password": bool(user.must_change_password), "clients": clients,
            "last_active_at": last_active.isoformat() if last_active else None,
            "created_at": user.created_at.isoformat() if user.created_at else None}


def _record(session: Session, by: User | None, user: User, detail: dict[str, Any]) -> None:
    session.flush()  # the new account's id
    changes.record(session, user=by, kind="account", entity=USER, entity_id=user.id,
                   detail={"login": user.login, **detail})


def check_new_account(session: Session, login: Any, name: Any, role: Any) -> tuple[str, str]:
    """(login, name) stripped, if an account may be created with them (else AccountError)."""
    login = login.strip() if isinstance(login, str) else ""
    name = name.strip() if isinstance(name, str) else ""
    if not LOGIN_PATTERN.fullmatch(login):
        raise AccountError(_text("login_invalid"))
    if not name or len(name) > MAX_NAME_CHARS:
        raise AccountError(_text("name_invalid").format(max=MAX_NAME_CHARS))
    if role not in ROLES:
        raise AccountError(_text("role_invalid"))
    if get_user(session, login) is not None:
        raise AccountError(_text("exists").format(login=login), 409)
    return login, name


def create(session: Session, *, by: User | None, login: Any, name: Any, role: Any,
           password: str | None = None) -> Issued:
    """A new active account. Without ``password`` it gets a one-time password (returned, shown once)
    and must choose its own at its first login; with one (typed on the command line) it keeps it."""
    login, name = check_new_account(session, login, name, role)
    if password is not None and (problem := password_problem(password)):
        raise AccountError(problem)
    one_time = one_time_password() if password is None else None
    user = User(login=login, name=name, role=role, password_hash=hash_password(password or one_time),
                active=True, must_change_password=one_time is not None)
    session.add(user)
    _record(session, by, user, {"name": [None, name], "role": [None, role], "active": [None, True],
                                "must_change_password": [None, one_time is not None]})
    return Issued(user, one_time)


def disable(session: Session, *, by: User | None, login: Any, now: datetime | None = None) -> tuple[User, int]:
    """Deactivate an account: every session and token it holds stops working at once, and the
    clients assigned to it go back to the unassigned pool. Returns the account and how many clients
    went back. Nobody disables their own account (the last supervisor could lock everyone out)."""
    user = find(session, login)
    if by is not None and by.id == user.id:
        raise AccountError(_text("disable_self"), 403)
    was = bool(user.active)
    user.active = False
    revoke_tokens(user)
    returned = return_to_pool(session, user, by, now or clock.now())
    _record(session, by, user, {"active": [was, False], "tokens_revoked": True})
    return user, returned


def enable(session: Session, *, by: User | None, login: Any) -> User:
    """Reactivate an account (its old sessions and tokens stay revoked); its login lock is lifted."""
    user = find(session, login)
    was = bool(user.active)
    user.active = True
    throttle.clear_login(session, user.login)
    _record(session, by, user, {"active": [was, True]})
    return user


def reset(session: Session, *, by: User | None, login: Any, password: str | None = None) -> Issued:
    """A new password: a one-time one (returned, shown once; the user sets their own at the next
    login), or ``password`` as typed on the command line. Every session and token is revoked."""
    user = find(session, login)
    if password is not None and (problem := password_problem(password)):
        raise AccountError(problem)
    one_time = one_time_password() if password is None else None
    was = bool(user.must_change_password)
    user.password_hash = hash_password(password or one_time)
    user.must_change_password = one_time is not None
    revoke_tokens(user)
    throttle.clear_login(session, user.login)
    _record(session, by, user, {"password_reset": True, "must_change_password": [was, one_time is not None],
                                "tokens_revoked": True})
    return Issued(user, one_time)


def change_own_password(session: Session, login: str, password: Any, repeat: Any) -> User:
    """The user replaces their one-time password with their own (typed twice, not the one-time one).
    Every session and token of theirs is revoked: the caller gives the browser a new session."""
    user = find(session, login)
    problem = password_problem(password, repeat)
    if problem is None and verify_password(password, user.password_hash):
        problem = _text("password_same_as_one_time")
    if problem:
        raise AccountError(problem)
    was = bool(user.must_change_password)
    user.password_hash = hash_password(password)
    user.must_change_password = False
    revoke_tokens(user)
    _record(session, user, user, {"password_changed": True, "must_change_password": [was, False]})
    return user
