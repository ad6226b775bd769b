"""Logging how the call ended: one call row per conversation, the client's stage moved on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import CallScope, CrmAction
from bot import clock
from bot.models import DISPOSITION_LABELS, DISPOSITIONS, STAGE_LABELS
from bot.outcomes import disposition_for, log_call
from bot.playbook import playbook
from bot.timeparse import parse_amount

OUTCOME_BUTTONS = [
    {"title": label, "payload": f'/log_outcome{{"outcome": "{code}"}}'}
    for code, label in DISPOSITION_LABELS.items()
]


def _started_at(scope: CallScope) -> datetime:
    for event in scope.tracker.events:
        if event.get("event") == "user" and event.get("timestamp"):
            return clock.from_timestamp(event["timestamp"])
    return scope.context.now


def record_outcome(dispatcher: CollectingDispatcher, scope: CallScope, outcome: str, *,
                   deal_product: str | None = None, amount: float | None = None,
                   notes: str | None = None) -> list[dict[str, Any]]:
    """Log the current client's call with ``outcome`` and tell the agent what changed.
    The caller has checked that the user may write for this client."""
    client, state = scope.client, scope.state
    logged = log_call(
        scope.session, conversation_id=scope.conversation_id, agent_id=scope.user.id, client=client,
        outcome=outcome, started_at=_started_at(scope), now=scope.context.now, objections=list(state.objections),
        opening_style=state.opening_style, products=list(state.products_pitched), deal_product=deal_product,
        amount=amount, notes=notes,
    )
    stage_note = (f"客户阶段：{STAGE_LABELS[logged.old_stage]} → {STAGE_LABELS[logged.new_stage]}"
                  if logged.new_stage != logged.old_stage else f"客户阶段：{STAGE_LABELS[logged.new_stage]}")
    if logged.cancelled_followups:
        stage_note += "\n" + playbook().messages["followups_cancelled"].format(count=logged.cancelled_followups)
    dispatcher.utter_message(
        response="utter_outcome_logged" if logged.created else "utter_outcome_updated",
        name=client.name, outcome=DISPOSITION_LABELS[outcome], stage=stage_note,
        json_message={"type": "call_logged", "call_id": logged.call.id, "outcome": outcome,
                      "stage": client.stage, "conversation_id": scope.conversation_id},
    )
    return [SlotSet("outcome", None), SlotSet("client_do_not_call", client.do_not_call)]


class ActionLogOutcome(CrmAction):
    """Write (or update) this conversation's call row and move the client's stage."""

    def name(self) -> str:
        return "action_log_outcome"

    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        outcome = disposition_for(next(scope.tracker.get_latest_entity_values("outcome"), None))
        if not scope.can_write(dispatcher, "utter_ask_client_for_outcome"):
            return []
        if outcome not in DISPOSITIONS:
            dispatcher.utter_message(response="utter_ask_outcome", buttons=OUTCOME_BUTTONS)
            return []
        amount_text = next(scope.tracker.get_latest_entity_values("amount"), None)
        amount = parse_amount(str(amount_text)) if amount_text else None
        text = scope.tracker.latest_message.get("text") or ""
        notes = text if not text.startswith("/") else None
        # A deal is for the product under discussion (the one the closing question was about).
        product = scope.state.current_product or (scope.state.products_pitched[-1:] or [None])[0]
        if outcome in ("deal", "do_not_call", "refused"):
            scope.state = scope.state.apply_phase("ended")
        return record_outcome(dispatcher, scope, outcome, deal_product=product if outcome == "deal" else None,
                              amount=amount, notes=notes)
