"""Pulling up a client: the client card, warnings, recommended products."""

from __future__ import annotations

from typing import Any

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import CrmAction
from actions.scope import CallScope, agreed_callback_at
from actions.slots import CALL_SLOTS
from bot import access, complaints, contact_policy, crm, labels
from bot.book import call_list
from bot.guidance import Profile, client_card, client_summary, contact_status, recommend_products
from bot.models import DISPOSITION_LABELS, Client
from bot.playbook import playbook
from bot.text import PhoneQuery, phone_query

QUICK_REPLIES = [
    {"title": labels.button("opening"), "payload": "/request_opening"},
    {"title": labels.button("first_point"), "payload": "/request_next_advantage"},
]


def _query(scope: CallScope) -> tuple[str, str] | None:
    """(kind, value) of what to look up: a client id from a button, a phone, or a name."""
    tracker = scope.tracker
    for entity in ("client_id", "phone", "client_name"):
        value = next(tracker.get_latest_entity_values(entity), None)
        if value:
            return entity, str(value)
    return None


def _typed_phone(scope: CallScope, query: tuple[str, str] | None) -> PhoneQuery | None:
    """The phone number the agent typed, checked, when the lookup is by number (or by nothing the
    model recognised): the phone entity stops at 11 digits, so 138000000012 must be read whole.
    A "name" with digits in it (号13800000003, 138abc00001) is a number too, and goes through the
    same checks as one: digits never reach the search by name."""
    kind, value = query or (None, "")
    if kind == "client_id" or (kind == "client_name" and not any(c.isdigit() for c in value)):
        return None  # a name (张三, Robert'); DROP ...) is looked up as a name
    text = scope.tracker.latest_message.get("text") or ""
    return phone_query(value if text.startswith("/") else text)  # a button: only its entity counts


def _phone_problem(dispatcher: CollectingDispatcher, typed: PhoneQuery) -> list[dict[str, Any]]:
    count = sum(c.isdigit() for c in typed.typed)
    dispatcher.utter_message(text=playbook().messages[f"phone_{typed.problem}"].format(phone=typed.typed,
                                                                                      count=count))
    return [SlotSet("client_name", None), SlotSet("phone", None)]


def _choice_button(scope: CallScope, client: Client) -> dict[str, str]:
    if access.may_read_client(scope.identity, client):
        title = f"{client.name} {access.phone_for(scope.identity, client)} {client.occupation or ''}"
    else:
        title = f"{client.name}（{client.agent.name if client.agent else '未分配'}负责）"
    # Payloads carry the client id, never a phone number.
    return {"title": title.strip(), "payload": f'/lookup_client{{"client_id": "{client.id}"}}'}


