"""Logging how the call ended: the agent's words to bot.outcomes and its answer back to the agent.
One call row per client per conversation; what logging changes in the CRM is decided in bot.outcomes."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import CrmAction
from actions.scope import CallScope
from bot import clock, floor
from bot.book import proposals
from bot.learning import store as learning
from bot.models import DISPOSITION_LABELS, DISPOSITIONS, STAGE_LABELS
from bot.outcomes import OutcomeRefused, ProductNeeded, amount_from_text, disposition_for, log_call
from bot.playbook import customer_intents, playbook
from bot.profile import ProductInfo, recommend_products, suitable

OUTCOME_BUTTONS = [
    {"title": label, "payload": f'/log_outcome{{"outcome": "{code}"}}'}
    for code, label in DISPOSITION_LABELS.items()
]
# Outcomes after which the call is over (the guidance stops offering lines for it).
ENDS_CALL = ("deal", "do_not_call", "refused")
MAX_DEAL_BUTTONS = 5


def deal_buttons(scope: CallScope, amount: float | None = None) -> list[dict[str, str]]:
    """Buttons confirming a deal, one per product: "成交：白金信用卡" ->
    ``/log_outcome{"outcome": "deal", "product": "白金信用卡"}``.

    The products discussed in this call (the one under discussion first); if none, the
    products recommended for the client that they may buy; if none, the catalogue. A deal is
    logged only for the product the agent presses, never a guess. ``amount`` rides along so
    that "成交了，二十万" keeps its amount through the confirmation.
    """
    buttons = []
    for product in deal_products(scope)[:MAX_DEAL_BUTTONS]:
        entities: dict[str, str] = {"outcome": "deal", "product": product.name}
        if amount is not None:
            entities["amount"] = f"{amount:g}"
        buttons.append({"title": f"{DISPOSITION_LABELS['deal']}：{product.name}",
                        "payload": "/log_outcome" + json.dumps(entities, ensure_ascii=False)})
    return buttons


def deal_products(scope: CallScope) -> list[ProductInfo]:
    """The products a deal may be for, most likely first (see ``deal_buttons``)."""
    ctx, state = scope.context, scope.state
    codes = [state.current_product, *reversed(state.products_pitched)] if state.current_product else [
        *reversed(state.products_pitched)]
    products = []
    for code in codes:
        product = ctx.product(code)
        if product is not None and product not in products:
            products.append(product)
    if not products:
        products = [p for p, _why in recommend_products(scope.profile, ctx.catalogue) if suitable(scope.profile, p)]
    if not products:
        products = [p for p in ctx.catalogue if suitable(scope.profile, p)]
    return products


def _started_at(scope: CallScope) -> datetime:
    """When this client's part of the conversation began: the message that looked them up
    (a conversation may cover several clients), else the conversation's first message."""
    first = looked_up = None
    client_id = str(scope.client.id) if scope.client else None
    last_user_at = None
    for event in scope.tracker.events:
        if event.get("event") == "user" and event.get("timestamp"):
            last_user_at = event["timestamp"]
            first = first or last_user_at
        elif (event.get("event") == "slot" and event.get("name") == "current_client_id"
              and str(event.get("value")) == client_id and last_user_at):
            looked_up = last_user_at
    moment = looked_up or first
    return clock.from_timestamp(moment) if moment else scope.context.now


