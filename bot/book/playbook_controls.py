"""A supervisor's controls of what the learner recommends (issue 24, point 4): pin a style for a segment,
exclude styles, or switch learning off; every change is recorded in the change log. The learner reads them
(bot.learning.store.controls)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.book import changes
from bot.learning.store import OPENING, forget, segment_labels
from bot.models import ALL_SEGMENTS, LEARNING_KINDS, LearningControl, User
from bot.playbook import OPENING_STYLES, playbook


class ControlRefused(ValueError):
    """A control that cannot be set; the message is for the supervisor."""


def set_control(session: Session, *, user: User, segment: str, now: datetime, pinned: str | None = None,
                excluded: Sequence[str] = (), learning: bool = True, kind: str = OPENING) -> LearningControl:
    """Set a segment's (or ALL_SEGMENTS') control and record the change (who, when, before and after)."""
    texts = playbook().messages.learning_texts
    if kind not in LEARNING_KINDS:
        raise ControlRefused(texts["bad_kind"])
    if segment != ALL_SEGMENTS and segment not in segment_labels():
        raise ControlRefused(texts["bad_segment"])
    unknown = [style for style in (pinned, *excluded) if style is not None and style not in OPENING_STYLES]
    if unknown:
        raise ControlRefused(texts["bad_style"])
    if pinned is not None and pinned in excluded:
        raise ControlRefused(texts["pinned_excluded"])
    row = session.scalars(select(LearningControl).where(LearningControl.kind == kind,
                                                        LearningControl.segment == segment)).first()
    before = {"pinned": row.pinned, "excluded": list(row.excluded or ()), "learning": row.learning} if row else {}
    values = {"pinned": pinned, "excluded": sorted(set(excluded)), "learning": bool(learning)}
    if row is None:
        row = LearningControl(kind=kind, segment=segment)
        session.add(row)
    row.pinned, row.excluded, row.learning = values["pinned"], values["excluded"], values["learning"]
    row.changed_by, row.changed_at = user.id, now
    session.flush()
    changes.record(session, user=user, kind="learning", entity="learning_control", entity_id=row.id,
                   detail={"segment": segment, "kind": kind, **changes.diff(before, values)}, at=now)
    forget()
    return row
