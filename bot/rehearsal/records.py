"""Rehearsal records and coaching comments in the CRM database (issue 10, point 4).

Pure functions over a SQLAlchemy session (the caller owns the transaction). Who may do what:

* saving a rehearsal: any verified, active user (a trainee, or an agent or supervisor
  practising), and only as their own: the record is filed under the caller's identity, and a
  transcript id already owned by someone else (another user's rehearsal, a live call) is refused;
* listing rehearsals: a trainee or agent sees their own, a supervisor sees everyone's;
* per-day averages (the progress charts): a supervisor gets everyone's, anyone else their own;
* coaching comments: supervisors write them on any rehearsal or live transcript they may read
  (``bot.access.may_read_conversation``); the transcript's owner and supervisors read them;
* disputes (issue 20): whoever rehearsed disputes one item of the card below full points with a
  sentence, once per item; a supervisor accepts (the item gets its full points, the total is
  recomputed under the card's caps) or rejects with a comment; they see every dispute, anyone
  else their own.

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
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import access, clock
from bot.auth import Identity
from bot.models import ROLES, CoachingComment, Rehearsal, RehearsalDispute, User
from bot.rehearsal.roleplay import ABANDONED, OUTCOMES
from bot.rehearsal.rubric import rubric
from bot.rehearsal.turns import SPEAKERS, ScoreCard
from bot.text import blank

MAX_COMMENT_CHARS = 2000
MAX_DISPUTE_CHARS = 500  # the trainee's sentence
MAX_ENDING_CHARS = 64  # Rehearsal.ending


class DisputeConflict(ValueError):
    """A dispute that clashes with one already there: the item was disputed, the dispute answered."""


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
        ending=card.ending[:MAX_ENDING_CHARS] if card.ending else None, ending_cap=card.ending_cap,
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


# --- disputes --------------------------------------------------------------------------------

def _capped(rehearsal: Rehearsal, total: int) -> int:
    """``total`` under the caps the scorer put on this card (bot/rehearsal/scoring.py): the
    rubric's cap when a forbidden phrase was flagged, the ending's cap for a hung-up or abandoned
    call."""
    if rehearsal.flags:
        total = min(total, rubric().cap)
    if rehearsal.ending_cap is not None:
        total = min(total, rehearsal.ending_cap)
    return total


def _recomputed_total(rehearsal: Rehearsal, items: Sequence[Mapping[str, Any]]) -> int:
    """The total of ``items`` (the card after a change) as the scorer would have capped it."""
    cap = _capped(rehearsal, sum(int(item["points"]) for item in rehearsal.items or ()))
    total = _capped(rehearsal, sum(int(item["points"]) for item in items))
    if rehearsal.ending_cap is None and rehearsal.total is not None and rehearsal.total < cap:
        # Kept before the ending's cap was stored (revision 0011): the total was held under a cap
        # nobody recorded, and it stays held at what it was.
        total = min(total, rehearsal.total)
    return total


def _item(rehearsal: Rehearsal, item_key: Any) -> dict[str, Any] | None:
    if not isinstance(item_key, str):
        return None
    return next((dict(item) for item in rehearsal.items or () if item.get("key") == item_key), None)


def _row_id(value: Any) -> int | None:
    """A database id from a route or a caller: an integer the database can hold, else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2 ** 63 else None


def _visible_chars(text: str) -> int:
    return sum(not blank(char) for char in text)


def dispute(session: Session, identity: Identity | None, rehearsal_id: int, item_key: str, text: str, *,
            now: datetime | None = None) -> RehearsalDispute:
    """Whoever rehearsed disputes one item of the card that is below its full points, with one
    sentence (1-500 visible characters). Each item is disputed once: an open or answered dispute
    of the same item refuses another (``DisputeConflict``)."""
    rehearsal = session.get(Rehearsal, _row_id(rehearsal_id)) if _row_id(rehearsal_id) else None
    if rehearsal is None:
        raise LookupError("没有这条练习记录。")
    user = _active_user(session, identity)
    if user is None or rehearsal.user_id != user.id:
        raise PermissionError("只有练习者本人可以对这次练习的评分提出申诉。")
    if rehearsal.total is None or not rehearsal.items:
        raise ValueError("这次练习没有评分，无法申诉。")
    item = _item(rehearsal, item_key)
    if item is None:
        raise ValueError("评分单上没有这一项，请选择要申诉的评分项。")
    # Before the points: an accepted dispute has given the item its full points since.
    if session.scalars(select(RehearsalDispute.id).where(RehearsalDispute.rehearsal_id == rehearsal.id,
                                                         RehearsalDispute.item_key == item_key)).first():
        raise DisputeConflict("这一项已经申诉过了，每一项只能申诉一次。")
    if int(item["points"]) >= int(item["max_points"]):
        raise ValueError("这一项已经是满分，无需申诉。")
    if not isinstance(text, str) or not _visible_chars(text):
        raise ValueError("请用一句话写明申诉理由。")
    text = text.strip()
    if len(text) > MAX_DISPUTE_CHARS:
        raise ValueError(f"申诉理由太长：最多{MAX_DISPUTE_CHARS}字，现在{len(text)}字。")
    row = RehearsalDispute(rehearsal_id=rehearsal.id, item_key=item_key, text=text, status="open",
                           created_at=now or clock.now(), points_before=int(item["points"]),
                           total_before=rehearsal.total)
    try:
        # A savepoint: a double click sends the same dispute twice; the second insert loses.
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise DisputeConflict("这一项已经申诉过了，每一项只能申诉一次。") from None
    return row


