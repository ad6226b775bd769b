"""Shared plumbing: a CRM session per action run, the call context from slots, and the replay
of the writes kept in the outbox (bot/outbox.py) while the CRM was down."""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from bot import access, clock, crm, guidance, masking, outbox
from bot.auth import Identity, identity_of_user
from bot.db import sessions, unreachable
from bot.guidance import PHASES, CallState, Context, LastCall, ProductInfo, Profile, Reply, Script
from bot.models import Client, User
from bot.playbook import playbook
from bot.settings import get_settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallSlot:
    """A slot of the domain holding one field of the call's state (bot.guidance.CallState).

    ``carried``: kept over a session timeout (actions/session.py), as what the call has used so
    far; the moment-to-moment ones (the last line, the phase, the product and objection under
    discussion) start afresh.
    """

    field: str
    slot: str
    carried: bool


# The call's state and the slots that hold it, in one place; reset when another client is looked up.
CALL_STATE = (
    CallSlot("used_points", "used_selling_points", carried=True),
    CallSlot("opening_styles", "opening_styles_used", carried=True),
    CallSlot("objections", "objections_seen", carried=True),
    CallSlot("products_pitched", "products_pitched", carried=True),
    CallSlot("refusals", "refusal_count", carried=True),
    CallSlot("last_line", "last_line", carried=False),
    CallSlot("phase", "call_phase", carried=False),
    CallSlot("opening_style", "opening_style", carried=True),
    CallSlot("current_product", "current_product", carried=False),
    CallSlot("last_objection", "last_objection", carried=False),
)
STATE_SLOTS = {call_slot.field: call_slot.slot for call_slot in CALL_STATE}
CALL_SLOTS = tuple(STATE_SLOTS.values())
_LISTS = {"used_points", "opening_styles", "objections", "products_pitched"}
# The client the call is about (actions/lookup.py sets them).
CLIENT_SLOTS = ("current_client_id", "current_client_name", "client_do_not_call")
# The rehearsal under way (actions/training.py).
REHEARSAL_SLOTS = ("rehearsal", "rehearsal_last_scenario")
# What a new session keeps of the last one (actions/session.py): the call goes on.
SESSION_CARRIED_SLOTS = (*CLIENT_SLOTS, *(s.slot for s in CALL_STATE if s.carried), *REHEARSAL_SLOTS)


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
    writes: list[str] = field(default_factory=list)  # what this run wrote to the CRM (``wrote``)

    @property
    def profile(self) -> Profile | None:
        return self.context.profile

    @property
    def conversation_id(self) -> str:
        return self.tracker.sender_id

    def apply(self, reply: Reply) -> None:
        """Fold a guidance reply into the call; the slot changes are sent once, by CrmAction."""
        self.state = self.state.apply(reply)

    def wrote(self, record: str) -> None:
        """Note a durable write this run made (``"call"``, ``"followup"``): a replayed one is then
        told to the agent as written (bot/outbox.py)."""
        self.writes.append(record)

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
    callbacks = [o for o in (call.objections if call else []) if o in playbook().callback_objections]
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
    client = _slot_client(session, tracker)
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
