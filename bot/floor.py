"""Learning from the floor (issue 22): lines agents had to explain become training data, once a
supervisor accepts them.

Two moments tell us what a line meant: the agent picks a reading when the assistant asked (我不太确定，
是客户在忙？), and a logged outcome that contradicts how the call was read (the agent logs 勿扰 although
no line was read as a do-not-call request: the customer's last relayed words were one). Each becomes a
pending candidate (text, intent, who, when). Supervisors accept or reject them on the 待学习语句 page;
``write_training_data`` turns the accepted ones into one NLU data file under ``var/floor/`` that
``salesbot train`` adds to ``data/``, versioned: every change of the accepted set is a new version, kept
beside the current one, and each accepted line records the version that first trained on it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import clock
from bot.book import changes
from bot.logs import mask_phones
from bot.models import CANDIDATE_SOURCES, NluCandidate, User
from bot.settings import var_dir

MAX_TEXT = 200
PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"
DECISIONS = {"accept": ACCEPTED, "reject": REJECTED}


def floor_dir() -> Path:
    path = var_dir() / "floor"
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_file() -> Path:
    """The floor's NLU data file that `salesbot train` reads beside data/ (it may not exist yet)."""
    return floor_dir() / "nlu_floor.yml"


def clean_text(text: str | None) -> str:
    """The line as it may be kept: one line, phone numbers masked (a number is never training data)."""
    return mask_phones(" ".join((text or "").split()))[:MAX_TEXT]


def record(session: Session, *, text: str | None, intent: str, source: str, user: User | None,
           conversation_id: str | None, predicted: str | None = None, confidence: float | None = None,
           at: datetime | None = None) -> NluCandidate | None:
    """Keep a candidate; the same text for the same intent again counts once more (and a line a
    supervisor already decided on stays decided). None for a button payload or an empty line."""
    if source not in CANDIDATE_SOURCES:
        raise ValueError(f"unknown candidate source {source!r}")
    text = clean_text(text)
    if not text or text.startswith("/"):
        return None
    for existing in session.scalars(select(NluCandidate).where(NluCandidate.intent == intent)
                                    .where(NluCandidate.text == text)):
        existing.times += 1
        return existing
    candidate = NluCandidate(text=text, intent=intent, predicted=predicted, source=source,
                             confidence=None if confidence is None else round(float(confidence), 3),
                             user_id=user.id if user is not None else None, conversation_id=conversation_id,
                             at=at or clock.now(), status=PENDING)
    session.add(candidate)
    session.flush()
    return candidate


def listing(session: Session, status: str = PENDING, limit: int = 500, offset: int = 0) -> list[NluCandidate]:
    """Candidates with ``status``, grouped by intent (intents in name order), newest first within one."""
    return list(session.scalars(select(NluCandidate).where(NluCandidate.status == status)
                                .order_by(NluCandidate.intent, NluCandidate.at.desc(), NluCandidate.id.desc())
                                .limit(limit).offset(offset)))


def counts(session: Session) -> dict[str, int]:
    """How many candidates have each status."""
    rows = session.execute(select(NluCandidate.status, func.count()).group_by(NluCandidate.status))
    return {status: 0 for status in (PENDING, ACCEPTED, REJECTED)} | {s: n for s, n in rows}


def decide(session: Session, ids: Iterable[int], decision: str, user: User,
           intent: str | None = None) -> list[NluCandidate]:
    """Accept or reject pending candidates (a decided one stays as it was); ``intent`` corrects the
    intent as the supervisor accepts. Each decision is in the change log. Returns those changed."""
    status = DECISIONS[decision]
    ids = sorted({int(i) for i in ids})
    now = clock.now()
    decided = []
    for candidate in session.scalars(select(NluCandidate).where(NluCandidate.id.in_(ids))
                                     .where(NluCandidate.status == PENDING)):
        before = {"status": candidate.status, "intent": candidate.intent}
        candidate.status, candidate.decided_by, candidate.decided_at = status, user.id, now
        if intent and status == ACCEPTED:
            candidate.intent = intent
        changes.record(session, user=user, kind="floor", entity="candidate", entity_id=candidate.id, at=now,
                       detail={"text": candidate.text,
                               **changes.diff(before, {"status": status, "intent": candidate.intent})})
        decided.append(candidate)
    return decided


# A logged outcome that says what the customer must have said: if no line of the call was read so,
# the customer's last relayed line probably was (a missed 别再打了 is the costly miss).
OUTCOME_IMPLIES = {"do_not_call": "objection_do_not_call", "invalid_number": "objection_wrong_number"}


