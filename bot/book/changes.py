"""The change log: every import, edit, assignment, account and product change is recorded here (who,
when, what changed), in the same transaction as the change itself, and supervisors read it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import clock
from bot.models import CHANGE_KINDS, Change, User


def plain(value: Any) -> Any:
    """A value as JSON keeps it (dates as ISO text)."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def diff(before: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{field: [before, after]}`` for each of ``values`` that differs from ``before``'s value."""
    return {field: [plain(before.get(field)), plain(value)]
            for field, value in values.items() if before.get(field) != value}


def row(*, kind: str, entity: str, entity_id: int | None, detail: dict[str, Any], user: User | None,
        at: datetime, batch_id: int | None = None) -> dict[str, Any]:
    """One change as a row for ``record_many`` (the columns ``record`` fills)."""
    if kind not in CHANGE_KINDS:
        raise ValueError(f"unknown change kind {kind!r}")
    return {"at": at, "user_id": user.id if user is not None else None, "kind": kind, "entity": entity,
            "entity_id": entity_id, "detail": {k: plain(v) for k, v in detail.items()}, "batch_id": batch_id}


def record(session: Session, *, user: User | None, kind: str, entity: str, entity_id: int | None,
           detail: dict[str, Any], batch_id: int | None = None, at: datetime | None = None) -> Change:
    """Add one change to the session (flushed with the change it describes)."""
    change = Change(**row(kind=kind, entity=entity, entity_id=entity_id, detail=detail, user=user,
                          at=at or clock.now(), batch_id=batch_id))
    session.add(change)
    return change


def record_many(session: Session, rows: Iterable[dict[str, Any]]) -> int:
    """Bulk insert of change rows (dicts of Change's columns), for imports of thousands of rows."""
    rows = list(rows)
    if rows:
        session.execute(Change.__table__.insert(), rows)
    return len(rows)


def listing(session: Session, *, entity: str | None = None, entity_id: int | None = None,
            kind: str | None = None, limit: int = 500, offset: int = 0) -> list[Change]:
    """Changes, newest first, optionally for one entity (``entity``, ``entity_id``) or one kind."""
    query = select(Change).order_by(Change.at.desc(), Change.id.desc())
    if entity is not None:
        query = query.where(Change.entity == entity)
    if entity_id is not None:
        query = query.where(Change.entity_id == entity_id)
    if kind is not None:
        query = query.where(Change.kind == kind)
    return list(session.scalars(query.offset(offset).limit(limit)).unique())


def change_json(change: Change) -> dict[str, Any]:
    return {"id": change.id, "at": change.at.isoformat(), "by": change.user.login if change.user else None,
            "kind": change.kind, "entity": change.entity, "entity_id": change.entity_id,
            "detail": change.detail, "import_id": change.batch_id}
