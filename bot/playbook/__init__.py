"""The sales playbook: YAML files in this folder, loaded once and validated.

Python chooses and fills the lines; the Chinese text lives in the YAML files.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.compliance import findings
from bot.playbook.messages import Messages, MessagesError
from bot.settings import recording_notice

HERE = Path(__file__).resolve().parent

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
    opening_aliases: dict[str, tuple[str, ...]]  # style -> names an agent may ask for it by
    opening_follow_ups: dict[str, dict[str, Technique]]  # style -> customer intent -> technique
    callback_opening: Technique
    objections: dict[str, Technique]
    closing: Technique
    interested: Technique
    risk_no_level: Technique
    referral_no_referrer: Technique
    opening_rules: tuple[dict[str, str], ...]
    product_rules: tuple[dict[str, str], ...]
    messages: Messages
    disclosure: str
    forbidden_phrases: tuple[str, ...]
    risk_levels: dict[str, str]
    recording_notice: str
    # Every placeholder a template may use -> its default (placeholders.yml).
    placeholders: dict[str, str]
    # Objection flags (objections.yml): answered by a callback after this long; a "no"; answered
    # with a new selling point; a yes to the answer is a buying signal; the do-not-call request.
    callback_objections: dict[str, timedelta]
    refusals: frozenset[str]
    point_objections: frozenset[str]
    buying_signal_after: frozenset[str]
    do_not_call: str

    def all_lines(self) -> list[str]:
        """Every user-facing template, for compliance checks."""
        lines = []
        for group in (self.openings, self.objections):
            for technique in group.values():
                lines += [technique.name, technique.technique, *technique.templates]
        follow_ups = [t for group in self.opening_follow_ups.values() for t in group.values()]
        for technique in (self.closing, self.interested, self.risk_no_level, self.callback_opening,
                          self.referral_no_referrer, *follow_ups):
            lines += [technique.name, technique.technique, *technique.templates]
        lines.append(self.recording_notice)
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


def _check_placeholders(text: str, where: str, known: dict[str, str]) -> None:
    for _literal, field, _spec, _conv in string.Formatter().parse(text):
        if field is not None and field not in known:
            raise PlaybookError(f"{where}: unknown placeholder {{{field}}}")


def _placeholders() -> dict[str, str]:
    raw = _read("placeholders.yml")["placeholders"]
    return {str(name): "" if default is None else str(default) for name, default in raw.items()}


def _objection_flags(raw: dict[str, Any]) -> dict[str, Any]:
    """The Playbook fields read from the objections' flags (see ``Playbook``)."""
    def flagged(flag: str) -> frozenset[str]:
        return frozenset(key for key, spec in raw.items() if spec.get(flag))

    callbacks = {key: timedelta(**spec["callback_after"]) for key, spec in raw.items() if spec.get("callback_after")}
    do_not_call = sorted(flagged("do_not_call"))
    if len(do_not_call) != 1:
        raise PlaybookError(f"objections.yml: exactly one objection is the do-not-call request, not {do_not_call}")
    return {"callback_objections": callbacks, "refusals": flagged("refusal"),
            "point_objections": flagged("answer_with_point"), "buying_signal_after": flagged("buying_signal"),
            "do_not_call": do_not_call[0]}


def _messages() -> Messages:
    try:
        return Messages.load(_read("messages.yml"))
    except MessagesError as error:
        raise PlaybookError(str(error)) from error


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
    follow_ups = {
        style: {intent: _technique(f"{style}/{intent}", spec) for intent, spec in by_intent.items()}
        for style, by_intent in (openings_file.get("follow_ups") or {}).items()
    }
    playbook = Playbook(
        openings=openings,
        opening_aliases={s["id"]: tuple([s["name"], *(s.get("aliases") or [])]) for s in openings_raw},
        opening_follow_ups=follow_ups,
        callback_opening=_technique("callback", openings_file["callback"], "templates"),
        objections=objections,
        closing=_technique("closing", objections_raw["closing"]),
        interested=_technique("interested", objections_raw["interested"]),
        risk_no_level=_technique("objection_risk", risk, "replies_no_risk_level"),
        referral_no_referrer=_technique("objection_referral_doubt",
                                        objections_raw["objections"]["objection_referral_doubt"],
                                        "replies_no_referrer"),
        opening_rules=tuple(_read("opening_rules.yml")["rules"]),
        product_rules=tuple(_read("product_rules.yml")["rules"]),
        messages=_messages(),
        disclosure=compliance["disclosure"],
        forbidden_phrases=tuple(compliance["forbidden_phrases"]),
        risk_levels=dict(compliance["risk_levels"]),
        recording_notice=recording_notice() or compliance["recording_notice"],
        placeholders=_placeholders(),
        **_objection_flags(objections_raw["objections"]),
    )
    for technique in (*openings.values(), playbook.callback_opening):
        for template in technique.templates:
            # Compliance: the customer hears that the call is recorded in the first line.
            if "{recording}" not in template:
                raise PlaybookError(f"{technique.key}: opening without {{recording}}: {template[:20]}")
    for template in objections["objection_trust"].templates:
        # Verification the customer does alone: the number on the card or the official website. A
        # number read out by the caller is what fraud calls give (issue 19), so none is.
        if ("{contact_source}" not in template or "{hotline}" in template
                or not ("卡背面" in template and ("官网" in template or "官方网站" in template))):
            raise PlaybookError("objection_trust: every answer states the contact source and sends the customer to "
                                "the number on the card or the official website, never one the caller reads out")
    for style in follow_ups:
        if style not in openings:
            raise PlaybookError(f"follow_ups: unknown opening style {style}")
    for group in (openings, objections):
        for technique in group.values():
            for template in technique.templates:
                _check_placeholders(template, f"{technique.key}: {template[:20]}", playbook.placeholders)
    for technique in (playbook.closing, playbook.interested, playbook.risk_no_level, playbook.callback_opening,
                      playbook.referral_no_referrer, *(t for group in follow_ups.values() for t in group.values())):
        for template in technique.templates:
            _check_placeholders(template, f"{technique.key}: {template[:20]}", playbook.placeholders)
    for line in playbook.all_lines():
        bad = find_forbidden(line)
        if bad:
            raise PlaybookError(f"forbidden promise {bad!r} in: {line}")
    return playbook


def find_forbidden(text: str, product: object = None) -> list[str]:
    """The forbidden promises said in ``text``, by their words (bot.compliance judges them: by
    pattern and negation, so "不保证本金和收益" passes and "到期肯定能拿到" does not)."""
    return list(dict.fromkeys(f.phrase for f in findings(text, product)))


@lru_cache(maxsize=1)
def intent_titles() -> dict[str, str]:
    """Chinese titles of intents, for buttons and transcripts."""
    return dict(_read("intents.yml")["titles"])


@lru_cache(maxsize=1)
def playbook() -> Playbook:
    return load_playbook()
