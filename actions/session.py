"""Conversation start and the low-confidence fallback."""

from __future__ import annotations

import json
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet, UserUtteranceReverted, UserUttered
from rasa_sdk.executor import CollectingDispatcher

from actions.common import CrmAction
from actions.scope import CallScope
from actions.slots import SESSION_CARRIED_SLOTS
from bot import floor, labels
from bot.clarify import NOT_READINGS, readings
from bot.playbook import intent_questions, playbook


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


# What a clarification offers (json_message "type"): ActionApplyReading finds the question by it.
CLARIFY = "clarify"
NONE = "none"  # the 都不是 button
_ORDINAL = re.compile(r"([1-3一二三两])|\b(first|second|third)\b|\b(yi|er|san)\b", re.IGNORECASE)
_ORDINALS = {"1": 0, "一": 0, "first": 0, "yi": 0, "2": 1, "二": 1, "两": 1, "second": 1, "er": 1,
             "3": 2, "三": 2, "third": 2, "san": 2}


class ActionClarifyIntent(Action):
    """Not sure what a line means (FallbackClassifier: top reading low, or two readings close): ask,
    with the likeliest readings as buttons in the words of the moment, and 都不是."""

    def name(self) -> str:
        return "action_clarify_intent"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        texts, questions = playbook().messages.clarify_texts, intent_questions()
        offered = readings(tracker.latest_message.get("intent_ranking") or [])
        in_call = tracker.get_slot("current_client_id") is not None
        buttons = [{"title": questions.get(name, name), "payload": _choice(name)} for name in offered]
        buttons.append({"title": labels.button("reading_none"), "payload": _choice(NONE)})
        dispatcher.utter_message(text=texts["ask_in_call" if in_call else "ask_outside_call"], buttons=buttons,
                                 json_message={"type": CLARIFY, "readings": offered})
        return []


def _choice(reading: str) -> str:
    return "/choose_reading" + json.dumps({"reading": reading})


def _pending_question(tracker: Tracker) -> tuple[list[str], dict[str, Any]] | None:
    """The readings of the last clarification and the user event it asked about; None when the
    agent has typed anything since (a choice then comes too late to belong to that line)."""
    events = tracker.events
    latest_user = next((i for i in range(len(events) - 1, -1, -1) if events[i].get("event") == "user"), None)
    if latest_user is None:
        return None
    for i in range(latest_user - 1, -1, -1):
        event = events[i]
        if event.get("event") == "user":
            return None  # another line came between the question and this choice
        custom = ((event.get("data") or {}).get("custom") or {}) if event.get("event") == "bot" else {}
        if custom.get("type") == CLARIFY:
            original = next((e for e in reversed(events[:i]) if e.get("event") == "user"), None)
            return (list(custom.get("readings") or []), original) if original else None
    return None


def chosen_reading(tracker: Tracker, offered: list[str]) -> str | None:
    """The reading the agent chose: the button's entity, or a typed 第二个 / 2 / second."""
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == "reading" and (entity.get("value") in offered or entity.get("value") == NONE):
            return entity["value"]
    match = _ORDINAL.search(tracker.latest_message.get("text") or "")
    if match:
        index = _ORDINALS[next(g for g in match.groups() if g).lower()]
        return offered[index] if index < len(offered) else None
    return None


class ActionApplyReading(CrmAction):
    """The agent chose what the line meant: keep it as a candidate for training (bot/floor.py), then
    go on as if the model had understood the line so (Rasa's two-stage fallback does the same: the
    question and the choice are reverted and the line is uttered again with the chosen intent)."""

    def name(self) -> str:
        return "action_apply_reading"

    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        texts = playbook().messages.clarify_texts
        pending = _pending_question(scope.tracker)
        reading = chosen_reading(scope.tracker, pending[0]) if pending else None
        if pending is None or reading is None:
            dispatcher.utter_message(text=texts["stale"])
            return []
        if reading == NONE:
            dispatcher.utter_message(text=texts["retype"])
            return []
        original = pending[1]
        parse = dict(original.get("parse_data") or {})
        guess = next((r for r in parse.get("intent_ranking") or [] if r.get("name") not in NOT_READINGS), {})
        floor.record(scope.session, text=original.get("text"), intent=reading, source="clarify", user=scope.user,
                     conversation_id=scope.conversation_id, predicted=guess.get("name"),
                     confidence=guess.get("confidence"), at=scope.context.now)
        parse["intent"] = {"name": reading, "confidence": 1.0}
        parse["intent_ranking"] = [parse["intent"]] + [r for r in parse.get("intent_ranking") or []
                                                        if r.get("name") not in NOT_READINGS | {reading}]
        again = UserUttered(original.get("text"), parse_data=parse, input_channel=original.get("input_channel"))
        again["metadata"] = {**(scope.tracker.latest_message.get("metadata") or {}), "clarified": True}
        return [UserUtteranceReverted(), UserUtteranceReverted(), ActionExecuted("action_listen"), again]
