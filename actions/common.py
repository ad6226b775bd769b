"""The action base: a CRM session per action run, one message per reply, and the replay of the
writes kept in the outbox (bot/outbox.py) while the CRM was down."""

from __future__ import annotations

import abc
import asyncio
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.identity import acting_user, user_refusal, verified_login
from actions.scope import CallScope, build_scope, slot_client
from actions.slots import CALL_SLOTS, state_events
from bot import access, clock, crm, masking, outbox
from bot.auth import identity_of_user
from bot.db import sessions, unreachable
from bot.guidance import CallState, Script
from bot.playbook import playbook

logger = logging.getLogger(__name__)


def send_script(dispatcher: CollectingDispatcher, script: Script, buttons: list | None = None,
                proposal: dict[str, Any] | None = None) -> None:
    """The line as a script card; ``proposal``: the outcome the widget offers to log (bot/book/proposals.py)."""
    payload = script.payload() if proposal is None else {**script.payload(), "proposal": proposal}
    dispatcher.utter_message(text=script.readable, json_message=payload, buttons=buttons or [])


class CrmAction(Action, metaclass=abc.ABCMeta):
    """Base for actions that read or write the CRM: one session per run, off the event loop.

    What the action says reaches the agent only once its transaction has committed: a failed
    commit never leaves a "已记录" behind. Durable writes (bot/outbox.py ``DURABLE_WRITES``: writes an
    agent must not lose) are kept in the outbox when the database is unreachable, and replayed later.
    """

    def durable(self, tracker: Tracker) -> bool:
        """Whether this run makes a durable write (the action and the message's intent decide)."""
        return outbox.is_durable(self.name(), (tracker.latest_message.get("intent") or {}).get("name"))

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        # Pending writes first, oldest first (waiting for a replay already under way): this action
        # then sees the CRM as the agent expects.
        if outbox.active():
            await asyncio.to_thread(outbox.replay_deferred, True)
        return await asyncio.to_thread(self._run_in_session, dispatcher, tracker, domain)

    def _run_in_session(self, dispatcher, tracker, domain):
        messages = playbook().messages
        durable = self.durable(tracker)
        if durable and outbox.has_pending(tracker.sender_id):
            # Earlier writes of this conversation still wait for the CRM: this one queues behind
            # them, so an older outcome is never replayed over a newer one.
            self._defer(dispatcher, tracker)
            return []
        staged = CollectingDispatcher()
        try:
            events = self.transaction(staged, tracker, domain)
        except Exception as error:  # noqa: BLE001 - never leave the agent without an answer
            if unreachable(error) and durable:
                logger.warning("action %s: CRM database unreachable; write deferred to the outbox", self.name(),
                               exc_info=True)
                self._defer(dispatcher, tracker)
            elif unreachable(error):
                logger.warning("action %s: CRM database unreachable", self.name(), exc_info=True)
                dispatcher.utter_message(text=messages["crm_unavailable"],
                                         json_message={"type": "service_unavailable", "service": "crm"})
            else:
                logger.exception("action %s failed", self.name())
                dispatcher.utter_message(response="utter_internal_error")
            return []
        for notice in outbox.take_news(tracker.sender_id):
            key = "deferred_written" if notice.status == outbox.WRITTEN else "deferred_failed"
            dispatcher.utter_message(text=messages[key].format(text=_quote(notice.text), reason=notice.result or ""))
        dispatcher.messages.extend(staged.messages)
        return events

    def _defer(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        text = tracker.latest_message.get("text") or ""
        state = outbox.replay_state(tracker, REPLAY_SLOTS)
        outbox.defer(self.name(), state, clock.now(), state["latest_message"]["text"])
        dispatcher.utter_message(text=playbook().messages["write_deferred"].format(text=_quote(text)),
                                 json_message={"type": "write_deferred", "action": self.name()})

    def transaction(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any],
                    writes: list[str] | None = None) -> list[dict[str, Any]]:
        """The action's work in one CRM transaction, committed before this returns; raises if it fails.
        ``writes``, if given, gets what the action wrote (``CallScope.wrote``) once committed."""
        with sessions().begin() as session:
            user, identity = acting_user(session, tracker)
            if user is None:
                # No verified user: nothing from the CRM, not even the catalogue.
                dispatcher.utter_message(text=playbook().messages["not_signed_in"])
                return []
            scope = build_scope(session, tracker, user, identity)
            before = scope.state
            events = self.handle(dispatcher, scope, domain)
            _note_contact(scope, before)
            # The chat is an exit like the pages: every number in what the agent reads (a card's
            # note, a follow-up line, an echoed query) shows as this user may see it (bot.masking).
            dispatcher.messages[:] = masking.for_reader(session, identity, dispatcher.messages)
            events = events + state_events(before, scope.state)
        if writes is not None:
            writes.extend(scope.writes)
        return events

    @abc.abstractmethod
    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        """Do the action's work inside one CRM transaction."""


