"""The sales playbook: YAML files in this folder, loaded once and validated.

Python chooses and fills the lines; the Chinese text lives in the YAML files.
"""

from __future__ import annotations

import re
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


# Card and loan facts (issue 19): a perk said to be free names its condition, a limit said to be high
# is subject to approval. Checked on every playbook line at load and on the demo catalogue.
_FREE_PERK = re.compile(r"(?:贵宾厅|贵宾室|权益|接送机|道路救援|洗车|体检|高尔夫|延误险|意外险)[^，,。！？；]{0,8}免费"
                        r"|免费[^，,。！？；]{0,6}(?:贵宾厅|贵宾室|权益|接送机|道路救援|洗车|体检|高尔夫|延误险|意外险)")
_PERK_CONDITION = re.compile(r"达标|满足|符合|条件|规则|刷卡满|消费满|以[^，,。！？；]{0,10}为准")
_HIGH_LIMIT = re.compile(r"高额度|额度高|大额度|额度大|额度很高|额度更高|高授信")
_SUBJECT_TO_APPROVAL = re.compile(r"以审批(?:结果)?为准")
_SENTENCES = re.compile(r"[^。！？；!?;\n]+")


def overstated_fact(text: str) -> str | None:
    """The words of a card or loan fact said without its condition ("全球机场贵宾厅免费使用" with no
    rule to meet, "高额度" not subject to approval), or None."""
    for sentence in _SENTENCES.findall(text or ""):
        perk = _FREE_PERK.search(sentence)
        if perk and not _PERK_CONDITION.search(sentence):
            return perk.group(0)
        limit = _HIGH_LIMIT.search(sentence)
        if limit and not _SUBJECT_TO_APPROVAL.search(sentence):
            return limit.group(0)
    return None


class PlaybookError(ValueError):
    """A playbook file is malformed (raised at start-up, not mid-call)."""


@dataclass(frozen=True)
class Technique:
    key: str
    name: str
    technique: str
    templates: tuple[str, ...]


@dataclass(frozen=True)
class OpeningLine:
    """One opening template and what it presupposes: the product categories it may lead into and
    the client facts it needs (condition names of bot/profile.py), as openings.yml declares them."""

    text: str
    fits: frozenset[str]
    needs: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()


@dataclass(frozen=True)
class Playbook:
    openings: dict[str, Technique]
    opening_lines: dict[str, tuple[OpeningLine, ...]]  # style -> its templates with their fit
    # Style -> why it is not given when asked for by name: "client" (not true for the client),
    # "product" (no line fits the product, with {product}).
    opening_unfit: dict[str, dict[str, str]]
    opening_aliases: dict[str, tuple[str, ...]]  # style -> names an agent may ask for it by
    opening_follow_ups: dict[str, dict[str, Technique]]  # style -> customer intent -> technique
    callback_opening: Technique
    objections: dict[str, Technique]
    closing: Technique
    interested: Technique
    risk_no_level: Technique
    referral_no_referrer: Technique
    complaint: Technique  # the line after a customer's complaint (complaints.yml)
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
    # Objection -> (the customer's words, the product categories they name): the answer speaks of a
    # product of that kind (objections.yml ``about``: 年费 -> card).
    objection_topics: dict[str, tuple[tuple[tuple[str, ...], frozenset[str]], ...]]

    def all_lines(self) -> list[str]:
        """Every user-facing template, for compliance checks."""
        lines = []
        for group in (self.openings, self.objections):
            for technique in group.values():
                lines += [technique.name, technique.technique, *technique.templates]
        follow_ups = [t for group in self.opening_follow_ups.values() for t in group.values()]
        for technique in (self.closing, self.interested, self.risk_no_level, self.callback_opening,
                          self.referral_no_referrer, self.complaint, *follow_ups):
            lines += [technique.name, technique.technique, *technique.templates]
        lines.append(self.recording_notice)
        lines += [r["why"] for r in self.opening_rules + self.product_rules]
        lines += [text for unfit in self.opening_unfit.values() for text in unfit.values()]
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
    topics = {key: tuple((tuple(t["words"]), frozenset(t["categories"])) for t in spec["about"])
              for key, spec in raw.items() if spec.get("about")}
    for key, about in topics.items():
        if any(not words or not categories for words, categories in about):
            raise PlaybookError(f"objections.yml: {key}: every `about` entry needs words and categories")
    return {"callback_objections": callbacks, "refusals": flagged("refusal"),
            "point_objections": flagged("answer_with_point"), "buying_signal_after": flagged("buying_signal"),
            "do_not_call": do_not_call[0], "objection_topics": topics}


def _messages() -> Messages:
    try:
        return Messages.load(_read("messages.yml"))
    except MessagesError as error:
        raise PlaybookError(str(error)) from error


def _names(value: Any) -> tuple[str, ...]:
    return () if value is None else (value,) if isinstance(value, str) else tuple(value)


