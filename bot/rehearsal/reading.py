"""How a rehearsal reads one trainee line: what it does (the trained move model), what the compliance
module finds in it, and whether it only repeats an earlier line or lists words (issue 20).

The one reading the score card (scoring.py, scorers.py) and the simulated customer (roleplay.py)
share, so the customer reacts to exactly what the card later counts. Regular expressions stay only
for what is lexical (a time phrase, the bank's name, a risk level): cues.py.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from bot.compliance import REHEARSAL_LEARNED, findings
from bot.rehearsal.cues import invented_figures
from bot.rehearsal.moves import moves_of
from bot.text import normalize

# Moves that sell nothing and answer nothing, whatever else the model hears in them (off topic only
# when the model does not also hear an answer: the weakest of its moves, it must not veto one).
HOLLOW = frozenset({"keyword_list"})
# What a customer takes badly (besides the compliance module's findings).
OFFENSIVE = frozenset({"pressure", "promise", "disparage", "false_fact"})
# A line this close to an earlier one (share of its character pairs) says nothing new.
REPEAT_SIMILARITY = 0.7
ECHO_SIMILARITY = 0.6  # ... and a line this close to what the customer just said only says it back
_HAN = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")
# Question tags and fillers carry no content of their own: "子公司开户，您看呢？您觉得怎么样？" says
# five characters' worth (lexical on purpose: these are fixed phrases).
_TAGS = re.compile(r"您看(?:呢|怎么样|行不行|可以吗|好吗|如何)?|您觉得(?:呢|怎么样|如何|合适吗|可以吗|行吗)?"
                   r"|你觉得呢|您说呢"
                   r"|怎么样|行不行|好不好|对不对|是不是|可以吗|行吗|好吗|对吧|是吧|嗯嗯|好的|明白|[呢吗吧啊呀哈]")
MIN_CONTENT = 6  # characters besides tags: "约。", "补充。", "理解您忙，您看呢？" answer nothing


@dataclass(frozen=True)
class Reading:
    moves: frozenset[str]
    forbidden: tuple[str, ...]  # the compliance module's findings (not pressure), by their words
    pressure: bool  # pressure, by the compliance module or the move model
    repeats: int | None  # the earlier trainee line (0-based among the trainee's lines) this one repeats
    content: int  # characters that carry words
    echoes: bool = False  # only says the customer's own words back
    invented: tuple[str, ...] = ()  # figures the product's facts do not bear out (返现百分之八), by their words

    @property
    def hollow(self) -> bool:
        """Says nothing a customer can use: a word list, off topic, a repeat or a fragment."""
        off_topic = "off_topic" in self.moves and "answers_objection" not in self.moves
        return (bool(self.moves & HOLLOW) or off_topic or self.echoes or self.repeats is not None
                or self.content < MIN_CONTENT)

    @property
    def claims(self) -> tuple[str, ...]:
        """What a customer hears as too good to be true, by its words: promises, then invented figures."""
        return self.forbidden + self.invented

    @property
    def offends(self) -> bool:
        return bool(self.forbidden) or self.pressure or bool(self.moves & (OFFENSIVE - {"pressure"}))

    def does(self, move: str) -> bool:
        """The line makes ``move`` and is not hollow (a repeated question asks nothing new)."""
        return move in self.moves and not self.hollow

    @property
    def answers(self) -> bool:
        return self.does("answers_objection")


# Statutory sentences a trainee must say again and again (the disclosure, the recording notice): not
# what makes a line a repeat.
_BOILERPLATE = re.compile(
    r"[^。！!？?；;]*(?:理财非存款|产品有风险|投资[须需]谨慎|不代表实际收益|风险等级|全程录音)[^。！!？?；;]*")


def _pairs(text: str) -> frozenset[str]:
    chars = "".join(_HAN.findall(_BOILERPLATE.sub("", text)))
    return frozenset(chars[i:i + 2] for i in range(len(chars) - 1))


def repeats(line: str, earlier: Sequence[str], similarity: float = REPEAT_SIMILARITY) -> int | None:
    """The earlier line ``line`` repeats (most of its character pairs already said there), if any."""
    mine = _pairs(normalize(line))
    if len(mine) < 3:
        return None
    for index, other in enumerate(earlier):
        theirs = _pairs(normalize(other))
        if theirs and len(mine & theirs) / len(mine) >= similarity:
            return index
    return None


@lru_cache(maxsize=4096)
def _read(line: str, objection: str | None, category: str | None,
          facts: tuple[str, ...]) -> tuple[frozenset[str], tuple[str, ...], bool, tuple[str, ...]]:
    moves = moves_of(line, objection)
    invented = invented_figures(line, facts)
    if invented:
        moves |= {"false_fact"}
    said = findings(line, category, learned=REHEARSAL_LEARNED)
    forbidden = tuple(dict.fromkeys(f.phrase for f in said if f.kind != "pressure"))
    pressure = any(f.kind == "pressure" for f in said) or "pressure" in moves
    return moves, forbidden, pressure, invented


def read(line: str, objection: str | None, earlier: Sequence[str] = (), category: str | None = None,
         heard: str = "", facts: tuple[str, ...] = ()) -> Reading:
    """The reading of trainee ``line``, said right after the customer said ``heard`` and raised
    ``objection`` (None: no objection), after the trainee's ``earlier`` lines, about a product of
    ``category`` whose facts (selling points, as the CRM states them) are ``facts``."""
    moves, forbidden, pressure, invented = _read(line or "", objection, category, tuple(facts))
    content = len(_HAN.findall(_TAGS.sub("", normalize(line or ""))))
    echoes = bool(heard) and repeats(line or "", [heard], ECHO_SIMILARITY) is not None
    return Reading(moves, forbidden, pressure, repeats(line or "", earlier), content, echoes, invented)
