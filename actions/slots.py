"""The call's state in the domain's slots: which slot holds what, what a new session keeps, and the
conversion between slots and bot.guidance.CallState."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet

from bot.guidance import PHASES, CallState


@dataclass(frozen=True)
class CallSlot:
    """A slot of the domain holding one field of the call's state (bot.guidance.CallState).

    ``carried``: kept over a session timeout (actions/session.py), as what the call has used so
    far; the moment-to-moment ones (the last line, the phase, the product and objection under
    discussion) start afresh.
    """

    field: str
    slot: str
    carried: bool


# The call's state and the slots that hold it, in one place; reset when another client is looked up.
CALL_STATE = (
    CallSlot("used_points", "used_selling_points", carried=True),
    CallSlot("opening_styles", "opening_styles_used", carried=True),
    CallSlot("objections", "objections_seen", carried=True),
    CallSlot("products_pitched", "products_pitched", carried=True),
    CallSlot("refusals", "refusal_count", carried=True),
    CallSlot("last_line", "last_line", carried=False),
    CallSlot("phase", "call_phase", carried=False),
    CallSlot("opening_style", "opening_style", carried=True),
    CallSlot("opening_explored", "opening_explored", carried=True),
    CallSlot("answer_variants", "answer_variants", carried=True),
    CallSlot("current_product", "current_product", carried=False),
    CallSlot("last_objection", "last_objection", carried=False),
    # A complaint holds selling for the rest of this call, a session timeout included.
    CallSlot("complaint", "complaint_words", carried=True),
    CallSlot("selling_held", "selling_held", carried=True),
)
STATE_SLOTS = {call_slot.field: call_slot.slot for call_slot in CALL_STATE}
CALL_SLOTS = tuple(STATE_SLOTS.values())
_LISTS = {"used_points", "opening_styles", "objections", "products_pitched", "answer_variants"}
# The client the call is about (actions/lookup.py sets them).
CLIENT_SLOTS = ("current_client_id", "current_client_name", "client_do_not_call")
# The rehearsal under way (actions/training.py).
REHEARSAL_SLOTS = ("rehearsal", "rehearsal_last_scenario")
# What a new session keeps of the last one (actions/session.py): the call goes on.
SESSION_CARRIED_SLOTS = (*CLIENT_SLOTS, *(s.slot for s in CALL_STATE if s.carried), *REHEARSAL_SLOTS)


def call_state(tracker: Tracker) -> CallState:
    values: dict[str, Any] = {}
    for name, slot in STATE_SLOTS.items():
        value = tracker.get_slot(slot)
        if name in _LISTS:
            values[name] = tuple(value or ())
        elif name == "refusals":
            values[name] = int(value or 0)
        elif name in ("selling_held", "opening_explored"):
            values[name] = bool(value)
        elif name == "phase":
            values[name] = value if value in PHASES else "none"
        else:
            values[name] = value
    return CallState(**values)


def state_events(before: CallState, after: CallState) -> list[dict[str, Any]]:
    """SlotSet events for what changed in the call state (computed once, in CrmAction)."""
    events = []
    for name, slot in STATE_SLOTS.items():
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            events.append(SlotSet(slot, list(new) if name in _LISTS else new))
    return events