def _opening_lines(style: dict[str, Any]) -> tuple[OpeningLine, ...]:
    """A style's templates with their fit: a plain line takes the style's, a mapping narrows it."""
    if not style.get("fits"):
        raise PlaybookError(f"{style['id']}: no fits declared (the product categories its lines may lead into)")
    lines = []
    for template in style.get("templates") or ():
        spec = template if isinstance(template, dict) else {"text": template}
        lines.append(OpeningLine(spec["text"], frozenset(_names(spec.get("fits") or style["fits"])),
                                 _names(spec.get("needs")), _names(spec.get("unless"))))
    if not lines:
        raise PlaybookError(f"{style['id']}: no templates")
    return tuple(lines)


def _unfit(style: dict[str, Any]) -> dict[str, str]:
    unfit = {str(k): str(v) for k, v in (style.get("unfit") or {}).items()}
    if not unfit.get("client") or set(unfit) - {"client", "product"}:
        raise PlaybookError(f"{style['id']}: `unfit` needs `client` (and may have `product`), not {sorted(unfit)}")
    _check_placeholders(unfit.get("product", ""), f"{style['id']}: unfit", {"product": ""})
    _check_placeholders(unfit["client"], f"{style['id']}: unfit", {})
    return unfit


def _check_opening_claims(checks: dict[str, Any], lines: list[tuple[str, OpeningLine]],
                          reasons: list[tuple[str, OpeningLine]]) -> None:
    """Refuse, as a class, what a tele-sales opening cannot truthfully say (openings.yml `checks`):
    a referrer's opinion, a team that has always served the account, other customers' doings, a casual
    line not kept from formal contacts, a trade line without a known occupation, a worry or herd topic
    leading into a product it has nothing to do with."""
    for where, line in [*lines, *reasons]:
        for claim in checks["claims"]:
            if claim.get("lines_only") and (where, line) in reasons:
                continue
            allowed = claim.get("allowed_if")
            if re.search(claim["pattern"], line.text) and not (
                    allowed and allowed in (*line.needs, *line.unless)):
                raise PlaybookError(f"{where}: {claim['why']}: {line.text}")
        for topic in checks["topics"]:
            outside = sorted(line.fits - set(topic["fits"]))
            if re.search(topic["pattern"], line.text) and outside:
                raise PlaybookError(f"{where}: a line about {topic['pattern']} may lead only into "
                                    f"{topic['fits']}, not {outside}: {line.text}")


def load_playbook() -> Playbook:
    openings_file = _read("openings.yml")
    openings_raw = openings_file["styles"]
    opening_lines = {s["id"]: _opening_lines(s) for s in openings_raw}
    openings = {
        s["id"]: Technique(s["id"], s["name"], s.get("technique", ""),
                           tuple(line.text for line in opening_lines[s["id"]]))
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
        opening_lines=opening_lines,
        opening_unfit={s["id"]: _unfit(s) for s in openings_raw},
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
        complaint=_technique("customer_complaint", _read("complaints.yml")["reply"]),
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
    for technique in (*objections.values(), playbook.referral_no_referrer):
        for template in technique.templates:
            # A caller who reads out the number to check them by is what fraud calls do (issue 19).
            if "{hotline}" in template and "核实" in template:
                raise PlaybookError(f"{technique.key}: verification by a number the caller reads out: {template[:30]}")
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
    every_category = frozenset(c for s in openings_raw for c in _names(s["fits"]))
    _check_opening_claims(openings_file["checks"], [
        *((style, line) for style, lines in opening_lines.items() for line in lines),
        *(("callback", OpeningLine(t, every_category)) for t in playbook.callback_opening.templates),
        *((f"follow_ups: {t.key}", OpeningLine(text, every_category))
          for group in follow_ups.values() for t in group.values() for text in t.templates),
    ], [(f"opening_rules: {r['style']}", OpeningLine(r["why"], frozenset(_names(r.get("fits")))))
        for r in playbook.opening_rules])
    for group in (openings, objections):
        for technique in group.values():
            for template in technique.templates:
                _check_placeholders(template, f"{technique.key}: {template[:20]}", playbook.placeholders)
    for technique in (playbook.closing, playbook.interested, playbook.risk_no_level, playbook.callback_opening,
                      playbook.referral_no_referrer, playbook.complaint,
                      *(t for group in follow_ups.values() for t in group.values())):
        for template in technique.templates:
            _check_placeholders(template, f"{technique.key}: {template[:20]}", playbook.placeholders)
    for line in playbook.all_lines():
        bad = find_forbidden(line)
        if bad:
            raise PlaybookError(f"forbidden promise {bad!r} in: {line}")
        overstated = overstated_fact(line)
        if overstated:
            raise PlaybookError(f"card or loan fact without its condition {overstated!r} (a perk's rule, "
                                f"以审批为准) in: {line}")
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
def customer_intents() -> frozenset[str]:
    """The intents that are the customer's words (relayed by the agent), not the agent's own."""
    raw = _read("intents.yml")
    return frozenset(raw["titles"]) - set(raw["agent_commands"]) - set(raw["both_speakers"])


@lru_cache(maxsize=1)
def intent_questions() -> dict[str, str]:
    """Each intent as the question the assistant asks when it is not sure (客户在忙？)."""
    return dict(_read("intents.yml")["questions"])


@lru_cache(maxsize=1)
def playbook() -> Playbook:
    return load_playbook()
