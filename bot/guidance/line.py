"""The line, not the customer (intent ``call_problem``): a bad line, silence, or the customer hung up.
No sales line and no objection answer: what to say to the line, and after a hang-up the outcome to log
(无人接听 when the customer had not said anything in this call, else 拒绝)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.guidance.state import CallState, Reply, Script
from bot.playbook import playbook
from bot.text import normalize

KINDS = ("hung_up", "silence", "bad_line")  # tried in this order; bad_line when no cue names another


@dataclass(frozen=True)
class LineProblem:
    kind: str
    reply: Reply
    outcome: str | None  # the disposition to propose (a hang-up), else None


def kind_of(said: str) -> str:
    """Which line problem the agent's words name (cues in messages.yml ``call_problems``)."""
    text = normalize(said or "").lower()
    texts = playbook().messages.call_problems
    for kind in KINDS:
        cues = texts[f"{kind}_cues"]
        if cues and re.search(cues, text):
            return kind
    return "bad_line"


def customer_spoke(state: CallState) -> bool:
    """Whether the customer said anything in this call that the assistant heard relayed."""
    return bool(state.objections) or state.phase in ("pitching", "closing", "objection")


def line_problem(state: CallState, said: str) -> LineProblem:
    kind = kind_of(said)
    texts = playbook().messages.call_problems
    script = Script(texts[f"{kind}_line"], texts[f"{kind}_technique"], f"call_problem_{kind}",
                    notes=(texts[f"{kind}_note"],))
    outcome = None
    if kind == "hung_up":
        outcome = "refused" if customer_spoke(state) else "no_answer"
    return LineProblem(kind, Reply(script), outcome)
