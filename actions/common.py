"""Shared plumbing: a CRM session per action run, the call context from slots."""

from __future__ import annotations

import abc
import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from bot import access, clock, crm, guidance, logs, masking, outbox
from bot.auth import Identity, identity_of_user
from bot.db import sessions, unreachable
from bot.guidance import CALLBACK_OBJECTIONS, PHASES, CallState, Context, LastCall, ProductInfo, Profile, Reply, Script
from bot.models import Client, User
from bot.playbook import playbook
from bot.settings import get_settings

logger = logging.getLogger(__name__)

# The call's state and the slots that hold it; reset when another client is looked up.
STATE_SLOTS = {
    "used_points": "used_selling_points",
    "opening_styles": "opening_styles_used",
    "objections": "objections_seen",
    "products_pitched": "products_pitched",
    "refusals": "refusal_count",
    "last_line": "last_line",
    "phase": "call_phase",
    "opening_style": "opening_style",
    "current_product": "current_product",
    "last_objection": "last_objection",
}
CALL_SLOTS = tuple(STATE_SLOTS.values())
_LISTS = {"used_points", "opening_styles", "objections", "products_pitched"}


def _signed(tracker: Tracker) -> dict[str, Any]:
    """The channel's metadata on the latest message: who sent it, under which token version."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            metadata = event.get("metadata")
            return metadata if isinstance(metadata, dict) else {}
    return {}


def verified_login(tracker: Tracker) -> str | None:
    """Who sent the latest message: the login our token-checking channel bound to it.

    Nothing else counts (no slot, no earlier message, no entity): the action server only
    answers Rasa (shared secret), and Rasa's channels take the login from the signed token.
    """
    login = _signed(tracker).get("login")
    return str(login) if login else None


def user_refusal(user: User | None, tracker: Tracker, *, need_version: bool = False) -> str | None:
    """Why the user behind the latest message may not act now (a reason for logs), else None.

    The token version the channel verified (metadata ``ver``) must still be the user's: a logout,
    password reset or deactivation since then bumps it (bot/auth.py). ``need_version``: a message
    without one is refused too (a replay, which cannot tell what happened since).
    """
    if user is None:
        return "unknown_user"
    if not user.active:
        return "inactive_user"
    version = _signed(tracker).get("ver")
    if version is None:
        return "no_token_version" if need_version else None
    return "token_revoked" if version != (user.token_version or 0) else None


def acting_user(session: Session, tracker: Tracker) -> tuple[User | None, Identity | None]:
    """The active user behind the latest message and their identity (role from the CRM)."""
    user = crm.get_user(session, verified_login(tracker))
    if user_refusal(user, tracker):
        return None, None
    return user, identity_of_user(user)


def call_state(tracker: Tracker) -> CallState:
    values: dict[str, Any] = {}
    for name, slot in STATE_SLOTS.items():
        value = tracker.get_slot(slot)
        if name in _LISTS:
            values[name] = tuple(value or ())
        elif name == "refusals":
            values[name] = int(value or 0)
        elif name == "phase":
            values[name] = value if value in PHASES else "none"
        else:
            values[name] = value
    return CallState(**values)


def state_events(before: CallState, after: CallState) -> list[dict[str, Any]]:
    """SlotSet events for what changed in the call state (computed once, in CrmAction)."""
    events = []
    for name, slot in STATE_SLOTS.items():
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            events.append(SlotSet(slot, list(new) if name in _LISTS else new))
    return events


@dataclass
class CallScope:
    """Everything an action needs about the call, read in one DB session.

    ``client`` is the current client only if the user may read them in full (bot.access).
    """

    session: Session
    tracker: Tracker
    user: User
    identity: Identity
    client: Client | None
    context: Context
    state: CallState

    @property
    def profile(self) -> Profile | None:
        return self.context.profile

    @property
    def conversation_id(self) -> str:
        return self.tracker.sender_id

    def apply(self, reply: Reply) -> None:
        """Fold a guidance reply into the call; the slot changes are sent once, by CrmAction."""
        self.state = self.state.apply(reply)

    def may_write(self) -> bool:
        """Calls and follow-ups for the current client: its own agent only."""
        return self.client is not None and access.may_write_client(self.identity, self.client)

    def can_write(self, dispatcher: CollectingDispatcher, ask_client: str) -> bool:
        """Whether this call may be written for its client; if not, tell the agent why
        (``ask_client``: the response asking which client, when none is looked up)."""
        if self.client is None:
            dispatcher.utter_message(response=ask_client)
            return False
        if not self.may_write():
            dispatcher.utter_message(text=playbook().messages["no_write_access"].format(name=self.client.name))
            return False
        return True


def current_client(session: Session, tracker: Tracker, identity: Identity) -> Client | None:
    """The client this call is about, if the user may read them in full (checked every turn:
    the slot is only a pointer, and ownership may have changed since the lookup)."""
    client = _slot_client(session, tracker)
    return client if client is not None and access.may_read_client(identity, client) else None


def _slot_client(session: Session, tracker: Tracker) -> Client | None:
    """The client the ``current_client_id`` slot points at, whoever may see them."""
    value = tracker.get_slot("current_client_id")
    try:
        return crm.get_client(session, int(float(value))) if value else None
    except (TypeError, ValueError):
        return None


def build_scope(session: Session, tracker: Tracker, user: User, identity: Identity) -> CallScope:
    settings = get_settings()
    client = current_client(session, tracker, identity)
    profile = Profile.from_row(client) if client else None
    now = clock.now()
    pending = crm.pending_callbacks(session, client.id, now, tracker.sender_id) if client else []
    # The call-back opening ("您上次说正在忙，我们约好…") only for a callback due today that the
    # customer agreed to; an overdue one or a follow-up the agent planned alone gets a note instead.
    agreed = next((f for f in pending if f.due_at.date() == now.date() and _agreed_callback(session, f)), None)
    last = crm.last_call(session, client.id, tracker.sender_id) if client else None
    later = crm.open_followups(session, client.id) if client else []
    context = Context(
        bank=settings.bank_name,
        hotline=settings.bank_hotline,
        agent_name=user.name,
        now=now,
        profile=profile,
        catalogue=_catalogue(session),
        pending_callback=agreed.due_at if agreed else None,
        callback_objection=_objection_of(session, agreed) if agreed else None,
        overdue_followup=next((f.due_at for f in pending if f.due_at.date() < now.date()), None),
        later_followup=next((f.due_at for f in later if f.due_at > now), None),
        last_call=LastCall(last.started_at, last.disposition, tuple(last.objections or ()),
                           tuple(last.products or ()), last.opening_style) if last else None,
    )
    return CallScope(session, tracker, user, identity, client, context, call_state(tracker))


# The catalogue changes rarely (a supervisor edits a product) but was read for every message:
# a quarter of the action server's time per message (py-spy, `make bench PROFILE=1`). Kept per
# process and database for CATALOGUE_SECONDS, like the NLU's catalogue entity ruler.
CATALOGUE_SECONDS = 30.0
_catalogues: dict[str, tuple[float, tuple[ProductInfo, ...]]] = {}


def _catalogue(session: Session) -> tuple[ProductInfo, ...]:
    key, now = str(session.get_bind().url), time.monotonic()
    cached = _catalogues.get(key)
    if cached is None or now - cached[0] > CATALOGUE_SECONDS:
        cached = _catalogues[key] = (now, tuple(ProductInfo.from_row(p) for p in crm.catalogue(session)))
    return cached[1]


def _agreed_callback(session: Session, followup) -> bool:
    return (_objection_of(session, followup) is not None
            or (followup.reason or "").startswith(guidance.AGREED_TIME_REASON))


def _objection_of(session: Session, followup) -> str | None:
    """What the client said when the callback was agreed: the objections of the call that booked it."""
    if not followup.conversation_id:
        return None
    call = crm.call_for(session, followup.conversation_id, followup.client_id)
    callbacks = [o for o in (call.objections if call else []) if o in CALLBACK_OBJECTIONS]
    if callbacks:
        return callbacks[-1]
    # No outcome logged for that call: the reason starts with the objection's technique name.
    names = {technique.name: key for key, technique in playbook().objections.items()}
    return names.get((followup.reason or "").split("：")[0])


def send_script(dispatcher: CollectingDispatcher, script: Script, buttons: list | None = None) -> None:
    dispatcher.utter_message(text=script.readable, json_message=script.payload(), buttons=buttons or [])


class CrmAction(Action, metaclass=abc.ABCMeta):
    """Base for actions that read or write the CRM: one session per run, off the event loop.

    What the action says reaches the agent only once its transaction has committed: a failed
    commit never leaves a "已记录" behind. ``durable`` actions (writes an agent must not lose) are
    kept in the outbox (bot/outbox.py) when the database is unreachable, and replayed later.
    """

    durable = False

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        # Pending writes first, oldest first (waiting for a replay already under way): this action
        # then sees the CRM as the agent expects.
        if outbox.active():
            await asyncio.to_thread(replay_deferred, True)
        return await asyncio.to_thread(self._run_in_session, dispatcher, tracker, domain)

    def _run_in_session(self, dispatcher, tracker, domain):
        messages = playbook().messages
        if self.durable and outbox.has_pending(tracker.sender_id):
            # Earlier writes of this conversation still wait for the CRM: this one queues behind
            # them, so an older outcome is never replayed over a newer one.
            self._defer(dispatcher, tracker)
            return []
        staged = CollectingDispatcher()
        try:
            events = self.transaction(staged, tracker, domain)
        except Exception as error:  # noqa: BLE001 - never leave the agent without an answer
            if unreachable(error) and self.durable:
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
        state = replay_state(tracker)
        outbox.defer(self.name(), state, clock.now(), state["latest_message"]["text"])
        dispatcher.utter_message(text=playbook().messages["write_deferred"].format(text=_quote(text)),
                                 json_message={"type": "write_deferred", "action": self.name()})

    def transaction(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                    domain: dict[str, Any]) -> list[dict[str, Any]]:
        """The action's work in one CRM transaction, committed before this returns; raises if it fails."""
        with sessions().begin() as session:
            user, identity = acting_user(session, tracker)
            if user is None:
                # No verified user: nothing from the CRM, not even the catalogue.
                dispatcher.utter_message(text=playbook().messages["not_signed_in"])
                return []
            scope = build_scope(session, tracker, user, identity)
            before = scope.state
            events = self.handle(dispatcher, scope, domain)
            # The chat is an exit like the pages: every number in what the agent reads (a card's
            # note, a follow-up line, an echoed query) shows as this user may see it (bot.masking).
            dispatcher.messages[:] = masking.for_reader(session, identity, dispatcher.messages)
            return events + state_events(before, scope.state)

    @abc.abstractmethod
    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        """Do the action's work inside one CRM transaction."""


