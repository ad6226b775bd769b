"""Complaints raised during a call (issue 19): recorded by the agent with one button, answered and
resolved by a supervisor, listed open first. The text a person reads lives in
bot/playbook/labels.yml (categories, statuses) and messages.yml (refusals); how a customer's words
suggest a category in bot/playbook/complaints.yml."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import case, select
from sqlalchemy.orm import Session

from bot import labels
from bot.models import Client, Complaint, User
from bot.playbook import playbook
from bot.text import normalize

RULES_FILE = Path(__file__).resolve().parent / "playbook" / "complaints.yml"
MAX_TEXT = 500  # characters of the customer's words kept; a complaint is a sentence or two
OTHER = "other"


class ComplaintError(ValueError):
    """A complaint that cannot be recorded or answered; the message is for the user (Chinese)."""


@dataclass(frozen=True)
class _Rules:
    cues: tuple[tuple[str, re.Pattern[str]], ...]
    relay_prefix: re.Pattern[str]


@lru_cache(maxsize=1)
def _rules() -> _Rules:
    raw = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    categories = labels.complaint_categories()
    unknown = set(raw["category_cues"]) - set(categories)
    if unknown or OTHER not in categories:
        raise ValueError(f"{RULES_FILE.name}: categories {sorted(unknown)} are not in labels.yml (or no '{OTHER}')")
    return _Rules(tuple((code, re.compile(pattern, re.I)) for code, pattern in raw["category_cues"].items()),
                  re.compile(raw["relay_prefix"]))


def customer_words(text: str) -> str:
    """The customer's words as the agent relayed them, without "客户说" and the like."""
    text = " ".join((text or "").split())
    return _rules().relay_prefix.sub("", text, count=1).strip()[:MAX_TEXT]


def suggest_category(text: str) -> str:
    """The category the customer's words suggest (the agent may pick another)."""
    plain = normalize(text or "")
    return next((code for code, cue in _rules().cues if cue.search(plain)), OTHER)


@dataclass(frozen=True)
class Recorded:
    complaint: Complaint
    new: bool  # False: the same words for the same client in this conversation were already recorded


def record(session: Session, *, client: Client, agent_id: int, conversation_id: str | None, category: str,
           text: str, now: datetime) -> Recorded:
    """Record a complaint (status open). Pressing the button twice records it once."""
    messages = playbook().messages
    words = customer_words(text)
    if not words:
        raise ComplaintError(messages["complaint_no_words"])
    if category not in labels.complaint_categories():
        raise ComplaintError(messages["complaint_unknown_category"].format(category=category))
    same = session.scalars(select(Complaint).where(
        Complaint.client_id == client.id, Complaint.conversation_id == conversation_id,
        Complaint.text == words)).first()
    if same is not None:
        return Recorded(same, new=False)
    complaint = Complaint(client_id=client.id, agent_id=agent_id, conversation_id=conversation_id,
                          category=category, text=words, status="open", created_at=now, notes=[])
    session.add(complaint)
    session.flush()
    return Recorded(complaint, new=True)


def answer(session: Session, complaint_id: int, user: User, note: str, *, resolve: bool, now: datetime) -> Complaint:
    """A supervisor's note on a complaint, resolving it if ``resolve``. The first note is the first
    response (its time is kept); a resolved complaint takes no more notes."""
    messages = playbook().messages
    note = " ".join((note or "").split())
    if not note:
        raise ComplaintError(messages["complaint_note_missing"])
    if len(note) > 1000:
        raise ComplaintError(messages["complaint_note_too_long"])
    complaint = session.get(Complaint, complaint_id)
    if complaint is None:
        raise LookupError(messages["complaint_not_found"])
    if complaint.status == "resolved":
        raise ComplaintError(messages["complaint_already_resolved"])
    complaint.notes = [*(complaint.notes or []), {"by": user.login, "by_name": user.name,
                                                  "at": now.isoformat(timespec="seconds"), "text": note,
                                                  "resolved": resolve}]
    if complaint.first_response_at is None:
        complaint.first_response_at = now
    if resolve:
        complaint.status, complaint.resolved_at, complaint.resolved_by = "resolved", now, user.id
    return complaint


def open_for_client(session: Session, client_id: int) -> list[Complaint]:
    return list(session.scalars(select(Complaint).where(
        Complaint.client_id == client_id, Complaint.status == "open").order_by(Complaint.created_at)))


def listing(session: Session, *, status: str | None = None) -> list[Complaint]:
    """Open complaints first, the longest waiting on top; then resolved ones, the latest first."""
    query = select(Complaint)
    if status:
        if status not in labels.complaint_statuses():
            raise ComplaintError(playbook().messages["complaint_unknown_status"].format(status=status))
        query = query.where(Complaint.status == status)
    open_first = case((Complaint.status == "open", 0), else_=1)
    oldest_open = case((Complaint.status == "open", Complaint.created_at), else_=None)
    return list(session.scalars(query.order_by(open_first, oldest_open, Complaint.created_at.desc(),
                                               Complaint.id.desc())))


def _iso(when: datetime | None) -> str | None:
    return when.isoformat(timespec="seconds") if when else None


def minutes_to_first_response(complaint: Complaint) -> int | None:
    if complaint.first_response_at is None:
        return None
    return max(0, round((complaint.first_response_at - complaint.created_at).total_seconds() / 60))


def complaint_json(complaint: Complaint, now: datetime) -> dict[str, Any]:
    """A complaint for the supervisor (masked at the exit by the caller, bot.masking)."""
    categories, statuses = labels.complaint_categories(), labels.complaint_statuses()
    waiting = None
    if complaint.status == "open":
        waiting = max(0, round((now - complaint.created_at).total_seconds() / 60))
    return {
        "id": complaint.id, "client": complaint.client.name if complaint.client else None,
        "client_id": complaint.client_id,
        "agent": complaint.agent.login if complaint.agent else None,
        "agent_name": complaint.agent.name if complaint.agent else None,
        "conversation_id": complaint.conversation_id,
        "category": complaint.category, "category_label": categories.get(complaint.category, complaint.category),
        "text": complaint.text, "status": complaint.status,
        "status_label": statuses.get(complaint.status, complaint.status),
        "created_at": _iso(complaint.created_at), "first_response_at": _iso(complaint.first_response_at),
        "minutes_to_first_response": minutes_to_first_response(complaint),
        "minutes_waiting": waiting, "resolved_at": _iso(complaint.resolved_at),
        "notes": list(complaint.notes or []),
    }
