"""Pulling up a client: the client card, warnings, recommended products."""

from __future__ import annotations

from typing import Any

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import CALL_SLOTS, CallScope, CrmAction
from bot import crm
from bot.guidance import Profile, client_card, client_summary, recommend_products
from bot.models import DISPOSITION_LABELS
from bot.playbook import playbook

QUICK_REPLIES = [
    {"title": "开场白", "payload": "/request_opening"},
    {"title": "讲一个卖点", "payload": "/request_next_advantage"},
]


def _query(scope: CallScope) -> str | None:
    tracker = scope.tracker
    for entity in ("phone", "client_name"):
        value = next(tracker.get_latest_entity_values(entity), None)
        if value:
            return str(value)
    return None


class ActionLookupClient(CrmAction):
    """Find a client by name or phone and show the client card."""

    def name(self) -> str:
        return "action_lookup_client"

    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        query = _query(scope)
        if not query:
            dispatcher.utter_message(response="utter_ask_client")
            return []
        matches = crm.find_clients(scope.session, query)
        if not matches:
            dispatcher.utter_message(response="utter_client_not_found", query=query)
            return [SlotSet("client_name", None), SlotSet("phone", None)]
        if len(matches) > 1:
            buttons = [
                {"title": f"{c.name} {crm.mask_phone(c.phone)} {c.occupation or ''}".strip(),
                 "payload": f'/lookup_client{{"phone": "{c.phone}"}}'}
                for c in matches
            ]
            dispatcher.utter_message(response="utter_client_ambiguous", query=query,
                                     count=len(matches), buttons=buttons)
            return []
        return self._show(dispatcher, scope, matches[0])

    def _show(self, dispatcher: CollectingDispatcher, scope: CallScope, client) -> list[dict[str, Any]]:
        pb = playbook()
        profile = Profile.from_row(client)
        last = crm.call_summary(crm.last_call(scope.session, client.id, scope.conversation_id))
        own = scope.agent is None or scope.agent.role == "supervisor" or client.agent_id == scope.agent.id
        # Phone numbers are shown in full only to the client's own agent.
        card = client_card(profile, last, masked_phone=None if own else crm.mask_phone(client.phone))
        text = client_summary(profile, last)
        if not own and client.agent is not None:
            text = pb.messages["other_agents_client"].format(agent=client.agent.name) + "\n" + text
        events: list[dict[str, Any]] = []
        if str(scope.tracker.get_slot("current_client_id") or "") != str(client.id):
            # Another client: this call's state starts over.
            events += [SlotSet(slot, None) for slot in CALL_SLOTS]
        events += [
            SlotSet("current_client_id", str(client.id)),
            SlotSet("current_client_name", client.name),
            SlotSet("client_do_not_call", client.do_not_call),
        ]
        if client.do_not_call:
            warning = pb.messages["do_not_call"].format(name=client.name)
            card["warning"] = warning
            dispatcher.utter_message(text=f"{warning}\n{text}", json_message=card)
            return events
        today = crm.called_today(scope.session, client.id, scope.context.now, scope.conversation_id)
        if today is not None:
            warning = pb.messages["called_today"].format(
                name=client.name, time=today.started_at.strftime("%H:%M"),
                outcome=DISPOSITION_LABELS.get(today.disposition or "", "未记录"))
            card["warning"] = warning
            text = f"{warning}\n{text}"
        recommended = recommend_products(profile, scope.context.catalogue)
        if recommended:
            card["recommended_products"] = [{"code": p.code, "name": p.name, "why": why} for p, why in recommended]
            text += "\n" + pb.messages["recommended_products"].format(
                products="；".join(f"{p.name}（{why}）" for p, why in recommended[:3]))
        dispatcher.utter_message(text=text, json_message=card, buttons=QUICK_REPLIES)
        return events