def _quote(text: str, limit: int = 40) -> str:
    """The agent's words, short enough to recognise in a notice."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def _durable_actions() -> dict[str, CrmAction]:
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    return {action.name(): action for action in (cls() for cls in subclasses(CrmAction)
                                                  if not getattr(cls, "__abstractmethods__", None))
            if action.durable}


# What a durable action reads from the tracker when it is replayed, and all the outbox keeps
# (bot/outbox.py): the call's slots, the entities of the message that made the write
# (actions/outcome.py: outcome, amount, product; actions/followups.py: time, client_name), the
# moments of the conversation's messages and lookups (actions/outcome.py ``_started_at``), and
# who sent the message under which token version. Not the transcript, the client card, the phone
# slot or entity, nor earlier messages' words; numbers the agent typed are masked.
REPLAY_SLOTS = ("current_client_id", *CALL_SLOTS)
REPLAY_ENTITIES = frozenset({"outcome", "amount", "product", "time", "client_name"})


def replay_state(tracker: Tracker) -> dict[str, Any]:
    """The minimum of ``tracker`` a deferred write needs to be replayed (``Tracker.from_dict``)."""
    latest = tracker.latest_message or {}
    signed = _signed(tracker)
    events: list[dict[str, Any]] = []
    for event in tracker.events:
        if event.get("event") == "user":
            events.append({"event": "user", "timestamp": event.get("timestamp")})
        elif event.get("event") == "slot" and event.get("name") == "current_client_id":
            events.append({"event": "slot", "name": "current_client_id", "value": event.get("value")})
    for event in reversed(events):
        if event["event"] == "user":
            event["metadata"] = {key: signed[key] for key in ("login", "ver") if key in signed}
            break
    intent = latest.get("intent") or {}
    return {
        "sender_id": tracker.sender_id,
        "slots": {name: tracker.get_slot(name) for name in REPLAY_SLOTS if tracker.get_slot(name) is not None},
        "latest_message": {
            "text": logs.mask(latest.get("text") or ""),
            "intent": {"name": intent.get("name"), "confidence": intent.get("confidence")},
            "entities": [{"entity": e["entity"], "value": _masked(e.get("value"))}
                         for e in latest.get("entities") or () if e.get("entity") in REPLAY_ENTITIES],
        },
        "events": events,
    }


def _masked(value: Any) -> Any:
    return logs.mask(value) if isinstance(value, str) else value


def _replay_refusal(session: Session, tracker: Tracker) -> tuple[str, str] | None:
    """Whether the user behind a deferred write may still make it, now: (reason for the logs,
    message for the agent) if not. Checked again inside the write (``acting_user``, ``can_write``)."""
    messages = playbook().messages
    user = crm.get_user(session, verified_login(tracker))
    reason = user_refusal(user, tracker, need_version=True)
    if reason is not None:
        return reason, messages["deferred_rights_changed"]
    client = _slot_client(session, tracker)
    if client is not None and not access.may_write_client(identity_of_user(user), client):
        return "no_write_access", messages["no_write_access"].format(name=client.name)
    return None


_replaying = threading.Lock()
# After the CRM was found unreachable, messages do not each try again at once (each try can cost a
# connect timeout): the background replayer and the next message after this pause do.
RETRY_PAUSE_SECONDS = 2.0
_next_try = 0.0


def replay_deferred(wait: bool = False) -> int:
    """Write the outbox's pending entries, oldest first, each at the moment it was made; stops at
    the first that finds the CRM still unreachable. Returns how many were settled (written or refused).

    ``wait``: wait for a replay under way in another thread (an action about to run), instead of
    leaving it to that thread (the background replayer). The outcome of each entry is told to the
    agent on their conversation's next message (CrmAction.run).
    """
    global _next_try
    if not _replaying.acquire(timeout=60 if wait else 0):
        return 0  # another thread is replaying: the outbox is ordered, one replayer at a time
    try:
        if time.monotonic() < _next_try:
            return 0
        settled = 0
        actions = None
        for entry in outbox.pending():
            actions = actions or _durable_actions()
            action = actions.get(entry.action)
            if action is None:
                outbox.finish(entry.id, outbox.FAILED, playbook().messages["internal_error_short"])
                continue
            said = CollectingDispatcher()
            tracker = Tracker.from_dict(entry.state)
            try:
                with sessions().begin() as session:
                    refused = _replay_refusal(session, tracker)
                if refused is not None:
                    # The user's rights now, not when the CRM went down: a write of a user logged
                    # out, reset or disabled since, or for a client handed over, is not made.
                    outbox.finish(entry.id, outbox.FAILED, refused[1])
                    logger.warning("deferred write %s (%s) refused: %s", entry.id, entry.action, refused[0])
                    settled += 1
                    continue
                with clock.pinned(entry.made_at):
                    action.transaction(said, tracker, {})
            except Exception as error:  # noqa: BLE001
                if unreachable(error):
                    outbox.attempted(entry.id)
                    _next_try = time.monotonic() + RETRY_PAUSE_SECONDS
                    return settled
                logger.exception("deferred write %s (%s) failed", entry.id, entry.action)
                outbox.finish(entry.id, outbox.FAILED, playbook().messages["internal_error_short"])
                settled += 1
                continue
            # Committed. What the action said tells whether it wrote or refused (e.g. a deal
            # without a product): the refusal is passed on, word for word.
            refusal = _refusal(said.messages)
            outbox.finish(entry.id, outbox.FAILED if refusal else outbox.WRITTEN, refusal)
            logger.info("deferred write %s (%s) %s", entry.id, entry.action, "refused" if refusal else "written")
            settled += 1
        return settled
    finally:
        _replaying.release()


# Message types of a write that happened (actions/outcome.py, actions/followups.py).
_WRITTEN_TYPES = {"call_logged", "followup"}


def _refusal(messages: list[dict[str, Any]]) -> str | None:
    for message in messages:
        custom = message.get("custom") or {}
        if custom.get("type") in _WRITTEN_TYPES:
            return None
    texts = [m["text"] for m in messages if m.get("text")]
    return "\n".join(texts) or playbook().messages["deferred_incomplete"]
