"""During the call: openings, selling points, objections and buying signals."""

from __future__ import annotations

import copy
from typing import Any

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import CallScope, CrmAction, apply_reply, send_script, state_events
from bot import crm, guidance
from bot.playbook import playbook

OBJECTION_BUTTONS = [
    {"title": "再讲一个卖点", "payload": "/request_next_advantage"},
    {"title": "换个开场白", "payload": "/request_opening"},
]


def _blocked(dispatcher: CollectingDispatcher, scope: CallScope) -> bool:
    """Do-not-call clients get a warning instead of any sales line."""
    if scope.profile is not None and scope.profile.do_not_call:
        dispatcher.utter_message(text=playbook().messages["do_not_call"].format(name=scope.profile.name))
        return True
    return False


def _requested_product(scope: CallScope) -> str | None:
    value = next(scope.tracker.get_latest_entity_values("product"), None)
    return str(value) if value else None


class ActionSuggestOpening(CrmAction):
    """Recommend the opening style that fits the client best (the next one when asked again)."""

    def name(self) -> str:
        return "action_suggest_opening"

    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        if _blocked(dispatcher, scope):
            return []
        before = copy.deepcopy(scope.state)
        state = scope.state
        script, product = guidance.opening(scope.context, state)
        state.opening_styles.append(script.key)
        state.last_line = script.text
        if product and product.code not in state.products_pitched:
            state.products_pitched.append(product.code)
        if scope.profile is None:
            script = guidance.Script(script.text, script.technique, script.key, script.why,
                                     script.notes + (playbook().messages["no_client_opening"],))
        send_script(dispatcher, script, [{"title": "换一种开场", "payload": "/request_opening"},
                                         {"title": "讲一个卖点", "payload": "/request_next_advantage"}])
        return state_events(before, state) + [SlotSet("opening_style", script.key)]


class ActionNextAdvantage(CrmAction):
    """Give the next selling point of the product under discussion, one at a time."""

    def name(self) -> str:
        return "action_next_advantage"

    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        if _blocked(dispatcher, scope):
            return []
        before = copy.deepcopy(scope.state)
        reply = guidance.pitch(scope.context, scope.state, _requested_product(scope))
        apply_reply(scope, reply, scope.state)
        send_script(dispatcher, reply.script, [{"title": "再讲一个", "payload": "/request_next_advantage"}])
        events = state_events(before, scope.state)
        if reply.product:
            events.append(SlotSet("current_product", reply.product.name))
        return events


class ActionProductPitch(ActionNextAdvantage):
    """Pitch a named product: its selling points in order, one at a time."""

    def name(self) -> str:
        return "action_product_pitch"

    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        requested = _requested_product(scope)
        if requested and scope.context.product(requested) is None:
            dispatcher.utter_message(response="utter_unknown_product", product=requested,
                                     products="、".join(p.name for p in scope.context.catalogue))
            return []
        if requested is None and not scope.state.products_pitched and scope.profile is None:
            buttons = [{"title": p.name, "payload": f'/request_product_pitch{{"product": "{p.name}"}}'}
                       for p in scope.context.catalogue[:6]]
            dispatcher.utter_message(response="utter_ask_product", buttons=buttons)
            return []
        return super().handle(dispatcher, scope, domain)


class ActionHandleObjection(CrmAction):
    """Answer the customer's objection with the playbook's technique for it."""

    def name(self) -> str:
        return "action_handle_objection"

    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        intent = (scope.tracker.latest_message.get("intent") or {}).get("name") or ""
        if intent not in playbook().objections:
            dispatcher.utter_message(response="utter_default")
            return []
        if _blocked(dispatcher, scope):
            return []
        before = copy.deepcopy(scope.state)
        state = scope.state
        reply = guidance.handle_objection(intent, scope.context, state, requested_product=_requested_product(scope))
        if intent not in state.objections:
            state.objections.append(intent)
        if intent in guidance.REFUSALS:
            state.refusals += 1
        apply_reply(scope, reply, state)
        notes = list(reply.script.notes)
        if reply.follow_up_at is not None:
            notes.append(self._book(scope, reply))
        script = guidance.Script(reply.script.text, reply.script.technique, reply.script.key,
                                 reply.script.why, tuple(notes))
        buttons = OBJECTION_BUTTONS
        if reply.closed:
            buttons = [{"title": "约下周回访", "payload": "/schedule_callback"},
                       {"title": "记为拒绝", "payload": '/log_outcome{"outcome": "refused"}'}]
        send_script(dispatcher, script, buttons)
        return state_events(before, state)

    @staticmethod
    def _book(scope: CallScope, reply: guidance.Reply) -> str:
        pb = playbook()
        from bot.timeparse import describe

        if scope.client is None:
            return pb.messages["no_client_for_followup"]
        if not scope.may_write():
            return pb.messages["no_write_access"].format(name=scope.client.name)
        crm.add_followup(scope.session, client_id=scope.client.id, agent_id=scope.user.id,
                         due_at=reply.follow_up_at, reason=reply.follow_up_reason or "",
                         conversation_id=scope.conversation_id)
        return pb.messages["callback_created"].format(
            name=scope.client.name, time=describe(reply.follow_up_at, scope.context.now))


class ActionCustomerInterested(CrmAction):
    """A buying signal: give the next selling point and move towards signing up."""

    def name(self) -> str:
        return "action_customer_interested"

    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        if _blocked(dispatcher, scope):
            return []
        before = copy.deepcopy(scope.state)
        reply = guidance.interested(scope.context, scope.state)
        apply_reply(scope, reply, scope.state)
        send_script(dispatcher, reply.script, [
            {"title": "成交", "payload": '/log_outcome{"outcome": "deal"}'},
            {"title": "有意向", "payload": '/log_outcome{"outcome": "interested"}'},
        ])
        return state_events(before, scope.state)
