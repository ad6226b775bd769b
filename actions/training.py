"""Rehearsal: the bot plays the customer (bot/rehearsal); thin adapters between Rasa and the runner.

While the ``rehearsal`` slot holds a rehearsal, bot.rasa_ext.rehearsal_policy sends every
message here as a line to the customer (action_rehearsal_turn), except stop_training and the
picker's start payload. None of these actions reads or writes clients, calls or follow-ups.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.identity import acting_user
from bot import clock, labels
from bot.db import sessions
from bot.playbook import playbook
from bot.rehearsal import from_calls, runner, scenarios
from bot.rehearsal.runner import LAST_SLOT, SLOT, BrokenState, Running
from bot.rehearsal.scenarios import choose
from bot.settings import get_settings

logger = logging.getLogger(__name__)
# Scenarios made from real calls live in the CRM: /start_training{"scenario": "call_1"} finds them.
scenarios.set_stored_loader(from_calls.stored)


def _message(key: str, **values: Any) -> str:
    return playbook().messages[key].format(**values)


def _entity(tracker: Tracker, name: str) -> str | None:
    value = next(tracker.get_latest_entity_values(name), None)
    return str(value) if value else None


def _identity(tracker: Tracker):
    with sessions().begin() as db:
        _user, identity = acting_user(db, tracker)
        return identity


def _file(tracker: Tracker, running: Running):
    """Score the rehearsal and file it under the verified user: (card, turns, record id or None,
    a note for the trainee when it could not be kept)."""
    card, turns = runner.score(running, get_settings().bank_name)
    try:
        with sessions().begin() as db:
            _user, identity = acting_user(db, tracker)
            return card, turns, runner.save(db, identity, running, card, turns, tracker.sender_id, clock.now()), None
    except (PermissionError, ValueError, LookupError) as refusal:
        return card, turns, None, _message("rehearsal_not_saved", reason=str(refusal))
    except Exception:  # noqa: BLE001 - the card is shown even when the record cannot be kept
        logger.exception("saving the rehearsal of %s failed", tracker.sender_id)
        return card, turns, None, _message("rehearsal_save_failed")


def _ended(running: Running) -> list[dict[str, Any]]:
    """Back to live mode, remembering the scenario for "再练一次"."""
    return [SlotSet(SLOT, None), SlotSet(LAST_SLOT, running.scenario.id)]


def _finish(dispatcher: CollectingDispatcher, tracker: Tracker, running: Running) -> list[dict[str, Any]]:
    """Score and file the rehearsal and show the card; ends rehearsal mode."""
    card, turns, rehearsal_id, note = _file(tracker, running)
    text, payload = runner.card_message(running, card, turns, tracker.sender_id, rehearsal_id)
    payload["saved"] = rehearsal_id is not None
    dispatcher.utter_message(text=text + (f"\n{note}" if note else ""), json_message=payload)
    return _ended(running)


def _current(dispatcher: CollectingDispatcher, tracker: Tracker) -> tuple[Running | None, list[dict[str, Any]]]:
    """The running rehearsal; a damaged one is dropped with a message (events to clear it)."""
    try:
        return Running.from_slot(tracker.get_slot(SLOT)), []
    except BrokenState:
        logger.warning("unreadable rehearsal slot in %s", tracker.sender_id)
        dispatcher.utter_message(text=_message("rehearsal_broken"))
        return None, [SlotSet(SLOT, None)]


class TrainingAction(Action, metaclass=abc.ABCMeta):
    """Base: runs the blocking work (DB, scoring) off the event loop, never leaves the user unanswered."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            return await asyncio.to_thread(self.handle, dispatcher, tracker)
        except Exception:  # noqa: BLE001
            logger.exception("action %s failed", self.name())
            dispatcher.utter_message(response="utter_internal_error")
            return []

    @abc.abstractmethod
    def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[dict[str, Any]]:
        """Do the action's work (in a worker thread)."""


class ActionStartTraining(TrainingAction):
    """Start a rehearsal of the scenario asked for (picker id, product, client, difficulty, objection)."""

    def name(self) -> str:
        return "action_start_training"

    def handle(self, dispatcher, tracker):
        identity = _identity(tracker)
        if identity is None:
            dispatcher.utter_message(text=_message("not_signed_in"))
            return []
        typed = not (tracker.latest_message.get("text") or "").startswith("/")
        if typed and identity.role != "trainee" and not tracker.get_slot(SLOT):
            # An agent's chat is a live call: a misheard "练一下" must not turn the assistant into a
            # customer mid-call. Rehearsals for agents run on their own screen (the picker's payload).
            dispatcher.utter_message(text=_message("rehearsal_own_screen"))
            return []
        running, events = _current(dispatcher, tracker)
        if running is not None and running.trainee_spoke:
            # A new scenario from the picker mid-rehearsal: the unfinished one is scored and kept.
            card, _turns, _id, note = _file(tracker, running)
            events += _ended(running)
            text = _message("rehearsal_abandoned", title=running.scenario.title, total=card.total)
            dispatcher.utter_message(text=text + (f"\n{note}" if note else ""))
        try:
            choice = choose(tracker.latest_message.get("text") or "", scenario_id=_entity(tracker, "scenario"),
                            product=_entity(tracker, "product"), last=tracker.get_slot(LAST_SLOT))
        except KeyError:
            choice = choose("", last=tracker.get_slot(LAST_SLOT))
        started = runner.begin(choice, clock.now())
        text, payload = runner.started_message(choice, get_settings().bank_name)
        dispatcher.utter_message(text=text, json_message=payload,
                                 buttons=[{"title": labels.rehearsal("rehearsal_buttons")["stop"],
                                           "payload": "/stop_training"}])
        return events + [SlotSet(SLOT, started.to_slot()), SlotSet(LAST_SLOT, choice.scenario.id)]


class ActionRehearsalTurn(TrainingAction):
    """The trainee's line to the customer: the customer answers in character; at the call's end, the score."""

    def name(self) -> str:
        return "action_rehearsal_turn"

    def handle(self, dispatcher, tracker):
        running, events = _current(dispatcher, tracker)
        if running is None:
            return events
        line = tracker.latest_message.get("text") or ""
        running, _answer = runner.say(running, line, tracker.sender_id)
        text, payload = runner.customer_message(running, get_settings().bank_name)
        dispatcher.utter_message(text=text, json_message=payload)
        if running.session.ended:
            return _finish(dispatcher, tracker, running)
        return [SlotSet(SLOT, running.to_slot())]


class ActionStopTraining(TrainingAction):
    """End the rehearsal now and show the score card (always works, also with nothing running)."""

    def name(self) -> str:
        return "action_stop_training"

    def handle(self, dispatcher, tracker):
        running, events = _current(dispatcher, tracker)
        if running is None:
            if not events:
                dispatcher.utter_message(text=_message("rehearsal_not_started"),
                                         json_message={"type": "rehearsal_stopped", "scored": False})
            return events
        if not running.trainee_spoke:
            dispatcher.utter_message(text=_message("rehearsal_nothing_said"),
                                     json_message={"type": "rehearsal_stopped", "scored": False})
            return [SlotSet(SLOT, None)]
        return _finish(dispatcher, tracker, running)
