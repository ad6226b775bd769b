"""Forbidden promises found by pattern and meaning (rules in promises.yml).

A rule's pattern finds a promise's kernel ("保本", "肯定批", "跟存款一样"); the kernel counts only
when its clause asserts it: an odd number of negations before it ("不保本", "非保本浮动收益型"), a
denial after it ("零风险的理财是不存在的") or a plain question to the customer make it an honest
statement, while a double negation ("不是不保本") or a negative rhetorical question ("这不是保本吗")
is still a promise.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.text import normalize

RULES_FILE = Path(__file__).resolve().parent / "promises.yml"
# Clause punctuation; the enumeration comma 、 is not one ("不承诺保本、保收益" negates both).
_PUNCT = "，,。！!？?；;：:\n…"
_HAN = r"\u4e00-\u9fff"
# Spaces and symbols typed between two characters ("保 本", "保-本", "零*风险") join them again.
# How far before a closing question mark (or 吗) a kernel is still what is asked, in characters.
QUESTION_REACH = 10
_INNER_NOISE = re.compile(rf"(?<=[{_HAN}0-9%])[\s·\-_*~～/\\|'\"“”‘’]+(?=[{_HAN}0-9%])")


@dataclass(frozen=True)
class Finding:
    """One forbidden promise: its kind, the words that make it, and why (Chinese, for the agent)."""

    kind: str
    phrase: str
    reason: str
    start: int = 0  # offset in the prepared (normalised) text


@dataclass(frozen=True)
class Rule:
    kind: str
    reason: str
    patterns: tuple[re.Pattern[str], ...]
    skip_for: frozenset[str] = frozenset()
    unless: re.Pattern[str] | None = None
    sentence_scope: bool = False
    unless_topic: re.Pattern[str] | None = None  # the sentence is about something this is true of
    # A rhetorical kernel ("谁说有风险", "风险？不存在的"): its question and its negation are the
    # promise, so neither is counted; it may run past its sentence.
    rhetorical: bool = False


@dataclass(frozen=True)
class Rules:
    rules: tuple[Rule, ...]
    variants: tuple[tuple[str, str], ...]
    ime_words: tuple[str, ...]
    not_negators: re.Pattern[str]
    a_not_a: re.Pattern[str]
    negators: re.Pattern[str]
    post_negation: re.Pattern[str]
    hearsay: re.Pattern[str]
    clause_breaks: re.Pattern[str]
    question_end: re.Pattern[str]
    dialect: tuple[tuple[re.Pattern[str], str], ...]
    concern: re.Pattern[str]
    mention: re.Pattern[str]
    tag_question: re.Pattern[str]
    rhetorical_tail: re.Pattern[str]
    rejection: re.Pattern[str]
    non_deposit: re.Pattern[str]
    contrast: re.Pattern[str]

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(rule.kind for rule in self.rules))


_MACRO = re.compile(r"<([A-Z_]+)>")


def _expand(pattern: str, macros: dict[str, str]) -> str:
    """``<NAME>`` -> the macro's regex (macros may use earlier macros)."""
    for _ in range(5):
        expanded = _MACRO.sub(lambda m: macros[m.group(1)], pattern)
        if expanded == pattern:
            return expanded
        pattern = expanded
    raise ValueError(f"promises.yml: macros nest too deep in {pattern[:40]}")


def _rule(spec: dict[str, Any], macros: dict[str, str]) -> Rule:
    return Rule(
        kind=spec["kind"],
        reason=spec["reason"],
        patterns=tuple(re.compile(_expand(p, macros)) for p in spec["patterns"]),
        skip_for=frozenset(spec.get("skip_for") or ()),
        unless=re.compile(spec["unless"]) if spec.get("unless") else None,
        sentence_scope=spec.get("scope") in ("sentence", "text"),
        rhetorical=spec.get("scope") == "text",
        unless_topic=re.compile(_expand(spec["unless_topic"], macros)) if spec.get("unless_topic") else None,
    )


