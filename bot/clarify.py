"""Asking instead of guessing (issue 22): which readings the assistant offers when it is not sure, and
how a choice of thresholds trades answered lines against right answers on a held-out set.

The decision to ask is Rasa's FallbackClassifier (config.yml: ``threshold`` for a low top reading,
``ambiguity_threshold`` for two close ones); the values there come from ``sweep`` over the realistic
held-out set (`python -m bench.clarify`, README "When the assistant asks").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_READINGS = 3
# A reading under this share of the classifier's belief is not worth a button.
MIN_READING_CONFIDENCE = 0.02
NOT_READINGS = frozenset({"nlu_fallback", "choose_reading"})


def readings(ranking: Iterable[dict]) -> list[str]:
    """The likeliest meanings of a line, best first: two or three (``ranking``: Rasa's intent ranking)."""
    ranked = [r for r in ranking if r.get("name") and r["name"] not in NOT_READINGS]
    offered = [r["name"] for r in ranked[:MAX_READINGS] if float(r.get("confidence") or 0) >= MIN_READING_CONFIDENCE]
    return offered if len(offered) >= 2 else [r["name"] for r in ranked[:2]]


def asks(ranking: Sequence[dict], threshold: float, margin: float) -> bool:
    """Whether the FallbackClassifier asks: the top reading under ``threshold``, or the first two
    within ``margin`` of each other."""
    ranked = [float(r.get("confidence") or 0) for r in ranking if r.get("name") not in NOT_READINGS]
    if not ranked:
        return True
    second = ranked[1] if len(ranked) > 1 else 0.0
    return ranked[0] < threshold or ranked[0] - second < margin


def decision(ranking: Sequence[dict], threshold: float, margin: float,
             priority: dict[str, float] | None = None) -> str | None:
    """What the pipeline answers: a priority intent over its floor first (bot/nlu/priority.py: a
    do-not-call request is never asked about), else the top reading, or None when it asks."""
    for name, floor in (priority or {}).items():
        if any(r.get("name") == name and float(r.get("confidence") or 0) >= floor for r in ranking):
            return name
    if asks(ranking, threshold, margin):
        return None
    return next((r["name"] for r in ranking if r.get("name") not in NOT_READINGS), None)


@dataclass(frozen=True)
class Parsed:
    """A held-out line, its true intent, and the model's ranking before any fallback."""

    text: str
    gold: str
    ranking: list[dict]


@dataclass(frozen=True)
class Tradeoff:
    threshold: float
    margin: float
    lines: int
    asked: float  # share of lines the assistant asks about
    answered_right: float  # precision of the lines answered directly
    exact: float  # top reading right, asked or not (rasa test nlu's accuracy)
    in_buttons: float  # answered right, or asked with the right reading among the buttons

    def row(self) -> str:
        return (f"threshold {self.threshold:.2f} margin {self.margin:.2f}: asks {self.asked:6.1%}, answered "
                f"right {self.answered_right:6.1%}, right among the buttons {self.in_buttons:6.1%}")


def tradeoff(lines: Sequence[Parsed], threshold: float, margin: float,
             priority: dict[str, float] | None = None) -> Tradeoff:
    asked = answered = answered_right = exact = in_buttons = 0
    for line in lines:
        top = next((r["name"] for r in line.ranking if r.get("name") not in NOT_READINGS), None)
        exact += top == line.gold
        answer = decision(line.ranking, threshold, margin, priority)
        if answer is None:
            asked += 1
            in_buttons += line.gold in readings(line.ranking)
        else:
            answered += 1
            answered_right += answer == line.gold
            in_buttons += answer == line.gold
    n = max(len(lines), 1)
    return Tradeoff(threshold, margin, len(lines), asked / n, answered_right / max(answered, 1), exact / n,
                    in_buttons / n)


def sweep(lines: Sequence[Parsed], thresholds: Iterable[float], margins: Iterable[float],
          priority: dict[str, float] | None = None) -> list[Tradeoff]:
    margins = list(margins)
    return [tradeoff(lines, t, m, priority) for t in thresholds for m in margins]
