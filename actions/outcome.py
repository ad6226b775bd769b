"""Logging how the call ended: one call row per conversation, the client's stage moved on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.common import CallScope, CrmAction
from bot import crm
from bot.models import DISPOSITION_LABELS, DISPOSITIONS, STAGE_LABELS, Call, Holding
from bot.outcomes import disposition_for, next_stage
from bot.settings import get_settings
from bot.timeparse import parse_amount

OUTCOME_BUTTONS = [
    {"title": label, "payload": f'/log_outcome{{"outcome": "{code}"}}'}
    for code, label in DISPOSITION_LABELS.items()
]


def _started_at(scope: CallScope) -> datetime:
    for event in scope.tracker.events:
        if event.get("event") == "user" and event.get("timestamp"):
            return datetime.fromtimestamp(event["timestamp"], get_settings().timezone).replace(tzinfo=None)
    return scope.context.now


class ActionLogOutcome(CrmAction):
    """Write (or update) this conversation's call row and move the client's stage."""

    def name(self) -> str:
        return "action_log_outcome"

    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        outcome = disposition_for(next(scope.tracker.get_latest_entity_values("outcome"), None))
        if scope.client is None:
            dispatcher.utter_message(response="utter_ask_client_for_outcome")
            return []
        if not scope.may_write():
            scope.refuse_write(dispatcher)
            return []
        if outcome not in DISPOSITIONS:
            dispatcher.utter_message(response="utter_ask_outcome", buttons=OUTCOME_BUTTONS)
            return []
        client = scope.client
        previous = scope.session.scalars(select(Call).where(Call.conversation_id == scope.conversation_id)).first()
        previous_deals = crm.count_deals(scope.session, client.id) - (
            1 if previous is not None and previous.disposition == "deal" else 0)
        amount_text = next(scope.tracker.get_latest_entity_values("amount"), None)
        amount = parse_amount(str(amount_text)) if amount_text else None
        text = scope.tracker.latest_message.get("text") or ""
        notes = text if not text.startswith("/") else None
        if previous is not None and previous.notes and notes and notes not in previous.notes:
            notes = f"{previous.notes}\n{notes}"
        state = scope.state
        call, created = crm.upsert_call(
            scope.session,
            scope.conversation_id,
            agent_id=scope.user.id,
            client_id=client.id,
            started_at=previous.started_at if previous else _started_at(scope),
            ended_at=scope.context.now,
            disposition=outcome,
            objections=list(state.objections),
            opening_style=scope.tracker.get_slot("opening_style"),
            products=list(state.products_pitched),
            amount=amount,
            notes=notes,
        )
        old_stage = client.stage
        client.stage = next_stage(client.stage, outcome, previous_deals)
        if outcome == "do_not_call":
            client.do_not_call = True
        if outcome == "deal":
            self._record_holdings(scope, state.products_pitched[-1:], amount)
        stage_note = (f"客户阶段：{STAGE_LABELS[old_stage]} → {STAGE_LABELS[client.stage]}"
                      if client.stage != old_stage else f"客户阶段：{STAGE_LABELS[client.stage]}")
        dispatcher.utter_message(
            response="utter_outcome_logged" if created else "utter_outcome_updated",
            name=client.name, outcome=DISPOSITION_LABELS[outcome], stage=stage_note,
            json_message={"type": "call_logged", "call_id": call.id, "outcome": outcome,
                          "stage": client.stage, "conversation_id": scope.conversation_id},
        )
        return [SlotSet("outcome", None), SlotSet("client_do_not_call", client.do_not_call)]

    @staticmethod
    def _record_holdings(scope: CallScope, codes: list[str], amount: float | None) -> None:
        held = {h.product.code for h in scope.client.holdings}
        for product in crm.catalogue(scope.session):
            if product.code in codes and product.code not in held:
                scope.client.holdings.append(Holding(product=product, amount=amount))