def load_rules(path: Path = RULES_FILE) -> Rules:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    words = sorted(raw["not_negators"], key=len, reverse=True)
    macros = {str(k): f"(?:{v})" for k, v in (raw.get("macros") or {}).items()}
    return Rules(
        rules=tuple(_rule(spec, macros) for spec in raw["rules"]),
        variants=tuple(sorted(((str(k), str(v)) for k, v in raw["variants"].items()), key=lambda kv: -len(kv[0]))),
        ime_words=tuple(raw.get("ime_words") or ()),
        not_negators=re.compile("|".join(map(re.escape, words))),
        a_not_a=re.compile(raw["a_not_a"]),
        negators=re.compile(raw["negators"]),
        post_negation=re.compile(raw["post_negation"]),
        hearsay=re.compile(raw["hearsay"]),
        clause_breaks=re.compile(raw["clause_breaks"]),
        question_end=re.compile(raw["question_end"]),
        dialect=tuple((re.compile(k), str(v)) for k, v in raw["dialect"].items()),
        concern=re.compile(raw["concern"]),
        mention=re.compile(raw["mention"]),
        tag_question=re.compile(raw["tag_question"]),
        rhetorical_tail=re.compile(raw["rhetorical_tail"]),
        rejection=re.compile(raw["rejection"]),
        non_deposit=re.compile(raw["non_deposit"]),
        contrast=re.compile(raw["contrast"]),
    )


@lru_cache(maxsize=1)
def rules() -> Rules:
    return load_rules()


_FUZZY = ((re.compile(r"^zh"), "z"), (re.compile(r"^ch"), "c"), (re.compile(r"^sh"), "s"),
          (re.compile(r"([aei])ng$"), r"\1n"))


def _fuzzy(syllable: str) -> str:
    """A syllable as a pinyin IME's fuzzy setting hears it (z/zh, c/ch, s/sh, an/ang, en/eng, in/ing)."""
    for pattern, repl in _FUZZY:
        syllable = pattern.sub(repl, syllable)
    return syllable


@lru_cache(maxsize=1)
def _ime_index() -> tuple[dict[tuple[str, ...], str], dict[str, str]]:
    """Kernel words by their fuzzy pinyin, and by their pinyin typed in Latin letters."""
    from pypinyin import lazy_pinyin  # lazy: loads its dictionaries

    by_sound, by_latin = {}, {}
    for word in rules().ime_words:
        sounds = lazy_pinyin(word)
        by_sound[tuple(_fuzzy(s) for s in sounds)] = word
        by_latin["".join(sounds)] = word
    return by_sound, by_latin


@lru_cache(maxsize=8192)
def sound(char: str) -> str:
    """One character's fuzzy pinyin ("?" for anything but Han), read once per character: converting
    whole lines was most of the time of checking every rendered line."""
    from pypinyin import lazy_pinyin  # lazy: loads its dictionaries

    return _fuzzy(lazy_pinyin(char, errors=lambda chars: ["?"] * len(chars))[0])


def _fix_ime(text: str) -> str:
    """Wrong IME candidates of a kernel word, back to the word: a two-character window that sounds
    like it and keeps one of its characters ("存宽" -> 存款), or its pinyin left in Latin ("pi" -> 批)."""
    by_sound, by_latin = _ime_index()
    text = re.sub(r"(?<![A-Za-z])[A-Za-z]+(?![A-Za-z])", lambda m: by_latin.get(m.group(0).lower(), m.group(0)), text)
    sounds = [sound(char) for char in text]
    chars = list(text)
    for i in range(len(chars) - 1):
        word = by_sound.get((sounds[i], sounds[i + 1]))
        window = chars[i] + chars[i + 1]
        if word and len(word) == 2 and window != word and (window[0] == word[0] or window[1] == word[1]):
            chars[i:i + 2] = list(word)
    return "".join(chars)