class ActionLookupClient(CrmAction):
    """Find a client by name or phone and show the client card."""

    def name(self) -> str:
        return "action_lookup_client"

    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        if not access.reads_real_crm(scope.identity):
            dispatcher.utter_message(text=playbook().messages["trainee_no_clients"])
            return []
        query = _query(scope)
        typed = _typed_phone(scope, query)
        if typed is not None and typed.problem:
            return _phone_problem(dispatcher, typed)
        if typed is not None:
            query = ("phone", typed.digits)  # as typed in full: 138 0000 0001, +8613800000001
        if not query:
            dispatcher.utter_message(response="utter_ask_client")
            return []
        found = access.lookup_clients(scope.session, scope.identity, *query)
        if found.suffix_refused:
            dispatcher.utter_message(text=playbook().messages["phone_suffix_own_clients_only"])
            return [SlotSet("client_name", None), SlotSet("phone", None)]
        matches = found.clients
        if not matches:
            dispatcher.utter_message(response="utter_client_not_found", query=query[1])
            return [SlotSet("client_name", None), SlotSet("phone", None)]
        if len(matches) > 1:
            dispatcher.utter_message(response="utter_client_ambiguous", query=query[1], count=len(matches),
                                     buttons=[_choice_button(scope, c) for c in matches])
            return []
        client = matches[0]
        if not access.may_read_client(scope.identity, client):
            return self._show_limited(dispatcher, client)
        return self._show(dispatcher, scope, client)

    @staticmethod
    def _show_limited(dispatcher: CollectingDispatcher, client: Client) -> list[dict[str, Any]]:
        """Another agent's client: name, stage and owner; the call's client does not change."""
        view = access.limited_view(client)
        text = playbook().messages["other_agents_client"].format(
            name=client.name, agent=view["agent_name"] or "其他坐席", stage_label=view["stage_label"])
        dispatcher.utter_message(text=text, json_message={"type": "client_card", "client": view})
        return []

    def _show(self, dispatcher: CollectingDispatcher, scope: CallScope, client) -> list[dict[str, Any]]:
        pb = playbook()
        profile = Profile.from_row(client)
        last_call = crm.last_call(scope.session, client.id, scope.conversation_id)
        last = crm.call_summary(last_call)
        card = client_card(profile, last, phone=access.phone_for(scope.identity, client))
        text = client_summary(profile, last)
        if not access.may_see_full_phone(scope.identity, client):
            card["client"]["phone_hidden"] = True
            text += "\n" + pb.messages["phone_hidden"]
        events: list[dict[str, Any]] = []
        if str(scope.tracker.get_slot("current_client_id") or "") != str(client.id):
            # Another client: this call's state starts over.
            events += [SlotSet(slot, None) for slot in CALL_SLOTS]
        # Kept in the CRM: the review list shows the conversation even if no outcome is logged.
        crm.note_lookup(scope.session, conversation_id=scope.conversation_id, client_id=client.id,
                        agent_id=scope.user.id, at=scope.context.now)
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
        now = scope.context.now
        warnings = []
        today = crm.called_today(last_call, now)
        if today is not None:
            warnings.append(pb.messages["called_today"].format(
                name=client.name, time=today.started_at.strftime("%H:%M"),
                outcome=DISPOSITION_LABELS.get(today.disposition or "", "未记录")))
        # The client's last call gave an opening or a pitch but no outcome was logged (bot/book/call_list.py).
        unfinished = call_list.unfinished_call(scope.session, client, now, scope.conversation_id)
        if unfinished:
            warnings.append(unfinished)
        # The contact policy: why the client may not be called now, when they may, what not to pitch.
        decision = contact_policy.decide(
            scope.session, client, now=now, conversation_id=scope.conversation_id,
            agreed_callback=agreed_callback_at(scope.session, client.id, now, scope.conversation_id))
        card["client"]["contact"], contact_lines = contact_status(
            decision, {p.code: p.name for p in scope.context.catalogue})
        warnings += contact_lines
        waiting = complaints.open_for_client(scope.session, client.id)
        if waiting:
            # An unanswered complaint comes before any sale (seed 002: complaints are client care).
            first = waiting[0]
            warnings.append(pb.messages["complaint_open_on_card"].format(
                name=client.name, count=len(waiting), category=labels.complaint_categories()[first.category],
                date=f"{first.created_at.month}月{first.created_at.day}日"))
        if warnings:
            card["warning"] = "\n".join(warnings)
            text = f"{card['warning']}\n{text}"
        recommended = [(p, why) for p, why in recommend_products(profile, scope.context.catalogue)
                       if decision.cooling(p.code) is None]
        if recommended:
            card["recommended_products"] = [{"code": p.code, "name": p.name, "why": why} for p, why in recommended]
            text += "\n" + pb.messages["recommended_products"].format(
                products="；".join(f"{p.name}（{why}）" for p, why in recommended[:3]))
        # No opening or first point to press while the client may not be called.
        dispatcher.utter_message(text=text, json_message=card, buttons=QUICK_REPLIES if decision.allowed else [])
        return events
