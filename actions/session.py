"""Conversation start and the low-confidence fallback."""

from __future__ import annotations

import json
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.slots import SESSION_CARRIED_SLOTS
from bot.playbook import intent_titles


class ActionSessionStart(Action):
    """Start a session, carrying the call over (who is working it is read from each message)."""

    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = [SessionStarted()]
        # Carry the client and the call state over a session timeout: the call goes on
        # (not Rasa's carry-over of every slot: the moment-to-moment ones start afresh).
        for slot in SESSION_CARRIED_SLOTS:
            value = tracker.get_slot(slot)
            if value is not None:
                events.append(SlotSet(slot, value))
        events.append(ActionExecuted("action_listen"))
        return events


class ActionClarifyIntent(Action):
    """Low NLU confidence: offer the two likeliest meanings as buttons."""

    def name(self) -> str:
        return "action_clarify_intent"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        ranking = [r for r in tracker.latest_message.get("intent_ranking", [])
                   if r.get("name") and r["name"] != "nlu_fallback"]
        entities = {e["entity"]: e["value"] for e in tracker.latest_message.get("entities", [])
                    if isinstance(e.get("value"), str)}
        suffix = json.dumps(entities, ensure_ascii=False) if entities else ""
        titles = intent_titles()
        buttons = [{"title": titles.get(r["name"], r["name"]), "payload": f"/{r['name']}{suffix}"}
                   for r in ranking[:2]]
        dispatcher.utter_message(response="utter_clarify", buttons=buttons)
        return []
