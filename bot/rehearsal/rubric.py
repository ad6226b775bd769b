"""The scoring rubric (rubric.yml beside this file): loaded and validated once, so a bad rubric
fails when it is first used (or at start-up), never in the middle of a score card."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.playbook import playbook
from bot.rehearsal.cues import CHECKS, Check, CueContext, pattern_check
from bot.rehearsal.moves import MOVES

RUBRIC_FILE = Path(__file__).resolve().parent / "rubric.yml"
# The feedback lines each item needs (rubric.yml), besides its numbers.
FEEDBACK = {
    "opening": ("none", "full", "missed"),
    "questions": ("none", "unasked", "dumps", "full", "advice"),
    "objections": ("none_raised", "none_raised_unfinished", "no_answer", "donts", "missed", "right", "note",
                   "dnc_pitch", "advice", "repeated", "hollow", "off_target", "pressure", "answered_share",
                   "steps_alone"),
    "next_step": ("dnc_pitched", "dnc_right", "dnc_missing", "concrete", "vague", "none", "hung_up"),
    "courtesy": ("none", "use_nin", "more_polite", "rude", "full"),
    "compliance": ("forbidden_model", "forbidden", "not_wealth", "wrong_level", "full", "missed", "fault_penalty",
                   "faults", "level_not_wealth", "false_fact", "pressure"),
}
CARD = ("total", "flags", "item", "full_mark", "missed_mark", "feedback", "model", "silent", "ending", "substance",
        "check_ok", "check_missed", "not_said")
MODEL_VALUES = ("agent", "hotline", "callback_time", "risk_level", "advantage")

Cue = tuple[str, Check]  # (what the step is, in Chinese; whether a line does it)


class RubricError(ValueError):
    """rubric.yml is malformed."""


@dataclass(frozen=True)
class Rubric:
    weights: dict[str, int]  # item -> points, in card order
    titles: dict[str, str]
    cap: int
    unfinished_cap: int
    unfinished_floor: int
    unfinished: dict[str, str]  # outcome -> why the total is capped
    dnc_flag: str
    invented_flag: str  # a figure the product's facts do not bear out ({phrase})
    model_values: dict[str, str]
    pitch_fallback: dict[str, str]
    card: dict[str, str]
    items: dict[str, dict[str, Any]]  # item -> its numbers and feedback lines
    opening_checks: tuple[tuple[int, str, Any], ...]  # (points, label, check of a trainee line as read)
    objection_cues: dict[str, tuple[Cue, ...]]
    objection_donts: dict[str, tuple[Cue, ...]]
    generic_cues: tuple[Cue, ...]


def _cue(raw: dict[str, Any], where: str) -> Cue:
    label = str(raw.get("label") or "")
    if not label:
        raise RubricError(f"{where}: a cue without label")
    if "pattern" in raw:
        try:
            return label, pattern_check(str(raw["pattern"]))
        except re.error as error:
            raise RubricError(f"{where}: bad pattern {raw['pattern']!r}: {error}") from error
    if raw.get("check") not in CHECKS:
        raise RubricError(f"{where}: unknown check {raw.get('check')!r} (known: {', '.join(CHECKS)})")
    return label, CHECKS[raw["check"]]


def _opening_check(raw: dict[str, Any]) -> Any:
    """An opening check on a trainee line as read (scorers.Said): a move the model hears in it, a
    lexical cue on its text, or both."""
    move = raw.get("move")
    if move is not None and move not in MOVES:
        raise RubricError(f"opening.checks: unknown move {move!r} (known: {', '.join(MOVES)})")
    check = _cue(raw, "opening.checks")[1] if "check" in raw or "pattern" in raw else None
    if move is None and check is None:
        raise RubricError("opening.checks: a check needs a move, a check or a pattern")
    return lambda said, ctx: ((move is None or said.reading.does(move))
                              and (check is None or check(said.text, ctx)))


def load_rubric(path: Path | str = RUBRIC_FILE) -> Rubric:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    weights = {str(k): int(v) for k, v in raw["weights"].items()}
    if set(weights) != set(FEEDBACK) or sum(weights.values()) != 100:
        raise RubricError(f"weights: the items {sorted(FEEDBACK)}, adding up to 100")
    if set(raw["titles"]) != set(weights):
        raise RubricError("titles: one per item")
    items = {key: dict(raw[key]) for key in weights}
    for key, needed in FEEDBACK.items():
        missing = [name for name in needed if not items[key].get(name)]
        if missing:
            raise RubricError(f"{key}: missing feedback {missing}")
    card = {str(k): str(v) for k, v in raw["card"].items()}
    if set(CARD) - set(card):
        raise RubricError(f"card: missing {sorted(set(CARD) - set(card))}")
    model_values = {str(k): "" if v is None else str(v) for k, v in raw["model_values"].items()}
    if set(model_values) != set(MODEL_VALUES):
        raise RubricError(f"model_values: exactly {MODEL_VALUES}")
    opening_checks = tuple((int(c["points"]), str(c["label"]), _opening_check(c)) for c in items["opening"]["checks"])
    # The numbers inside an item add up to its weight.
    sums = {
        "opening": sum(points for points, _label, _check in opening_checks),
        "questions": items["questions"]["asked_points"] + items["questions"]["one_at_a_time_points"],
        "courtesy": sum(items["courtesy"][k] for k in ("nin_points", "polite_points", "not_rude_points")),
        "compliance": items["compliance"]["no_forbidden_points"] + 4 * items["compliance"]["part_points"],
    }
    wrong = {key: total for key, total in sums.items() if total != weights[key]}
    if wrong:
        raise RubricError(f"the points inside these items do not add up to their weights: {wrong}")
    known = set(playbook().objections)
    cues: dict[str, tuple[Cue, ...]] = {}
    donts: dict[str, tuple[Cue, ...]] = {}
    for intent, spec in raw["objection_cues"].items():
        if intent not in known:
            raise RubricError(f"objection_cues: unknown objection {intent!r}")
        cues[intent] = tuple(_cue(c, f"objection_cues.{intent}") for c in spec["steps"])
        if not cues[intent]:
            raise RubricError(f"objection_cues.{intent}: no steps")
        if spec.get("donts"):
            donts[intent] = tuple(_cue(c, f"objection_cues.{intent}.donts") for c in spec["donts"])
    return Rubric(
        weights=weights,
        titles={str(k): str(v) for k, v in raw["titles"].items()},
        cap=int(raw["cap"]),
        unfinished_cap=int(raw["unfinished_cap"]),
        unfinished_floor=int(raw["unfinished_floor"]),
        unfinished={str(k): str(v) for k, v in raw["unfinished"].items()},
        dnc_flag=str(raw["dnc_flag"]),
        invented_flag=str(raw["invented_flag"]),
        model_values=model_values,
        pitch_fallback={str(k): str(v) for k, v in raw["pitch_fallback"].items()},
        card=card,
        items=items,
        opening_checks=opening_checks,
        objection_cues=cues,
        objection_donts=donts,
        generic_cues=tuple(_cue(c, "generic_cues") for c in raw["generic_cues"]),
    )


@lru_cache(maxsize=1)
def rubric() -> Rubric:
    return load_rubric()


def answer_result(intent: str, answer: str, ctx: CueContext) -> tuple[float, list[str], list[str]]:
    """How the trainee's ``answer`` handles the objection ``intent``: (fraction of the technique's
    steps it uses, the steps missed, the don'ts done; any don't voids the answer)."""
    r = rubric()
    cues = r.objection_cues.get(intent, r.generic_cues)
    missed = [label for label, check in cues if not check(answer, ctx)]
    donts = [label for label, check in r.objection_donts.get(intent, ()) if check(answer, ctx)]
    fraction = 0.0 if donts else (len(cues) - len(missed)) / len(cues)
    return fraction, missed, donts
