"""Product-fact rules (facts.yml): a benchmark only as its range with the disclaimer, a closed period
stated as not redeemable, deposit insurance with its limit. Judged per text (a selling point, a fact
field), because each is said on its own; used where products are edited (bot/book/products.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from bot.compliance.promises import Finding
from bot.text import normalize

FACTS_FILE = Path(__file__).resolve().parent / "facts.yml"


@dataclass(frozen=True)
class FactRule:
    kind: str
    when: re.Pattern[str]
    with_: re.Pattern[str] | None
    needs: tuple[re.Pattern[str], ...]
    reason: str


@lru_cache(maxsize=1)
def fact_rules() -> tuple[FactRule, ...]:
    raw = yaml.safe_load(FACTS_FILE.read_text(encoding="utf-8"))
    return tuple(FactRule(spec["kind"], re.compile(spec["when"]),
                          re.compile(spec["with"]) if spec.get("with") else None,
                          tuple(re.compile(p) for p in spec["needs"]), spec["reason"])
                 for spec in raw["rules"])


_SENTENCE_END = re.compile(r"[。；！？;!?\n]")


def _sentence(text: str, at: int) -> str:
    start = max((m.end() for m in _SENTENCE_END.finditer(text, 0, at)), default=0)
    end = _SENTENCE_END.search(text, at)
    return text[start:end.start() if end else len(text)]


def fact_findings(text: str) -> list[Finding]:
    """The facts ``text`` states without what keeps them true, one finding per rule broken."""
    prepared = normalize(text or "")  # not prepare(): it drops the '-' of "2.8%-3.2%"
    found = []
    for rule in fact_rules():
        fact = rule.when.search(prepared)
        # "with" in the fact's own sentence: a risk level (R2) or a term (100天) elsewhere in a long
        # line does not make a benchmark mentioned without a figure a figure.
        if fact is None or (rule.with_ is not None and not rule.with_.search(_sentence(prepared, fact.start()))):
            continue
        if not all(need.search(prepared) for need in rule.needs):
            found.append(Finding(rule.kind, fact.group(0), rule.reason, fact.start()))
    return found