def disputes_for(session: Session, identity: Identity | None) -> list[RehearsalDispute]:
    """The disputes this user may see: a supervisor every one, open first, then answered ones,
    oldest first within each; anyone else their own (same order)."""
    user = _active_user(session, identity)
    if user is None:
        return []
    query = (select(RehearsalDispute)
             .order_by((RehearsalDispute.status != "open"), RehearsalDispute.created_at, RehearsalDispute.id))
    if not access.is_supervisor(identity):
        query = query.join(Rehearsal, RehearsalDispute.rehearsal_id == Rehearsal.id).where(Rehearsal.user_id == user.id)
    return list(session.scalars(query).unique())


def disputes_of(session: Session, identity: Identity | None, rehearsal: Rehearsal) -> list[RehearsalDispute]:
    """The disputes of one rehearsal the caller may already read (``rehearsal_for``), in card order."""
    if _active_user(session, identity) is None:
        return []
    rows = {d.item_key: d for d in session.scalars(
        select(RehearsalDispute).where(RehearsalDispute.rehearsal_id == rehearsal.id)).unique()}
    return [rows[item["key"]] for item in rehearsal.items or () if item.get("key") in rows]


def resolve_dispute(session: Session, identity: Identity | None, dispute_id: int, accept: bool, comment: str | None,
                    *, now: datetime | None = None) -> RehearsalDispute:
    """A supervisor answers an open dispute. Accepted: the item gets its full points and the total
    is the sum of the items under the card's caps (``_capped``). Rejected: nothing changes, and the
    comment saying why is required. Either way the item's points and the total before and after,
    the supervisor and the time are recorded. Nobody answers a dispute of their own rehearsal."""
    resolver = _active_user(session, identity) if access.is_supervisor(identity) else None
    if resolver is None:
        raise PermissionError("只有主管可以处理评分申诉。")
    if not isinstance(accept, bool):
        raise ValueError("请选择接受还是驳回这条申诉。")
    if comment is not None and not isinstance(comment, str):
        raise ValueError("处理意见必须是一段文字。")
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise ValueError(f"处理意见太长：最多{MAX_COMMENT_CHARS}字，现在{len(comment)}字。")
    if not accept and not _visible_chars(comment):
        raise ValueError("驳回申诉时请写明理由。")
    row = session.get(RehearsalDispute, _row_id(dispute_id)) if _row_id(dispute_id) else None
    if row is None:
        raise LookupError("没有这条申诉。")
    # Two supervisors answering disputes of one card at once: the second waits for the first's items.
    rehearsal = session.get(Rehearsal, row.rehearsal_id, with_for_update=True, populate_existing=True)
    if rehearsal.user_id == resolver.id:
        raise PermissionError("不能处理自己练习的评分申诉，请由其他主管处理。")
    if row.status != "open":
        raise DisputeConflict("这条申诉已处理，不能再改。")
    item = _item(rehearsal, row.item_key)
    if item is None:  # the card no longer has the item: nothing to give points to
        raise ValueError("评分单上已没有这一项，无法处理。")
    points_before, total_before = int(item["points"]), rehearsal.total
    points_after, total_after = points_before, total_before
    if accept:
        points_after = int(item["max_points"])
        items = [dict(i, points=points_after) if i.get("key") == row.item_key else dict(i)
                 for i in rehearsal.items]
        total_after = _recomputed_total(rehearsal, items)
        rehearsal.items, rehearsal.total = items, total_after  # a new list: the JSON column sees the change
    row.status = "accepted" if accept else "rejected"
    row.resolver, row.resolved_at, row.comment = resolver, now or clock.now(), comment or None
    row.points_before, row.points_after = points_before, points_after
    row.total_before, row.total_after = total_before, total_after
    session.flush()
    return row