def prepare(text: str) -> str:
    """Cantonese function words folded to Mandarin, Simplified, half-width, invisible characters and
    in-word noise removed, variants folded, IME typos of kernel words corrected."""
    text = text or ""
    for pattern, mandarin in rules().dialect:
        text = pattern.sub(mandarin, text)
    text = "".join(c for c in normalize(text) if unicodedata.category(c) != "Cf")
    text = _INNER_NOISE.sub("", text)
    for written, canonical in rules().variants:
        text = text.replace(written, canonical)
    return _fix_ime(text) if text else text


def _spans(text: str, breaks: re.Pattern[str] | None) -> list[tuple[int, int]]:
    """(start, end) of each clause (or, without ``breaks``, sentence) of ``text``."""
    punct = "。！!？?；;\n" if breaks is None else _PUNCT
    spans, start = [], 0
    for i, char in enumerate(text):
        if char in punct:
            spans.append((start, i + 1))
            start = i + 1
    if start < len(text):
        spans.append((start, len(text)))
    if breaks is None:
        return spans
    out = []
    for s, e in spans:
        cut = s
        for m in breaks.finditer(text, s, e):
            if m.start() > cut:
                out.append((cut, m.start()))
            cut = m.start()
        out.append((cut, e))
    return out


def _negations(text: str, r: Rules) -> int:
    text = r.not_negators.sub("", r.a_not_a.sub("", text))
    return len(r.negators.findall(text))


def category_of(product: object) -> str | None:
    if product is None:
        return None
    return str(getattr(product, "category", product))


@dataclass(frozen=True)
class _Kernel:
    rule: Rule
    start: int  # in the clause
    end: int
    phrase: str


def _kernels(prepared: str, cs: int, ce: int, sentence: tuple[int, int], category: str | None,
             r: Rules) -> list[_Kernel]:
    """Every rule's kernels that start in the clause ``prepared[cs:ce]``."""
    found = []
    for rule in r.rules:
        if category in rule.skip_for:
            continue
        s, e = (0, len(prepared)) if rule.rhetorical else sentence if rule.sentence_scope else (cs, ce)
        unit = prepared[s:e]
        for pattern in rule.patterns:
            for m in pattern.finditer(unit):
                if not m.group(0) or not cs <= s + m.start() < ce:
                    continue
                at = s + m.start() - sentence[0]
                if rule.unless and disclaimed(rule.unless, prepared[sentence[0]:sentence[1]], at, r):
                    continue
                # "大额存单就是存款": said of a deposit, in the clause before the kernel.
                if rule.unless_topic and _about_deposit(prepared, cs, s + m.start(), sentence[0], rule, r):
                    continue
                start = s + m.start() - cs
                found.append(_Kernel(rule, start, min(start + len(m.group(0)), ce - cs), m.group(0)))
    return sorted(found, key=lambda k: (k.start, -k.end))


def disclaimed(disclaimer: re.Pattern[str], sentence: str, at: int, r: Rules | None = None) -> bool:
    """Whether ``sentence`` says ``disclaimer`` for what stands at ``at``: anywhere in it, except
    before a contrast that comes before ``at`` ("不代表实际收益，但这款每期都拿到三点二")."""
    contrast = (r or rules()).contrast
    return any(not (m.end() <= at and contrast.search(sentence, m.end(), at)) for m in disclaimer.finditer(sentence))


def _about_deposit(prepared: str, clause_start: int, at: int, sentence_start: int, rule: Rule, r: Rules) -> bool:
    """Whether the kernel at ``at`` is said of a deposit: its clause, or its sentence when nothing but
    deposits is named before it ("定期提前支取按活期算，本金不会少"), opens with a deposit."""
    assert rule.unless_topic is not None
    if rule.unless_topic.search(prepared[clause_start:at]):
        return True
    before = prepared[sentence_start:at]
    return bool(rule.unless_topic.search(before)) and not r.non_deposit.search(before)