def record_outcome(dispatcher: CollectingDispatcher, scope: CallScope, outcome: str, *,
                   deal_product: str | None = None, amount: float | None = None,
                   notes: str | None = None) -> list[dict[str, Any]]:
    """Log the current client's call with ``outcome`` and tell the agent what changed; the one
    writer of call outcomes. ``deal_product``: the product the agent (or the customer's "行，办吧"
    to the product under discussion) confirmed, code or name. The caller has checked that the
    user may write for this client.

    Returns the slot events; none when bot.outcomes refused (nothing written): a deal without a
    product gets the product buttons, an unsuitable one the reason and the next step.
    """
    client, state = scope.client, scope.state
    messages = playbook().messages
    try:
        logged = log_call(
            scope.session, conversation_id=scope.conversation_id, agent_id=scope.user.id, client=client,
            outcome=outcome, started_at=_started_at(scope), now=scope.context.now,
            objections=list(state.objections), opening_style=state.opening_style,
            products=list(state.products_pitched), deal_product=deal_product, amount=amount, notes=notes,
            opening_explored=state.opening_explored,
        )
        learning.record_choices(scope.session, logged.call, state.products_pitched[:1], state.answer_variants)
    except ProductNeeded as refused:
        buttons = deal_buttons(scope, amount)
        payload: dict[str, Any] = {"type": "outcome_needs_product", "outcome": outcome}
        if buttons:  # the widget proposes the most likely product's deal (its button)
            payload["proposal"] = proposals.deal(deal_products(scope)[0].name, buttons[0]["payload"])
        dispatcher.utter_message(text=refused.reason, buttons=buttons, json_message=payload)
        return []
    except OutcomeRefused as refused:
        dispatcher.utter_message(text=f"{refused.reason}\n{messages['deal_refused']}",
                                 json_message={"type": "outcome_refused", "outcome": outcome,
                                               "reason": refused.reason})
        return []
    notes_for_agent = [f"客户阶段：{STAGE_LABELS[logged.old_stage]} → {STAGE_LABELS[logged.new_stage]}"
                       if logged.new_stage != logged.old_stage else f"客户阶段：{STAGE_LABELS[logged.new_stage]}"]
    if logged.product is not None:
        notes_for_agent.insert(0, messages["deal_product_logged"].format(product=logged.product.name))
    if logged.cancelled_followups:
        notes_for_agent.append(messages["followups_cancelled"].format(count=logged.cancelled_followups))
    if logged.done_followups:
        notes_for_agent.append(messages["followups_done"].format(count=logged.done_followups))
    scope.wrote("call")
    _learn_from_outcome(scope, outcome)
    dispatcher.utter_message(
        response="utter_outcome_logged" if logged.created else "utter_outcome_updated",
        name=client.name, outcome=DISPOSITION_LABELS[outcome], stage="\n".join(notes_for_agent),
        json_message={"type": "call_logged", "call_id": logged.call.id, "outcome": outcome,
                      "product": logged.product.code if logged.product else None,
                      "stage": client.stage, "conversation_id": scope.conversation_id},
    )
    return [SlotSet("outcome", None), SlotSet("client_do_not_call", client.do_not_call)]


def _learn_from_outcome(scope: CallScope, outcome: str) -> None:
    """An outcome that contradicts how the call was read keeps the misread line as a candidate for
    training (bot/floor.py); a supervisor decides whether it is one."""
    turns = [floor.Turn(e.get("text") or "", ((e.get("parse_data") or {}).get("intent") or {}).get("name"),
                        ((e.get("parse_data") or {}).get("intent") or {}).get("confidence"))
             for e in scope.tracker.events if e.get("event") == "user"]
    missed = floor.missed_reading(turns, outcome, customer_intents())
    if missed is not None:
        turn, intent = missed
        floor.record(scope.session, text=turn.text, intent=intent, source="outcome", user=scope.user,
                     conversation_id=scope.conversation_id, predicted=turn.intent, confidence=turn.confidence,
                     at=scope.context.now)


class ActionLogOutcome(CrmAction):
    """Write (or update) this client's call row in the conversation and move the client's stage."""

    def name(self) -> str:
        return "action_log_outcome"

    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        tracker = scope.tracker
        outcome = disposition_for(next(tracker.get_latest_entity_values("outcome"), None))
        if not scope.can_write(dispatcher, "utter_ask_client_for_outcome"):
            return []
        if outcome not in DISPOSITIONS:
            dispatcher.utter_message(response="utter_ask_outcome", buttons=OUTCOME_BUTTONS)
            return []
        amount_text = next(tracker.get_latest_entity_values("amount"), None)
        text = tracker.latest_message.get("text") or ""
        try:
            # The whole message too: the model may leave a minus sign (负五万) out of the entity.
            amount = amount_from_text(amount_text, text)
        except OutcomeRefused as refused:
            dispatcher.utter_message(text=f"{refused.reason}\n{playbook().messages['outcome_refused']}",
                                     json_message={"type": "outcome_refused", "outcome": outcome,
                                                   "reason": refused.reason})
            return []
        notes = text if not text.startswith("/") else None
        # A deal is for the product named in this message (typed, or the confirmation button),
        # never one guessed from the call: without it the agent is asked to confirm.
        product = next(tracker.get_latest_entity_values("product"), None) if outcome == "deal" else None
        events = record_outcome(dispatcher, scope, outcome, deal_product=str(product) if product else None,
                                amount=amount, notes=notes)
        if events and outcome in ENDS_CALL:  # no events: refused, nothing logged, the call goes on
            scope.state = scope.state.apply_phase("ended")
        return events
