"""The learner's data in the CRM: the evidence from the logged calls, the supervisors' controls, and what the
live bot needs for one client (``Learnt``). The guidance stays pure: it gets a ``Learnt`` in its Context.

The evidence is an aggregate (calls per segment, style, outcome and day) over the last HISTORY_DAYS, so
reading it costs the same with a year of calls as with a week's; it is kept per database for CACHE_SECONDS
(or until an outcome or a control is written in this process), as a nightly job would keep it.
"""

from __future__ import annotations

import random
import threading
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.learning.bandit import Choice, Control, Labels, choose
from bot.learning.estimates import HALF_LIFE_DAYS, Evidence, Outcome, evidence
from bot.models import ALL_SEGMENTS, Call, Client, LearningControl
from bot.outcomes import REACHED
from bot.playbook import playbook
from bot.profile import OTHER_SEGMENT, Profile, segment_choices

OPENING = "opening"
# Calls older than four half-lives weigh under 1/16: left out, so the aggregate stays small.
HISTORY_DAYS = 4 * HALF_LIFE_DAYS
CACHE_SECONDS = 300.0

_lock = threading.Lock()
_cache: dict[tuple[str, str, date], tuple[float, int, dict[tuple[str, str], Evidence]]] = {}
_versions = iter(range(1, 2**62))  # each table read from the CRM gets a new number (callers key on it)


def segment_labels() -> dict[str, str]:
    """Segment code -> label, the segment of clients in none last."""
    return {**segment_choices(), OTHER_SEGMENT: playbook().messages["segment_other"]}


def opening_labels(segment: str) -> Labels:
    """What a reason calls the segment and the styles (segments.yml, openings.yml)."""
    return Labels(OPENING, segment_labels().get(segment, segment),
                  {style: technique.name for style, technique in playbook().openings.items()})


def _day(value: Any) -> datetime:
    """A grouped day as a datetime at noon (SQLite gives text, PostgreSQL a date)."""
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return datetime.combine(day, datetime.min.time()) + timedelta(hours=12)


def opening_outcomes(session: Session, now: datetime, days: float = HISTORY_DAYS) -> list[Outcome]:
    """The reached calls with an opening style since ``days`` ago, grouped by segment, style, outcome and
    day. A call logged before its segment was recorded counts in its client's segment of today."""
    since = now - timedelta(days=days)
    day = func.date(Call.started_at)
    recorded = session.execute(
        select(Call.segment, Call.opening_style, Call.disposition, day, func.count())
        .where(Call.started_at >= since, Call.opening_style.is_not(None), Call.segment.is_not(None),
               Call.disposition.in_(sorted(REACHED)))
        .group_by(Call.segment, Call.opening_style, Call.disposition, day))
    rows = [Outcome(segment, style, disposition, _day(at), count)
            for segment, style, disposition, at, count in recorded]
    older = session.execute(
        select(Client, Call.opening_style, Call.disposition, Call.started_at).join(Call, Call.client_id == Client.id)
        .where(Call.started_at >= since, Call.opening_style.is_not(None), Call.segment.is_(None),
               Call.disposition.in_(sorted(REACHED))))
    segments: dict[int, str] = {}
    for client, style, disposition, at in older:
        if client.id not in segments:
            segments[client.id] = Profile.from_row(client).main_segment
        rows.append(Outcome(segments[client.id], style, disposition, at))
    return rows


def opening_evidence(session: Session, now: datetime) -> tuple[int, dict[tuple[str, str], Evidence]]:
    """(version, (segment, style) -> Evidence as of ``now``), kept for CACHE_SECONDS per database and day."""
    key = (str(session.get_bind().url), OPENING, now.date())
    with _lock:
        kept = _cache.get(key)
        if kept is not None and kept[0] > time.monotonic():
            return kept[1], kept[2]
    table = evidence(opening_outcomes(session, now), now)
    with _lock:
        version = next(_versions)
        _cache[key] = (time.monotonic() + CACHE_SECONDS, version, table)
    return version, table


def forget() -> None:
    """Drop the kept evidence: an outcome or a control was written (the next read counts it)."""
    with _lock:
        _cache.clear()


def controls(session: Session, kind: str = OPENING) -> dict[str, Control]:
    """segment -> the supervisors' control; a team-wide control (ALL_SEGMENTS) applies to every segment
    that has none of its own, and switching learning off team-wide wins over a segment's."""
    found = {row.segment: Control(row.pinned, frozenset(row.excluded or ()), row.learning)
             for row in session.scalars(select(LearningControl).where(LearningControl.kind == kind))}
    team = found.pop(ALL_SEGMENTS, None)
    if team is None:
        return found
    merged = {segment: Control(team.pinned, team.excluded, team.learning) for segment in segment_labels()}
    for segment, own in found.items():
        merged[segment] = Control(own.pinned, own.excluded | team.excluded, own.learning and team.learning)
    return merged


@dataclass(frozen=True)
class Learnt:
    """What the team's calls taught, as the live bot needs it for one client: the evidence, the controls,
    the client's segment, and a random source fixed per call (the same question in one call gets the
    same answer)."""

    segment: str
    table: Mapping[tuple[str, str], Evidence]
    controls: Mapping[str, Control] = field(default_factory=dict)
    seed: int = 0
    explore: bool = True  # False: always the best guess (a list showing what the bot would say)
    version: int = 0  # of the evidence table (opening_evidence)

    @property
    def labels(self) -> Labels:
        return opening_labels(self.segment)

    def opening(self, allowed: Sequence[str]) -> Choice:
        """The opening style among ``allowed`` (the seed's order, best first)."""
        return choose(allowed, self.table, self.segment, random.Random(self.seed), controls=self.controls,
                      labels=self.labels, **({} if self.explore else {"explore_share": 0.0}))


def learnt_for(session: Session, profile: Profile | None, now: datetime, conversation_id: str | None) -> Learnt | None:
    """What the live bot needs to order the openings for this client in this call (``conversation_id``
    None: no call, the best guess only); None without a client."""
    if profile is None:
        return None
    version, table = opening_evidence(session, now)
    seed = zlib.crc32(f"{conversation_id}:{profile.id}".encode())
    return Learnt(profile.main_segment, table, controls(session), seed, conversation_id is not None, version)