def _asserted(clause: str, kernels: list[_Kernel], r: Rules, *, tagged: bool = False) -> list[_Kernel]:
    """The kernels the clause says as true: not denied (odd negations before, a denial after), not
    asked. A kernel right after another inherits its negation ("不承诺保本、保收益") unless a
    negation of its own stands between them ("不保本不保息"). ``tagged``: a tag question follows the
    clause ("您是想要保本的，对吧？"), so the whole clause is asked."""
    body = clause.rstrip(" 。.!！~～")
    asks_at_end = tagged or bool(r.question_end.search(body))
    said, counts = [], []
    for k in kernels:
        before = clause[:k.start]
        if r.hearsay.search(before):
            continue  # someone else's claim, reported: "如果有人说能保证收益，您要提高警惕"
        if r.concern.search(before):
            continue  # the customer's worry or wish restated: "您是担心本金会亏"
        if r.mention.search(clause[k.end:]):
            continue  # the words named, not said: "不存在肯定批这种说法"
        if _inside_a_not_a(clause, k.start):
            continue  # the kernel's own 不 is an A-not-A question: "会不会亏"
        earlier = [(other, n) for other, n in counts if other.end <= k.start]
        if earlier:
            prev, prev_n = max(earlier, key=lambda pair: pair[0].end)
            own = _negations(clause[prev.end:k.start], r)
            negations = own or prev_n
        else:
            negations = _negations(clause[:k.start], r)
        counts.append((k, negations))
        if r.post_negation.search(clause[k.end:]):
            negations += 1
        # A question covers the kernel near its end or after its A-not-A ("是不是保本"); a plain
        # question asks, a negative one ("不是保本吗") asserts.
        question = (asks_at_end and (tagged or len(body) - k.end <= QUESTION_REACH)) or bool(r.a_not_a.search(before))
        if question and r.rhetorical_tail.search(clause[k.end:]):
            question = False  # "某银行爆雷了，您不知道吗" asserts what it asks about
        if negations % 2 == (1 if question else 0):
            said.append(k)
    return said


def _inside_a_not_a(clause: str, start: int) -> bool:
    return 0 < start < len(clause) - 1 and clause[start] in "不没" and clause[start - 1] == clause[start + 1]


def rule_findings(text: str, product: object = None) -> list[Finding]:
    """The forbidden promises the rules find in ``text``, in reading order.

    ``product``: the product the line is about (a category such as ``"wealth"``, or anything with a
    ``category``); None when unknown, which is judged as strictly as a non-deposit product."""
    r = rules()
    prepared = prepare(text)
    if not prepared:
        return []
    category = category_of(product)
    sentences = _spans(prepared, None)
    found: list[Finding] = []
    for cs, ce in _spans(prepared, r.clause_breaks):
        sentence = next(((a, b) for a, b in sentences if a <= cs < b), (cs, ce))
        kernels = _kernels(prepared, cs, ce, sentence, category, r)
        tagged = bool(r.tag_question.match(prepared[ce:sentence[1]]))
        # The next clause (or sentence) rejects what this one named: nothing in it is said.
        rejected = bool(r.rejection.match(prepared[ce:ce + 16]))
        plain = [k for k in kernels if not k.rule.rhetorical and not rejected]
        said = _asserted(prepared[cs:ce], plain, r, tagged=tagged)
        said += [k for k in kernels if k.rule.rhetorical and not r.hearsay.search(prepared[cs:cs + k.start])]
        for k in said:
            found.append(Finding(k.rule.kind, k.phrase, k.rule.reason, cs + k.start))
    return _without_overlaps(sorted(found, key=lambda f: (f.start, -len(f.phrase))))


def _without_overlaps(items: list[Finding]) -> list[Finding]:
    """One finding per kind for overlapping matches (the longest, first)."""
    kept: list[Finding] = []
    for f in items:
        if any(k.kind == f.kind and k.start <= f.start < k.start + len(k.phrase) for k in kept):
            continue
        kept.append(f)
    return kept
