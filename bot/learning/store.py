"""The learner's data in the CRM: the evidence from the logged calls, the supervisors' controls, and what the
live bot needs for one client (``Learnt``). The guidance stays pure: it gets a ``Learnt`` in its Context.

The evidence is an aggregate (calls per segment, style, outcome and day) over the last HISTORY_DAYS: a small
table, but reading it groups a year of the team's calls. It is kept per database for CACHE_SECONDS, as a
nightly job would keep it, or until a supervisor's control is written in this process. A logged call counts
from the next read: with a half-life of 90 days, one call more or less for five minutes moves no choice,
while reading the aggregate again after every logged call would make a busy team's openings wait for it.
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

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.learning.bandit import Choice, Control, Labels, choose
from bot.learning.estimates import HALF_LIFE_DAYS, Evidence, Outcome, evidence
from bot.models import ALL_SEGMENTS, LEARNING_KINDS, Call, CallChoice, LearningControl
from bot.outcomes import REACHED
from bot.playbook import OPENING_STYLES, playbook
from bot.profile import OTHER_SEGMENT, Profile, profiles_of, segment_choices

OPENING, PRODUCT, ANSWER = LEARNING_KINDS
# Calls older than four half-lives weigh under 1/16: left out, so the aggregate stays small.
HISTORY_DAYS = 4 * HALF_LIFE_DAYS
CACHE_SECONDS = 300.0

_lock = threading.Lock()
_cache: dict[tuple[str, str, date], tuple[float, int, dict[tuple[str, str], Evidence]]] = {}
_versions = iter(range(1, 2**62))  # each table read from the CRM gets a new number (callers key on it)
_generation = 0  # moved by forget(): a table read before it is not kept after it


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
    """The reached calls with one of the playbook's opening styles (not the opening of a callback the
    customer agreed to) since ``days`` ago, grouped by segment, style, outcome and day. A call logged
    before its segment was recorded counts in its client's segment of today."""
    since = now - timedelta(days=days)
    day = func.date(Call.started_at)
    recorded = session.execute(
        select(Call.segment, Call.opening_style, Call.disposition, day, func.count())
        .where(Call.started_at >= since, Call.opening_style.in_(OPENING_STYLES), Call.segment.is_not(None),
               Call.disposition.in_(sorted(REACHED)))
        .group_by(Call.segment, Call.opening_style, Call.disposition, day))
    rows = [Outcome(segment, style, disposition, _day(at), count)
            for segment, style, disposition, at, count in recorded]
    older = session.execute(
        select(Call.client_id, Call.opening_style, Call.disposition, day, func.count())
        .where(Call.started_at >= since, Call.opening_style.in_(OPENING_STYLES), Call.segment.is_(None),
               Call.disposition.in_(sorted(REACHED)), Call.client_id.is_not(None))
        .group_by(Call.client_id, Call.opening_style, Call.disposition, day)).all()
    profiles = profiles_of(session, {row[0] for row in older})
    for client_id, style, disposition, at, count in older:
        if client_id in profiles:
            rows.append(Outcome(profiles[client_id].main_segment, style, disposition, _day(at), count))
    return rows


def choice_outcomes(session: Session, now: datetime, kind: str, days: float = HISTORY_DAYS) -> list[Outcome]:
    """The reached calls' choices of ``kind`` (a product pitched, an answer's variant line) since ``days``
    ago, grouped by context, arm, outcome and day."""
    since = now - timedelta(days=days)
    day = func.date(Call.started_at)
    found = session.execute(
        select(CallChoice.context, CallChoice.arm, Call.disposition, day, func.count())
        .join(Call, Call.id == CallChoice.call_id)
        .where(CallChoice.kind == kind, Call.started_at >= since, Call.disposition.in_(sorted(REACHED)))
        .group_by(CallChoice.context, CallChoice.arm, Call.disposition, day))
    return [Outcome(context, arm, disposition, _day(at), count) for context, arm, disposition, at, count in found]


def _kept(session: Session, now: datetime, kind: str) -> tuple[int, dict[tuple[str, str], Evidence]]:
    """(version, (context, arm) -> Evidence as of ``now``) for ``kind``, kept for CACHE_SECONDS per
    database and day."""
    key = (str(session.get_bind().url), kind, now.date())
    with _lock:
        kept = _cache.get(key)
        if kept is not None and kept[0] > time.monotonic():
            return kept[1], kept[2]
        generation = _generation
    rows = opening_outcomes(session, now) if kind == OPENING else choice_outcomes(session, now, kind)
    table = evidence(rows, now)
    with _lock:
        version = next(_versions)
        if generation == _generation:  # nothing was written meanwhile: keep it
            _cache[key] = (time.monotonic() + CACHE_SECONDS, version, table)
    return version, table


def opening_evidence(session: Session, now: datetime) -> tuple[int, dict[tuple[str, str], Evidence]]:
    """(version, (segment, style) -> Evidence as of ``now``)."""
    return _kept(session, now, OPENING)