def _note_contact(scope: CallScope, before: CallState) -> None:
    """The first opening or pitch for a client in a conversation makes it a marketing call (the
    contact limits count it, bot/contact_policy.py), whether or not an outcome is ever logged."""
    after = scope.state
    if (after.opening_styles, after.products_pitched) == (before.opening_styles, before.products_pitched):
        return  # most turns: nothing new was offered
    if scope.client is None or not (after.opening_styles or after.products_pitched) or not scope.may_write():
        return
    if crm.note_contact(scope.session, conversation_id=scope.conversation_id, client_id=scope.client.id,
                        agent_id=scope.user.id, at=scope.context.now,
                        opening_style=after.opening_styles[0] if after.opening_styles else None):
        scope.wrote("contact")


def _quote(text: str, limit: int = 40) -> str:
    """The agent's words, short enough to recognise in a notice."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


# --- replaying what the outbox kept (bot/outbox.py) ------------------------------------------

# What a durable action reads of the call's slots when it is replayed (bot/outbox.py replay_state).
REPLAY_SLOTS = ("current_client_id", *CALL_SLOTS)


def _durable_actions() -> dict[str, CrmAction]:
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    return {action.name(): action for action in (cls() for cls in subclasses(CrmAction)
                                                  if not getattr(cls, "__abstractmethods__", None))
            if action.name() in outbox.DURABLE_WRITES}


def _replay_refusal(session: Session, tracker: Tracker) -> tuple[str, str] | None:
    """Whether the user behind a deferred write may still make it, now: (reason for the logs,
    message for the agent) if not. Checked again inside the write (``acting_user``, ``can_write``)."""
    messages = playbook().messages
    user = crm.get_user(session, verified_login(tracker))
    reason = user_refusal(user, tracker, need_version=True)
    if reason is not None:
        return reason, messages["deferred_rights_changed"]
    client = slot_client(session, tracker)
    if client is not None and not access.may_write_client(identity_of_user(user), client):
        return "no_write_access", messages["no_write_access"].format(name=client.name)
    return None


def replay(entry: outbox.Deferred) -> outbox.Replayed:
    """Make a deferred write (bot/outbox.py ``replay_deferred``): its action, run on the little of
    the tracker the entry kept, at the moment it was made, if its user may still make it."""
    action = _durable_actions()[entry.action]
    tracker = Tracker.from_dict(entry.state)
    with sessions().begin() as session:
        refused = _replay_refusal(session, tracker)
    if refused is not None:
        return outbox.Replayed(refusal=refused[1], why=refused[0])
    said = CollectingDispatcher()
    writes: list[str] = []
    with clock.pinned(entry.made_at):
        action.transaction(said, tracker, {}, writes)
    if writes:
        return outbox.Replayed()
    # Committed, but nothing written (e.g. a deal without a product): the action's refusal is
    # passed on, word for word.
    texts = [m["text"] for m in said.messages if m.get("text")]
    return outbox.Replayed(refusal="\n".join(texts) or playbook().messages["deferred_incomplete"])


outbox.set_replayer(replay)
