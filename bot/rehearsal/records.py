"""Rehearsal records and coaching comments in the CRM database (issue 10, point 4).

Pure functions over a SQLAlchemy session (the caller owns the transaction). Who may do what:

* saving a rehearsal: any verified, active user (a trainee, or an agent or supervisor
  practising), and only as their own: the record is filed under the caller's identity, and a
  transcript id already owned by someone else (another user's rehearsal, a live call) is refused;
* listing rehearsals: a trainee or agent sees their own, a supervisor sees everyone's;
* per-day averages (the progress charts): a supervisor gets everyone's, anyone else their own;
* coaching comments: supervisors write them on any rehearsal or live transcript they may read
  (``bot.access.may_read_conversation``); the transcript's owner and supervisors read them.

The role rules themselves live in ``bot.access``; this module only combines them. Every refusal
raises before anything is written (``PermissionError`` / ``ValueError`` / ``LookupError``, each
with a Chinese message the caller can show as is).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import access
from bot.auth import Identity
from bot.models import ROLES, CoachingComment, Rehearsal, User
from bot.rehearsal.roleplay import ABANDONED, OUTCOMES
from bot.rehearsal.turns import SPEAKERS, ScoreCard

MAX_COMMENT_CHARS = 2000


def _active_user(session: Session, identity: Identity | None) -> User | None:
    """The active user row behind a verified identity (None for no user or a stale one)."""
    if identity is None or identity.role not in ROLES:
        return None
    user = session.scalars(select(User).where(User.login == identity.login)).first()
    return user if user is not None and user.active and user.role == identity.role else None


def _rehearsal_owner(session: Session, conversation_id: str) -> str | None:
    """The login of whoever rehearsed in this transcript, None if it is no rehearsal's."""
    rehearsal = session.scalars(
        select(Rehearsal).where(Rehearsal.conversation_id == conversation_id).order_by(Rehearsal.id)
    ).first()
    return rehearsal.user.login if rehearsal is not None else None


def _owner(session: Session, conversation_id: str) -> str | None:
    """Who a transcript belongs to: its owner per ``bot.access``, else the rehearsal's trainee."""
    return access.conversation_owner(session, conversation_id) or _rehearsal_owner(session, conversation_id)


def _may_read(session: Session, identity: Identity | None, conversation_id: str) -> bool:
    if access.may_read_conversation(session, identity, conversation_id):
        return True
    return identity is not None and _owner(session, conversation_id) == identity.login


def _turn_json(turn: Mapping[str, Any]) -> dict[str, Any]:
    if turn.get("speaker") not in SPEAKERS or not isinstance(turn.get("text"), str):
        raise ValueError("练习记录的对话内容无效。")
    return {"speaker": turn["speaker"], "text": turn["text"], "objection": turn.get("objection"),
            "functions": [str(f) for f in turn.get("functions") or ()]}


# --- rehearsals ------------------------------------------------------------------------------

def save_rehearsal(session: Session, *, user: Identity | None, scenario_id: str, conversation_id: str | None,
                   started_at: datetime, ended_at: datetime | None, outcome: str | None,
                   card: ScoreCard, turns: Sequence[Mapping[str, Any]] = ()) -> Rehearsal:
    """File a finished (or abandoned) rehearsal with its score card under ``user``, the verified
    identity of whoever rehearsed. Binds an unowned transcript id to them. ``turns`` is the
    transcript the card was scored on (speaker, text, objection, functions per line)."""
    row = _active_user(session, user)
    if row is None:
        raise PermissionError("只有已登录的用户才能保存自己的练习记录。")
    scenario_id = (scenario_id or "").strip()
    if not scenario_id or len(scenario_id) > 64:
        raise ValueError("练习场景编号无效。")
    if conversation_id is not None and not (0 < len(conversation_id) <= 128):
        raise ValueError("对话编号无效。")
    if outcome is not None and outcome not in (*OUTCOMES, ABANDONED):
        raise ValueError(f"练习结果无效：{outcome}。")
    if ended_at is not None and ended_at < started_at:
        raise ValueError("练习结束时间早于开始时间。")
    if conversation_id is not None:
        owner = _owner(session, conversation_id)  # a live call's or someone else's rehearsal: refused
        if (owner is not None and owner != user.login) or not access.claim_conversation(
                session, conversation_id, user):
            raise PermissionError("这段对话不是您的练习，不能保存为您的练习记录。")
    if conversation_id is not None:
        # The same rehearsal filed again (a retried action): the record it already has.
        again = session.scalars(select(Rehearsal).where(
            Rehearsal.conversation_id == conversation_id, Rehearsal.user_id == row.id,
            Rehearsal.scenario_id == scenario_id, Rehearsal.started_at == started_at)).first()
        if again is not None:
            return again
    rehearsal = Rehearsal(
        user_id=row.id, scenario_id=scenario_id, conversation_id=conversation_id,
        started_at=started_at, ended_at=ended_at, outcome=outcome, total=card.total,
        items=[asdict(item) for item in card.items], flags=list(card.flags),
        turns=[_turn_json(turn) for turn in turns],
    )
    session.add(rehearsal)
    session.flush()
    return rehearsal


