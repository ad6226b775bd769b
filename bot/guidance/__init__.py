"""Live call guidance: which opening, which product, which line to say next.

Pure logic over plain data (no Rasa, no database session), so it is unit-tested directly; the
actions translate tracker state to and from these calls. The modules: ``state`` (the call and the
line), ``filling`` (the one template filler), ``selection`` (product and selling point),
``openings``, ``objections`` (pitch, objections, "OK", do-not-call), ``scheduling`` (callback
times) and ``card`` (the client card). This face re-exports their public names.
"""

from __future__ import annotations

from bot.guidance.card import client_card, client_summary, contact_source_label, contact_status
from bot.guidance.complaints import complaint, resume_selling, selling_held
from bot.guidance.filling import (
    contact_source_line,
    fill_template,
    placeholder_values,
    render,
    with_risk_disclosure,
)
from bot.guidance.line import LineProblem, line_problem
from bot.guidance.objections import (
    MAX_REFUSALS,
    agrees,
    confirms_deal,
    decided,
    do_not_call,
    handle_objection,
    interested,
    pitch,
)
from bot.guidance.openings import CALLBACK_STYLE, RELATIONSHIP_STYLES, opening, style_named
from bot.guidance.scheduling import AGREED_TIME_REASON, callback_due
from bot.guidance.selection import default_product, next_point, next_unused, unsuitable_note, usable
from bot.guidance.state import PHASES, CallState, Context, LastCall, Reply, Script
from bot.profile import ProductInfo, Profile, rank_openings, recommend_products

__all__ = [
    "LineProblem", "line_problem",
    "AGREED_TIME_REASON", "CALLBACK_STYLE", "MAX_REFUSALS", "PHASES",
    "RELATIONSHIP_STYLES", "CallState", "Context", "LastCall", "ProductInfo", "Profile", "Reply", "Script",
    "agrees", "callback_due", "complaint", "confirms_deal", "resume_selling", "selling_held",
    "client_card", "client_summary", "contact_source_label", "contact_source_line",
    "contact_status",
    "decided", "default_product", "do_not_call", "fill_template", "handle_objection", "interested",
    "next_point", "next_unused", "opening", "pitch", "placeholder_values", "rank_openings",
    "recommend_products", "render", "style_named", "unsuitable_note", "usable",
    "with_risk_disclosure",
]
