"""A customer's complaint during a call: the line to say and one button to record it (bot/complaints.py);
selling stays held for the rest of the call unless the agent continues on purpose."""

from __future__ import annotations

from typing import Any

from rasa_sdk.executor import CollectingDispatcher

from actions.common import CrmAction, send_script
from actions.scope import CallScope
from bot import complaints, guidance, labels
from bot.book import proposals
from bot.playbook import playbook

RESUME = {"title": labels.button("resume_selling"), "payload": "/resume_selling"}


def _record_payload(category: str) -> str:
    return f'/record_complaint{{"complaint_category": "{category}"}}'


def record_buttons(scope: CallScope) -> list[dict[str, str]]:
    """One button records the complaint under the suggested category; the others pick another."""
    if not scope.may_write() or not scope.state.complaint:
        return []
    categories = labels.complaint_categories()
    suggested = complaints.suggest_category(scope.state.complaint)
    buttons = [{"title": labels.button("record_complaint").format(category=categories[suggested]),
                "payload": _record_payload(suggested)}]
    buttons += [{"title": labels.button("complaint_other_category").format(category=label),
                 "payload": _record_payload(code)} for code, label in categories.items() if code != suggested]
    return buttons


def held_buttons(scope: CallScope) -> list[dict[str, str]]:
    """While selling is held: record the complaint (once; a second press changes nothing), or go on."""
    return [*record_buttons(scope)[:1], RESUME]


class ActionHandleComplaint(CrmAction):
    """The customer complains: stop selling, apologise, restate; the agent records it with one button."""

    def name(self) -> str:
        return "action_handle_complaint"

    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        said = scope.tracker.latest_message.get("text") or ""
        reply = guidance.complaint(scope.context, scope.state, said)
        scope.apply(reply)
        notes = list(reply.script.notes)
        messages = playbook().messages
        if scope.client is None:
            notes.append(messages["complaint_no_client"])
        elif not scope.may_write():
            notes.append(messages["no_write_access"].format(name=scope.client.name))
        buttons = record_buttons(scope)
        # The widget proposes recording it under the suggested category (the first button).
        proposal = proposals.complaint(labels.complaint_categories()[complaints.suggest_category(
            scope.state.complaint)], buttons[0]["payload"]) if buttons else None
        send_script(dispatcher, reply.script.with_notes(tuple(notes)), buttons, proposal)
        return []


class ActionRecordComplaint(CrmAction):
    """Record the call's complaint for the supervisors (category from the button, words from the call)."""

    def name(self) -> str:
        return "action_record_complaint"

    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        messages = playbook().messages
        if scope.client is None:
            dispatcher.utter_message(text=messages["complaint_no_client"])
            return []
        if not scope.can_write(dispatcher, "utter_ask_client_for_outcome"):
            return []
        words = scope.state.complaint
        if not words:
            dispatcher.utter_message(text=messages["complaint_no_words"])
            return []
        category = next(scope.tracker.get_latest_entity_values("complaint_category"), None)
        category = str(category) if category else complaints.suggest_category(words)
        try:
            recorded = complaints.record(scope.session, client=scope.client, agent_id=scope.user.id,
                                         conversation_id=scope.conversation_id, category=category, text=words,
                                         now=scope.context.now)
        except complaints.ComplaintError as error:
            dispatcher.utter_message(text=str(error))
            return []
        label = labels.complaint_categories()[recorded.complaint.category]
        if not recorded.new:
            dispatcher.utter_message(text=messages["complaint_already_recorded"].format(category=label))
            return []
        scope.wrote("complaint")
        dispatcher.utter_message(
            text=messages["complaint_recorded"].format(name=scope.client.name, category=label, words=words),
            json_message={"type": "complaint_recorded", "id": recorded.complaint.id, "client": scope.client.name,
                          "category": recorded.complaint.category},
            buttons=[RESUME])
        return []


class ActionResumeSelling(CrmAction):
    """The agent goes on selling after a complaint, on purpose (the customer agreed to listen)."""

    def name(self) -> str:
        return "action_resume_selling"

    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        reply = guidance.resume_selling(scope.context, scope.state)
        scope.apply(reply)
        send_script(dispatcher, reply.script, [
            {"title": labels.button("first_point"), "payload": "/request_next_advantage"},
            {"title": labels.button("opening"), "payload": "/request_opening"},
        ])
        return []