def rehearsals_for(session: Session, identity: Identity | None) -> list[Rehearsal]:
    """The rehearsals this user may see, newest first: their own; a supervisor's: everyone's."""
    query = select(Rehearsal).order_by(Rehearsal.started_at.desc(), Rehearsal.id.desc())
    if not access.is_supervisor(identity):
        if _active_user(session, identity) is None:
            return []
        query = query.join(User, Rehearsal.user_id == User.id).where(User.login == identity.login)
    return list(session.scalars(query).unique())


def average_by_trainee(session: Session, identity: Identity | None) -> dict[str, list[tuple[date, float]]]:
    """For the progress charts: per login of whoever rehearsed, the average score of each day they
    rehearsed, oldest day first, rounded to one decimal. A supervisor gets everyone (the review
    chart); anyone else their own series only (their progress). Rehearsals without a score are
    left out."""
    totals: dict[str, dict[date, list[int]]] = defaultdict(lambda: defaultdict(list))
    for rehearsal in reversed(rehearsals_for(session, identity)):
        if rehearsal.total is not None:
            totals[rehearsal.user.login][rehearsal.started_at.date()].append(rehearsal.total)
    return {
        login: [(day, round(sum(scores) / len(scores), 1)) for day, scores in sorted(days.items())]
        for login, days in sorted(totals.items())
    }


def rehearsal_for(session: Session, identity: Identity | None, rehearsal_id: int) -> Rehearsal:
    """One rehearsal, for its trainee or a supervisor (LookupError / PermissionError otherwise)."""
    rehearsal = session.get(Rehearsal, rehearsal_id)
    if rehearsal is None:
        raise LookupError("没有这条练习记录。")
    if not access.is_supervisor(identity) and (
            _active_user(session, identity) is None or rehearsal.user.login != identity.login):
        raise PermissionError("这是其他学员的练习记录，您无权查看。")
    return rehearsal


# --- coaching comments -----------------------------------------------------------------------

def add_comment(session: Session, identity: Identity | None, conversation_id: str, body: str) -> CoachingComment:
    """A supervisor's coaching comment on a rehearsal's or a live call's transcript."""
    if not access.is_supervisor(identity):
        raise PermissionError("只有主管可以写辅导点评。")
    author = _active_user(session, identity)
    if author is None:
        raise PermissionError("只有主管可以写辅导点评。")
    text = (body or "").strip()
    if not text:
        raise ValueError("点评内容不能为空。")
    if len(text) > MAX_COMMENT_CHARS:
        raise ValueError(f"点评内容太长：最多{MAX_COMMENT_CHARS}字，现在{len(text)}字。")
    if not conversation_id or _owner(session, conversation_id) is None:
        raise LookupError("找不到这段对话，无法点评。")
    if not _may_read(session, identity, conversation_id):
        raise PermissionError("您无权查看这段对话，不能点评。")
    comment = CoachingComment(conversation_id=conversation_id, author_id=author.id, body=text)
    session.add(comment)
    session.flush()
    return comment


def comments_for(session: Session, identity: Identity | None, conversation_id: str) -> list[CoachingComment]:
    """The coaching comments on a transcript, oldest first: for its owner and for supervisors."""
    if not _may_read(session, identity, conversation_id):
        raise PermissionError("您无权查看这段对话的点评。")
    query = (select(CoachingComment).where(CoachingComment.conversation_id == conversation_id)
             .order_by(CoachingComment.created_at, CoachingComment.id))
    return list(session.scalars(query).unique())
