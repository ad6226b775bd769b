"""The sales playbook: YAML files in this folder, loaded once and validated.

Python chooses and fills the lines; the Chinese text lives in the YAML files.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent

# Every placeholder a template may use; filled from the call's context.
PLACEHOLDERS = {
    "title", "agent", "bank", "hotline", "product", "advantage", "referrer", "company",
    "risk_level", "disclosure", "callback_time", "alternatives", "comparison",
}
OPENING_STYLES = (
    "direct", "peer_reference", "referral", "self_intro", "find_fault",
    "familiar", "herd", "borrow_wind", "worry",
)


class PlaybookError(ValueError):
    """A playbook file is malformed (raised at start-up, not mid-call)."""


@dataclass(frozen=True)
class Technique:
    key: str
    name: str
    technique: str
    templates: tuple[str, ...]


@dataclass(frozen=True)
class Playbook:
    openings: dict[str, Technique]
    callback_opening: Technique
    objections: dict[str, Technique]
    closing: Technique
    interested: Technique
    risk_no_level: Technique
    opening_rules: tuple[dict[str, str], ...]
    product_rules: tuple[dict[str, str], ...]
    messages: dict[str, Any]
    disclosure: str
    forbidden_phrases: tuple[str, ...]
    risk_levels: dict[str, str]

    def all_lines(self) -> list[str]:
        """Every user-facing template, for compliance checks."""
        lines = []
        for group in (self.openings, self.objections):
            for technique in group.values():
                lines += [technique.name, technique.technique, *technique.templates]
        for technique in (self.closing, self.interested, self.risk_no_level, self.callback_opening):
            lines += [technique.name, technique.technique, *technique.templates]
        lines += [r["why"] for r in self.opening_rules + self.product_rules]
        lines += [v for v in self.messages.values() if isinstance(v, str)]
        lines += list(self.risk_levels.values())
        return lines


def _read(name: str) -> Any:
    return yaml.safe_load((HERE / name).read_text(encoding="utf-8"))


def _technique(key: str, spec: dict[str, Any], field: str = "replies") -> Technique:
    templates = tuple(spec.get(field) or ())
    if not templates:
        raise PlaybookError(f"{key}: no {field}")
    return Technique(key, spec["name"], spec.get("technique", ""), templates)


def _check_placeholders(text: str, where: str) -> None:
    for _literal, field, _spec, _conv in string.Formatter().parse(text):
        if field is not None and field not in PLACEHOLDERS:
            raise PlaybookError(f"{where}: unknown placeholder {{{field}}}")


def load_playbook() -> Playbook:
    openings_file = _read("openings.yml")
    openings_raw = openings_file["styles"]
    openings = {
        s["id"]: Technique(s["id"], s["name"], s.get("technique", ""), tuple(s["templates"]))
        for s in openings_raw
    }
    if set(openings) != set(OPENING_STYLES):
        raise PlaybookError(f"openings.yml must define exactly {OPENING_STYLES}")
    objections_raw = _read("objections.yml")
    objections = {k: _technique(k, v) for k, v in objections_raw["objections"].items()}
    risk = objections_raw["objections"]["objection_risk"]
    compliance = _read("compliance.yml")
    playbook = Playbook(
        openings=openings,
        callback_opening=_technique("callback", openings_file["callback"], "templates"),
        objections=objections,
        closing=_technique("closing", objections_raw["closing"]),
        interested=_technique("interested", objections_raw["interested"]),
        risk_no_level=_technique("objection_risk", risk, "replies_no_risk_level"),
        opening_rules=tuple(_read("opening_rules.yml")["rules"]),
        product_rules=tuple(_read("product_rules.yml")["rules"]),
        messages=_read("messages.yml"),
        disclosure=compliance["disclosure"],
        forbidden_phrases=tuple(compliance["forbidden_phrases"]),
        risk_levels=dict(compliance["risk_levels"]),
    )
    for group in (openings, objections):
        for technique in group.values():
            for template in technique.templates:
                _check_placeholders(template, f"{technique.key}: {template[:20]}")
    for technique in (playbook.closing, playbook.interested, playbook.risk_no_level, playbook.callback_opening):
        for template in technique.templates:
            _check_placeholders(template, f"{technique.key}: {template[:20]}")
    for line in playbook.all_lines():
        bad = find_forbidden(line, playbook.forbidden_phrases)
        if bad:
            raise PlaybookError(f"forbidden promise {bad!r} in: {line}")
    return playbook


def find_forbidden(text: str, phrases: tuple[str, ...] | None = None) -> list[str]:
    """The forbidden promise phrases that occur in ``text``."""
    phrases = phrases if phrases is not None else playbook().forbidden_phrases
    return [p for p in phrases if p in text]


@lru_cache(maxsize=1)
def intent_titles() -> dict[str, str]:
    """Chinese titles of intents, for buttons and transcripts."""
    return dict(_read("intents.yml")["titles"])


@lru_cache(maxsize=1)
def playbook() -> Playbook:
    return load_playbook()