@dataclass(frozen=True)
class Turn:
    """One line the agent typed, as the model read it."""

    text: str
    intent: str | None
    confidence: float | None = None


def missed_reading(turns: Iterable[Turn], outcome: str, customer_intents: frozenset[str]) -> tuple[Turn, str] | None:
    """The line the logged ``outcome`` says was misread, with the intent it implies; None when the
    outcome implies nothing, a line was read so, or the customer said nothing the agent relayed."""
    implied = OUTCOME_IMPLIES.get(outcome)
    turns = [t for t in turns if t.text and not t.text.startswith("/")]
    if implied is None or any(t.intent == implied for t in turns):
        return None
    said = [t for t in turns if t.intent in customer_intents or t.intent == "nlu_fallback"]
    return (said[-1], implied) if said else None


@dataclass(frozen=True)
class FloorData:
    """The floor's training data as written: its version, how many lines, and where."""

    version: int
    examples: int
    path: Path
    changed: bool  # a new version was written by this call


def _document(lines: list[tuple[str, str]], version: int) -> str:
    by_intent: dict[str, list[str]] = {}
    for intent, text in lines:
        by_intent.setdefault(intent, []).append(text)
    blocks = [{"intent": intent, "examples": "".join(f"- {json.dumps(t, ensure_ascii=False)}\n" for t in texts)}
              for intent, texts in sorted(by_intent.items())]
    header = (f"# Lines from the floor accepted by supervisors (generated by `salesbot train`; do not edit).\n"
              f"# version {version}, {len(lines)} examples\n")
    return header + yaml.safe_dump({"version": "3.1", "nlu": blocks}, allow_unicode=True, sort_keys=False)


def write_training_data(session: Session) -> FloorData:
    """Write the accepted lines to ``data_file()``; a new version when the accepted set changed (the
    previous versions stay beside it as ``history/v<N>.yml``). No accepted line: no file."""
    lines = sorted({(c.intent, c.text) for c in session.scalars(
        select(NluCandidate).where(NluCandidate.status == ACCEPTED))})
    path, state = data_file(), floor_dir() / "version.json"
    digest = hashlib.sha256(json.dumps(lines, ensure_ascii=False).encode()).hexdigest()
    known = json.loads(state.read_text(encoding="utf-8")) if state.exists() else {"version": 0, "digest": None}
    if not lines:
        path.unlink(missing_ok=True)
        return FloorData(known["version"], 0, path, False)
    if known["digest"] == digest and path.exists():
        return FloorData(known["version"], len(lines), path, False)
    version = known["version"] + 1
    text = _document(lines, version)
    history = floor_dir() / "history"
    history.mkdir(exist_ok=True)
    (history / f"v{version}.yml").write_text(text, encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    state.write_text(json.dumps({"version": version, "digest": digest}), encoding="utf-8")
    for candidate in session.scalars(select(NluCandidate).where(NluCandidate.status == ACCEPTED)
                                     .where(NluCandidate.floor_version.is_(None))):
        candidate.floor_version = version
    return FloorData(version, len(lines), path, True)


# --- how the held-out scores moved ----------------------------------------------------------------

def reports() -> list[dict[str, Any]]:
    """Every training report, oldest first: {version, at, examples, scores: {set: {accuracy, macro_f1}}}."""
    path = floor_dir() / "reports.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


def add_report(version: int, examples: int, scores: dict[str, dict[str, float]], kind: str = "trained") -> dict:
    """Append a report (``kind``: "baseline" for the model before the floor data, "trained" after)."""
    entry = {"version": version, "kind": kind, "at": clock.now().isoformat(timespec="seconds"),
             "examples": examples, "scores": scores}
    path = floor_dir() / "reports.json"
    path.write_text(json.dumps([*reports(), entry], ensure_ascii=False, indent=1), encoding="utf-8")
    return entry


def movement(entries: list[dict[str, Any]] | None = None) -> dict[str, Any] | None:
    """The latest trained report against the one before it: {version, examples, sets: {name: [before,
    after]}} in accuracy; None before the first training with floor data."""
    entries = reports() if entries is None else entries
    trained = [i for i, e in enumerate(entries) if e["kind"] == "trained"]
    if not trained:
        return None
    last = entries[trained[-1]]
    before = entries[trained[-1] - 1] if trained[-1] > 0 else None
    sets = {name: [before["scores"].get(name, {}).get("accuracy") if before else None, row.get("accuracy")]
            for name, row in last["scores"].items()}
    return {"version": last["version"], "examples": last["examples"], "at": last["at"], "sets": sets}
