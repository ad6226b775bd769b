"""A rehearsal in a chat conversation: its state in the tracker, the bot's messages, the record.

The chat adapter (actions/training.py) only moves data between Rasa and these functions. The
rehearsal's state lives in the conversation's ``rehearsal`` slot as plain JSON (``Running``), so a
Rasa restart or a second Rasa server continues it from the tracker store. The customer's moves
come from ``roleplay.reply`` (the one place the rehearsal changes); the score from
``roleplay.finish``; the record from ``records.save_rehearsal``. Nothing here touches clients,
calls or follow-ups: a rehearsal never writes to the real CRM.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session as DbSession

from bot import labels
from bot.auth import Identity
from bot.playbook import playbook
from bot.rehearsal import roleplay
from bot.rehearsal.records import save_rehearsal
from bot.rehearsal.roleplay import ABANDONED, Session
from bot.rehearsal.scenarios import Choice, Scenario, product
from bot.rehearsal.turns import CUSTOMER, TRAINEE, ScoreCard

SLOT = "rehearsal"  # the running rehearsal (JSON), None when not rehearsing
LAST_SLOT = "rehearsal_last_scenario"  # for "再练一次"


class BrokenState(ValueError):
    """The slot does not hold a rehearsal this version can continue."""


@dataclass(frozen=True)
class Running:
    session: Session
    started_at: datetime

    def to_slot(self) -> dict[str, Any]:
        return {**self.session.to_json(), "started_at": self.started_at.isoformat()}

    @classmethod
    def from_slot(cls, value: Any) -> Running | None:
        """The rehearsal in the slot; None if there is none; BrokenState if it cannot be read."""
        if not value:
            return None
        try:
            return cls(Session.from_json(value), datetime.fromisoformat(value["started_at"]))
        except (KeyError, TypeError, ValueError) as error:
            raise BrokenState(str(error)) from error

    @property
    def scenario(self) -> Scenario:
        return self.session.scenario

    @property
    def trainee_spoke(self) -> bool:
        return any(t.speaker == TRAINEE for t in self.session.turns)


def begin(choice: Choice, now: datetime) -> Running:
    return Running(roleplay.start(choice.scenario.id), now)


def _rng(conversation_id: str, running: Running) -> random.Random:
    # Seeded by the conversation and the turn: replaying a transcript gives the same customer.
    return random.Random(f"{conversation_id}:{running.scenario.id}:{len(running.session.turns)}")


def say(running: Running, line: str, conversation_id: str) -> tuple[Running, str]:
    """The trainee says ``line``; the rehearsal after it and the customer's answer."""
    session, answer = roleplay.reply(running.session, line, _rng(conversation_id, running))
    return replace(running, session=session), answer


# --- what the bot sends ------------------------------------------------------------------------

def started_message(choice: Choice, bank: str) -> tuple[str, dict[str, Any]]:
    s = choice.scenario
    p = s.persona
    product_name = product(s.product)["name"]
    messages = playbook().messages
    brief = messages["rehearsal_started"].format(
        title=s.title, difficulty=labels.rehearsal("difficulties")[s.difficulty], bank=bank,
        persona=p.title, gender=p.gender, age=p.age, occupation=p.occupation,
        temperament=p.temperament, product=product_name)
    if choice.unmet:
        brief = messages["rehearsal_unmet"].format(wishes="、".join(choice.unmet)) + "\n" + brief
    payload = {
        "type": "rehearsal_started",
        "scenario": {
            "id": s.id, "title": s.title, "difficulty": s.difficulty,
            "persona": {"title": p.title, "gender": p.gender, "age": p.age, "occupation": p.occupation,
                        "temperament": p.temperament, "needs": p.needs},
            "product": product_name, "brief": brief,
        },
    }
    return brief, payload


def customer_message(running: Running, bank: str) -> tuple[str, dict[str, Any]]:
    """The customer's last line, in character, with their mood and (at the end) the outcome, and
    what the trainee's line before it did (identity, purpose, benefit, question, technique, promise)."""
    session = running.session
    said = roleplay.transcript(session, bank=bank)
    trainee = next((t for t in reversed(said) if t["speaker"] == TRAINEE), None)
    line = next(t.text for t in reversed(session.turns) if t.speaker == CUSTOMER)
    speaker = running.scenario.persona.title
    text = playbook().messages["rehearsal_customer"].format(speaker=speaker, line=line)
    if session.ended:
        text += "\n" + playbook().messages["rehearsal_call_ended"].format(
            outcome=labels.rehearsal("rehearsal_outcomes")[session.outcome])
    payload = {"type": "customer_line", "speaker": speaker, "line": line, "mood": session.mood,
               "ended": session.ended, "outcome": session.outcome,
               "trainee_functions": trainee["functions"] if trainee else []}
    return text, payload


def outcome_of(running: Running) -> str:
    return running.session.outcome if running.session.ended else ABANDONED


def score(running: Running, bank: str) -> tuple[ScoreCard, list[dict[str, Any]]]:
    return roleplay.finish(running.session, bank=bank), roleplay.transcript(running.session, bank=bank)


def card_message(running: Running, card: ScoreCard, turns: list[dict[str, Any]], conversation_id: str,
                 rehearsal_id: int | None) -> tuple[str, dict[str, Any]]:
    payload = {
        "type": "score_card", "rehearsal_id": rehearsal_id, "conversation_id": conversation_id,
        "scenario_id": running.scenario.id, "scenario_title": running.scenario.title,
        "outcome": outcome_of(running), "total": card.total, "flags": list(card.flags),
        "items": [{"key": i.key, "title": i.title, "points": i.points, "max_points": i.max_points,
                   "feedback": i.feedback, "model_line": i.model_line, "checks": list(i.checks)}
                  for i in card.items],
        "turns": turns,
    }
    return card.readable(), payload


def save(db: DbSession, identity: Identity | None, running: Running, card: ScoreCard,
         turns: list[dict[str, Any]], conversation_id: str, now: datetime) -> int:
    """File the rehearsal under the verified user; its id. Raises records' Chinese errors."""
    row = save_rehearsal(db, user=identity, scenario_id=running.scenario.id, conversation_id=conversation_id,
                         started_at=running.started_at, ended_at=max(now, running.started_at),
                         outcome=outcome_of(running), card=card, turns=turns)
    return row.id
