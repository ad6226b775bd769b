"""The change log as supervisors read it (GET /api/changes, the 变更记录 tab): each change with its
kind's label, who made it, the name of what it is about, and one line of Chinese saying what changed
("分配 · 李四 · agent01 → agent02", "导入 · 张三 · 手机号 138****0001 → 138****0002").

Phone numbers in a change are always masked here: the log is for supervisors, who see a full number
only through the audited "show number". Labels come from bot/playbook/labels.yml (change_kinds,
change_fields, change_reasons)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import access, labels
from bot.book import changes
from bot.models import CHANGE_KINDS, STAGE_LABELS, Change, Client, Product, User
from bot.playbook import playbook

# What a change may be about (Change.entity), and the table that names it.
ENTITIES = {"client": Client, "product": Product, "user": User}


@dataclass(frozen=True)
class ChangeQuery:
    """The change log's filters: a kind, and an entity (with or without its id)."""

    kind: str | None = None
    entity: str | None = None
    entity_id: int | None = None

    @classmethod
    def parse(cls, args: Mapping[str, Any]) -> ChangeQuery:
        """From query parameters; ValueError with a Chinese message for a kind or entity that is none."""
        messages = playbook().messages
        kind, entity, entity_id = (args.get(name) or None for name in ("kind", "entity", "entity_id"))
        if kind is not None and kind not in CHANGE_KINDS:
            raise ValueError(messages.changes_unknown_kind.format(kind=kind))
        if entity is not None and entity not in ENTITIES:
            raise ValueError(messages.changes_unknown_entity.format(entity=entity))
        if entity_id is not None:
            if not (entity_id.isascii() and entity_id.isdigit() and len(entity_id) <= access.MAX_CLIENT_ID_DIGITS):
                raise ValueError(messages.changes_bad_entity_id)
            entity_id = int(entity_id)
        return cls(kind=kind, entity=entity, entity_id=entity_id)

    def page(self, session: Session, offset: int, limit: int) -> list[Change]:
        """One page of the matching changes, newest first (bot.book.changes.listing)."""
        return changes.listing(session, entity=self.entity, entity_id=self.entity_id, kind=self.kind,
                               offset=offset, limit=limit)

    def total(self, session: Session) -> int:
        stmt = select(func.count()).select_from(Change)
        wanted = ((Change.kind, self.kind), (Change.entity, self.entity), (Change.entity_id, self.entity_id))
        for column, value in wanted:
            if value is not None:
                stmt = stmt.where(column == value)
        return session.scalar(stmt) or 0


def entries(session: Session, rows: list[Change]) -> list[dict[str, Any]]:
    """``changes.change_json`` of each change, with what a supervisor reads: ``kind_label``,
    ``by_name``, ``entity_name`` and ``text`` (the whole change as one line)."""
    kinds = labels.change_log("change_kinds")
    names = _entity_names(session, rows)
    system = playbook().messages.change_by_system
    found = []
    for change in rows:
        entry = changes.change_json(change)
        entry["detail"] = _masked(entry["detail"])
        kind_label = kinds.get(change.kind, change.kind)
        entity_name = names.get((change.entity, change.entity_id), f"#{change.entity_id}")
        said = detail_text(change.kind, change.detail or {})
        entry.update(kind_label=kind_label, entity_name=entity_name,
                     by_name=change.user.name if change.user else system,
                     text=" · ".join(part for part in (kind_label, entity_name, said) if part))
        found.append(entry)
    return found


def detail_text(kind: str, detail: Mapping[str, Any]) -> str:
    """A change's detail in words: ``{field: [before, after]}`` as "手机号 138****0001 → 138****0002";
    an assignment's agent without the field's name ("agent01 → agent02"); a reason by its label."""
    fields, reasons = labels.change_log("change_fields"), labels.change_log("change_reasons")
    parts = []
    for key, value in detail.items():
        if key == "reason":
            parts.append(reasons.get(str(value), str(value)))
        elif isinstance(value, list) and len(value) == 2:
            moved = f"{_value(key, value[0])} → {_value(key, value[1])}"
            bare = key == "agent" and kind in ("assign", "unassign")  # the kind already says it is the agent
            parts.append(moved if bare else f"{fields.get(key, key)} {moved}")
        else:
            parts.append(f"{fields.get(key, key)} {_value(key, value)}")
    return "，".join(parts)


def _value(key: str, value: Any) -> str:
    messages = playbook().messages
    if value is None or value == "":
        return messages.change_no_agent if key == "agent" else messages.change_empty
    if isinstance(value, bool):
        return messages.change_yes if value else messages.change_no
    if key == "phone":
        return access.mask_phone(str(value))
    if key == "stage":
        return STAGE_LABELS.get(value, str(value))
    if key == "contact_source":
        return messages.contact_source_labels.get(value, str(value))
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _masked(detail: Any) -> Any:
    """The raw detail with phone fields masked (any form a number is kept in, landlines too)."""
    if not isinstance(detail, dict) or "phone" not in detail:
        return detail
    value = detail["phone"]
    shown = [access.mask_phone(str(v)) if v else v for v in (value if isinstance(value, list) else [value])]
    return {**detail, "phone": shown if isinstance(value, list) else shown[0]}


def _entity_names(session: Session, rows: list[Change]) -> dict[tuple[str, int], str]:
    """(entity, id) -> the name people know it by: a client's or product's name, an account's
    name with its login."""
    wanted: dict[str, set[int]] = {}
    for change in rows:
        if change.entity in ENTITIES and change.entity_id is not None:
            wanted.setdefault(change.entity, set()).add(change.entity_id)
    names: dict[tuple[str, int], str] = {}
    for entity, ids in wanted.items():
        table = ENTITIES[entity]
        for row in session.execute(select(table.id, table.name, *([User.login] if table is User else []))
                                   .where(table.id.in_(ids))):
            names[(entity, row.id)] = f"{row.name}（{row.login}）" if table is User else row.name
    return names
