"""The call as guidance sees it: the line to say (Script), what the call has used (CallState),
what the CRM knows (Context, LastCall) and what a reply changes (Reply)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.contact_policy import CoolingOff
from bot.profile import ProductInfo, Profile

if TYPE_CHECKING:  # the guidance only calls what the caller put in its Context
    from bot.learning.store import Learnt

# Where the call is; decides what a short "OK" from the customer means.
PHASES = ("none", "opening", "pitching", "objection", "closing", "ended")


@dataclass(frozen=True)
class Script:
    """A line for the agent to say, with the technique it uses."""

    text: str
    technique: str
    key: str
    why: str | None = None
    notes: tuple[str, ...] = ()

    def payload(self) -> dict[str, Any]:
        return {"type": "script", "technique": self.technique, "key": self.key,
                "text": self.text, "why": self.why, "notes": list(self.notes)}

    @property
    def readable(self) -> str:
        parts = [f"【{self.technique}】{self.text}"]
        if self.why:
            parts.append(self.why)
        parts += list(self.notes)
        return "\n".join(parts)

    def with_notes(self, notes: tuple[str, ...]) -> Script:
        """The same line with other notes for the agent (the actions add what they did)."""
        return replace(self, notes=tuple(notes))


@dataclass(frozen=True)
class CallState:
    """What this call has used so far (mirrors the conversation's slots). Immutable: a
    guidance function returns a ``Reply`` and ``apply`` gives the next state."""

    used_points: tuple[str, ...] = ()  # "CODE:index"
    opening_styles: tuple[str, ...] = ()
    objections: tuple[str, ...] = ()
    products_pitched: tuple[str, ...] = ()
    refusals: int = 0
    last_line: str | None = None
    phase: str = "none"
    opening_style: str | None = None
    opening_explored: bool = False  # the learner tried ``opening_style`` rather than its best guess (bot/learning)
    answer_variants: tuple[str, ...] = ()  # "answer key:variant" of the answers given (bot.learning.store)
    current_product: str | None = None  # product code under discussion
    last_objection: str | None = None
    complaint: str | None = None  # the customer's complaint in this call, in their words
    selling_held: bool = False  # after a complaint: no sales line unless the agent continues on purpose

    def apply(self, reply: Reply) -> CallState:
        """The one place where a call's state changes."""
        changes: dict[str, Any] = {"last_line": reply.script.text}
        openings = () if reply.restart_openings else self.opening_styles
        if reply.opening_style:
            changes["opening_style"] = reply.opening_style
            changes["opening_explored"] = reply.explored
            openings = (*openings, reply.opening_style)
        changes["opening_styles"] = openings
        if reply.used_point and reply.used_point not in self.used_points:
            changes["used_points"] = (*self.used_points, reply.used_point)
        if reply.product is not None:
            changes["current_product"] = reply.product.code
            if reply.product.code not in self.products_pitched:
                changes["products_pitched"] = (*self.products_pitched, reply.product.code)
        if reply.objection:
            changes["last_objection"] = reply.objection
            if reply.objection not in self.objections:
                changes["objections"] = (*self.objections, reply.objection)
        if reply.answer_variant and reply.answer_variant not in self.answer_variants:
            changes["answer_variants"] = (*self.answer_variants, reply.answer_variant)
        if reply.refusal:
            changes["refusals"] = self.refusals + 1
        if reply.complaint:
            changes["complaint"], changes["selling_held"] = reply.complaint, True
        if reply.resume_selling:
            changes["selling_held"] = False
        if reply.phase:
            changes["phase"] = reply.phase
        return replace(self, **changes)

    def apply_phase(self, phase: str) -> CallState:
        """Only the phase moves (an outcome logged by hand ends the call)."""
        return replace(self, phase=phase)


@dataclass(frozen=True)
class LastCall:
    """The client's previous call, as the opening needs it."""

    started_at: datetime
    outcome: str | None
    objections: tuple[str, ...] = ()
    products: tuple[str, ...] = ()  # codes
    opening_style: str | None = None


@dataclass(frozen=True)
class Context:
    bank: str
    hotline: str
    agent_name: str
    now: datetime
    profile: Profile | None
    catalogue: tuple[ProductInfo, ...]
    pending_callback: datetime | None = None  # a callback agreed in an earlier call, due by today
    callback_objection: str | None = None  # what the client said when that callback was agreed
    later_followup: datetime | None = None  # an open follow-up due after today
    overdue_followup: datetime | None = None  # an open follow-up from before today, never made
    last_call: LastCall | None = None  # the client's previous call (another conversation)
    cooling_off: tuple[CoolingOff, ...] = ()  # products refused lately: not pitched (bot/contact_policy.py)
    learnt: Learnt | None = None  # what the team's calls taught (bot/learning); None: the seed's order

    def product(self, code_or_name: str | None) -> ProductInfo | None:
        for product in self.catalogue:
            if code_or_name in (product.code, product.name):
                return product
        return None


@dataclass(frozen=True)
class Reply:
    """A line for the agent and everything it changes in the call (see ``CallState.apply``)."""

    script: Script
    follow_up_at: datetime | None = None
    follow_up_reason: str | None = None
    used_point: str | None = None
    product: ProductInfo | None = None
    closed: bool = False
    opening_style: str | None = None
    explored: bool = False  # the opening style is the learner's exploration, not its best guess
    restart_openings: bool = False
    objection: str | None = None
    answer_variant: str | None = None  # "answer key:variant" when the learner chose the answer's line
    refusal: bool = False
    phase: str | None = None
    confirm_deal: bool = False  # the customer said yes to the closing question
    complaint: str | None = None  # the customer complained (their words): selling stops in this call
    resume_selling: bool = False  # the agent continues selling after a complaint, on purpose