def product_evidence(session: Session, now: datetime) -> tuple[int, dict[tuple[str, str], Evidence]]:
    """(version, (segment, product code) -> Evidence as of ``now``): the product pitched first."""
    return _kept(session, now, PRODUCT)


def forget() -> None:
    """Drop the kept evidence: a control was written and committed (the next read counts it; a read already
    under way is not kept)."""
    global _generation
    with _lock:
        _cache.clear()
        _generation += 1


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


def answer_context(segment: str, answer: str) -> str:
    """The context of an answer's variant lines: they are compared per segment and answer."""
    return f"{segment}|{answer}"


def variant_of(template: str) -> str:
    """A variant line's id: its text's checksum, so an edited line is a new variant and keeps no old record."""
    return f"{zlib.crc32(template.encode()):08x}"


def record_choices(session: Session, call: Call, first_products: Sequence[str],
                   answer_variants: Sequence[str]) -> None:
    """Keep what the learner compares from a logged call: the product pitched first (``first_products``:
    it, or nothing) and each answer line used ("answer key:variant"), in the client's segment. Logging the
    call again replaces them."""
    session.execute(delete(CallChoice).where(CallChoice.call_id == call.id))
    segment = call.segment or Profile.from_row(call.client).main_segment
    rows = [{"call_id": call.id, "kind": PRODUCT, "context": segment, "arm": code} for code in first_products[:1]]
    for entry in dict.fromkeys(answer_variants):
        answer, _sep, variant = entry.rpartition(":")
        if answer and variant:
            rows.append({"call_id": call.id, "kind": ANSWER, "context": answer_context(segment, answer),
                         "arm": variant})
    if rows:
        session.execute(CallChoice.__table__.insert(), rows)


@dataclass(frozen=True)
class Learnt:
    """What the team's calls taught, as the live bot needs it for one client: the evidence (opening styles,
    products, answer lines), the controls, the client's segment, and a random source fixed per call (the
    same question in one call gets the same answer)."""

    segment: str
    table: Mapping[tuple[str, str], Evidence]
    controls: Mapping[str, Control] = field(default_factory=dict)
    seed: int = 0
    explore: bool = True  # False: always the best guess (a list showing what the bot would say)
    version: int = 0  # of the evidence table (opening_evidence)
    products: Mapping[tuple[str, str], Evidence] = field(default_factory=dict)
    answers: Mapping[tuple[str, str], Evidence] = field(default_factory=dict)

    @property
    def labels(self) -> Labels:
        return opening_labels(self.segment)

    def _choose(self, allowed: Sequence[str], table: Mapping[tuple[str, str], Evidence], context: str,
                labels: Labels | None, controls: Mapping[str, Control] | None = None) -> Choice:
        rng = random.Random(self.seed ^ zlib.crc32(context.encode()))
        return choose(allowed, table, context, rng, controls=controls, labels=labels,
                      **({} if self.explore else {"explore_share": 0.0}))

    def opening(self, allowed: Sequence[str]) -> Choice:
        """The opening style among ``allowed`` (the seed's order, best first)."""
        return self._choose(allowed, self.table, self.segment, self.labels, self.controls)

    def _learning_only(self, context: str) -> dict[str, Control]:
        """The segment's learning switch for a context of products or answers (their pins and exclusions are
        for opening styles): learning off there means the playbook's order here too."""
        control = self.controls.get(self.segment)
        return {context: Control(learning=control.learning)} if control is not None else {}

    def product(self, allowed: Sequence[str], names: Mapping[str, str]) -> Choice:
        """The product to pitch first among ``allowed`` codes (the rules' order, best fit first)."""
        label = segment_labels().get(self.segment, self.segment)
        return self._choose(allowed, self.products, self.segment, Labels(PRODUCT, label, names),
                            self._learning_only(self.segment))

    def answer(self, answer: str, templates: Sequence[str]) -> Choice:
        """The variant line of ``answer`` (an objection's answer key) among ``templates`` (the playbook's
        order); the arms are variant_of(template)."""
        label = segment_labels().get(self.segment, self.segment)
        context = answer_context(self.segment, answer)
        return self._choose([variant_of(t) for t in templates], self.answers, context, Labels(ANSWER, label, {}),
                            self._learning_only(context))


def learnt_for(session: Session, profile: Profile | None, now: datetime, conversation_id: str | None) -> Learnt | None:
    """What the live bot needs to order the openings, products and answer lines for this client in this call
    (``conversation_id`` None: no call, the best guess only); None without a client."""
    if profile is None:
        return None
    version, table = opening_evidence(session, now)
    seed = zlib.crc32(f"{conversation_id}:{profile.id}".encode())
    return Learnt(profile.main_segment, table, controls(session), seed, conversation_id is not None, version,
                  product_evidence(session, now)[1], _kept(session, now, ANSWER)[1])
