"""The dashboard's counts of logged calls (``call_counts``): per agent and outcome, in all and per
opening style, segment and objection. Bumped in the transaction that logs or corrects an outcome
(bot.outcomes, the one writer of call rows), rebuilt from the calls by ``salesbot prepare`` and by the
demo loaders (which write call rows directly), so a year of calls is never scanned to draw the dashboard.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Text, cast, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.models import Call, CallCount
from bot.profile import OTHER_SEGMENT, profiles_of

OUTCOME, OPENING, SEGMENT, OBJECTION = "outcome", "opening", "segment", "objection"
Key = tuple[str, str, int, str]  # (dimension, key, agent id, disposition)


@dataclass(frozen=True)
class Counted:
    """What a logged call adds to the counts."""

    agent_id: int | None
    disposition: str | None
    opening_style: str | None
    segments: str | None  # comma-joined, as calls.segments
    objections: tuple[str, ...]

    @classmethod
    def of(cls, call: Call) -> Counted:
        return cls(call.agent_id, call.disposition, call.opening_style, call.segments, tuple(call.objections or ()))

    def counted_keys(self) -> list[Key]:
        if self.agent_id is None or not self.disposition:
            return []
        agent, disposition = self.agent_id, self.disposition
        keys = [(OUTCOME, "", agent, disposition)]
        if self.opening_style:
            keys.append((OPENING, self.opening_style, agent, disposition))
        keys += [(SEGMENT, code, agent, disposition) for code in (self.segments or "").split(",") if code] or [
            (SEGMENT, OTHER_SEGMENT, agent, disposition)]
        keys += [(OBJECTION, objection, agent, disposition) for objection in dict.fromkeys(self.objections)]
        return keys


def bump(session: Session, before: Counted | None, after: Counted) -> None:
    """A call logged (``before`` None) or corrected: its old contribution out, the new one in."""
    change: Counter[Key] = Counter(after.counted_keys())
    if before is not None:
        change.subtract(before.counted_keys())
    table = CallCount.__table__
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for (dimension, key, agent, disposition), delta in sorted(change.items()):
        if delta:
            statement = insert(table).values(dimension=dimension, key=key, agent_id=agent, disposition=disposition,
                                             calls=delta)
            session.execute(statement.on_conflict_do_update(
                index_elements=["dimension", "key", "agent_id", "disposition"],
                set_={"calls": table.c.calls + delta}))


def rebuild(session: Session) -> int:
    """The counts computed again from every logged call (one grouped scan); returns the rows written. A call
    logged before its segments were kept counts in its client's segments of today."""
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        # No outcome is counted between reading the calls and writing the counts: its bump waits for this.
        session.execute(text("LOCK TABLE call_counts IN EXCLUSIVE MODE"))
    columns = (Call.agent_id, Call.disposition, Call.opening_style, Call.segments, cast(Call.objections, Text))
    logged = (Call.disposition.is_not(None), Call.agent_id.is_not(None))
    grouped = session.execute(select(*columns, func.count()).where(*logged, Call.segments.is_not(None))
                              .group_by(*columns)).all()
    older = session.execute(select(*columns, Call.client_id, func.count()).where(*logged, Call.segments.is_(None))
                            .group_by(*columns, Call.client_id)).all()
    profiles = profiles_of(session, {row[5] for row in older if row[5] is not None})
    for agent, disposition, style, _none, objections, client_id, number in older:
        segments = ",".join(profiles[client_id].segments) if client_id in profiles else ""
        grouped.append((agent, disposition, style, segments, objections, number))
    totals: Counter[Key] = Counter()
    for agent, disposition, style, segments, objections, number in grouped:
        counted = Counted(agent, disposition, style, segments, tuple(json.loads(objections or "[]") or ()))
        for key in counted.counted_keys():
            totals[key] += number
    session.execute(delete(CallCount))
    rows = [{"dimension": d, "key": k, "agent_id": a, "disposition": o, "calls": n}
            for (d, k, a, o), n in totals.items() if n]
    if rows:
        session.execute(CallCount.__table__.insert(), rows)
    return len(rows)


def read(session: Session, agent_id: int | None) -> dict[str, list[tuple[str, int, str, int]]]:
    """dimension -> [(key, agent id, disposition, calls)]: everyone's (None) or one agent's."""
    stmt = select(CallCount.dimension, CallCount.key, CallCount.agent_id, CallCount.disposition, CallCount.calls) \
        .where(CallCount.calls != 0)
    if agent_id is not None:
        stmt = stmt.where(CallCount.agent_id == agent_id)
    found: dict[str, list[tuple[str, int, str, int]]] = {OUTCOME: [], OPENING: [], SEGMENT: [], OBJECTION: []}
    for dimension, key, agent, disposition, calls in session.execute(stmt):
        found.setdefault(dimension, []).append((key, agent, disposition, calls))
    return found


def by_key(rows: Iterable[tuple[str, int, str, int]]) -> list[tuple[str, str, int]]:
    """(key, disposition, calls) summed over agents."""
    summed: Counter[tuple[str, str]] = Counter()
    for key, _agent, disposition, calls in rows:
        summed[(key, disposition)] += calls
    return [(key, disposition, calls) for (key, disposition), calls in summed.items()]
