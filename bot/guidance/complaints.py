"""A customer's complaint during a call (issue 19): stop selling, apologise, record it. No sales
line follows in this call unless the agent continues on purpose (the customer agreed to listen)."""

from __future__ import annotations

import random

from bot.complaints import customer_words
from bot.guidance.filling import say
from bot.guidance.state import CallState, Context, Reply, Script
from bot.playbook import playbook

# The words stand in a spoken line: a long complaint is shortened there (the record keeps it whole).
SPOKEN_WORDS = 30


def complaint(ctx: Context, state: CallState, said: str, rng: random.Random | None = None) -> Reply:
    """The line after a complaint: apologise, restate, promise only to record it and pass it on."""
    pb = playbook()
    words = customer_words(said)
    spoken = words if len(words) <= SPOKEN_WORDS else words[:SPOKEN_WORDS] + "……"
    text = say(pb.complaint, ctx, None, state, rng, words=spoken or pb.placeholders["words"])
    return Reply(Script(text, pb.complaint.name, "customer_complaint", notes=(pb.messages["complaint_stop_selling"],)),
                 complaint=words or said.strip(), phase="objection")


def selling_held(ctx: Context, state: CallState) -> Reply | None:
    """Instead of a sales line while a complaint holds selling in this call: why not, and how on."""
    if not state.selling_held:
        return None
    name = ctx.profile.name if ctx.profile else "客户"
    return Reply(Script(playbook().messages["complaint_selling_held"].format(name=name), "客户投诉", "selling_held"))


def resume_selling(ctx: Context, state: CallState) -> Reply:
    """The agent continues on purpose: the customer said they will listen."""
    return Reply(Script(playbook().messages["complaint_selling_resumed"], "继续介绍", "selling_resumed"),
                 resume_selling=True)
