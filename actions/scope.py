"""Everything an action needs about the call, read in one CRM session: the user, the client, the
catalogue, the last call and the call state."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.slots import call_state
from bot import access, clock, contact_policy, crm, guidance
from bot.auth import Identity
from bot.book import products
from bot.guidance import CallState, Context, LastCall, ProductInfo, Profile, Reply
from bot.learning import store as learning
from bot.models import Client, User
from bot.playbook import playbook
from bot.settings import get_settings

logger = logging.getLogger(__name__)


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
    client = slot_client(session, tracker)
    return client if client is not None and access.may_read_client(identity, client) else None


def slot_client(session: Session, tracker: Tracker) -> Client | None:
    """The client the ``current_client_id`` slot points at, whoever may see them."""
    value = tracker.get_slot("current_client_id")
    try:
        return crm.get_client(session, int(float(value))) if value else None
    except (TypeError, ValueError):
        return None


def build_scope(session: Session, tracker: Tracker, user: User, identity: Identity) -> CallScope:
    settings = get_settings()
    client = current_client(session, tracker, identity)
    context = _CallContext(session, tracker.sender_id, client, bank=settings.bank_name, hotline=settings.bank_hotline,
                           agent_name=user.name, now=clock.now(), profile=Profile.from_row(client) if client else None,
                           catalogue=_catalogue(session))
    return CallScope(session, tracker, user, identity, client, context, call_state(tracker))


class _CallContext(Context):
    """The live call's Context. What the CRM holds about the client's history (follow-ups, the last call,
    products in their cooling-off period, what the team's calls taught) is read on first use, in the
    action's session: most turns (a lookup, a callback, an outcome) use none of it, and it was half of
    every action's queries. Each part is read once per action and then kept, as the eager fields were."""

    def __init__(self, session: Session, conversation_id: str, client: Client | None, **fields: Any) -> None:
        for name, value in fields.items():
            object.__setattr__(self, name, value)  # frozen, as Context is
        object.__setattr__(self, "_reads", (session, conversation_id, client))

    @cached_property
    def _pending(self) -> list:
        session, conversation_id, client = self._reads
        return crm.pending_callbacks(session, client.id, self.now, conversation_id) if client else []

    @cached_property
    def _agreed(self):
        # The call-back opening ("您上次说正在忙，我们约好…") only for a callback due today that the
        # customer agreed to; an overdue one or a follow-up the agent planned alone gets a note instead.
        session = self._reads[0]
        return next((f for f in self._pending if f.due_at.date() == self.now.date() and _agreed_callback(session, f)),
                    None)

    @cached_property
    def pending_callback(self) -> datetime | None:
        return self._agreed.due_at if self._agreed else None

    @cached_property
    def callback_objection(self) -> str | None:
        return _objection_of(self._reads[0], self._agreed) if self._agreed else None

    @cached_property
    def overdue_followup(self) -> datetime | None:
        return next((f.due_at for f in self._pending if f.due_at.date() < self.now.date()), None)

    @cached_property
    def later_followup(self) -> datetime | None:
        session, _conversation_id, client = self._reads
        later = crm.open_followups(session, client.id) if client else []
        return next((f.due_at for f in later if f.due_at > self.now), None)

    @cached_property
    def last_call(self) -> LastCall | None:
        session, conversation_id, client = self._reads
        last = crm.last_call(session, client.id, conversation_id) if client else None
        return LastCall(last.started_at, last.disposition, tuple(last.objections or ()), tuple(last.products or ()),
                        last.opening_style) if last else None

    @cached_property
    def cooling_off(self) -> tuple[contact_policy.CoolingOff, ...]:
        session, conversation_id, client = self._reads
        return contact_policy.cooling_off_for(session, client.id, self.now, conversation_id) if client else ()

    @cached_property
    def learnt(self) -> learning.Learnt | None:
        session, conversation_id, _client = self._reads
        return learning.learnt_for(session, self.profile, self.now, conversation_id)


def _catalogue(session: Session) -> tuple[ProductInfo, ...]:
    """The active products: kept per process, but a product saved on the supervisor's page (for
    instance deactivated) counts from the very next message (bot/book/products.py)."""
    return products.live_catalogue(session)


def _agreed_callback(session: Session, followup) -> bool:
    """A callback the customer agreed to (a time agreed, or a call back after their objection); not
    one the agent planned alone."""
    if followup.agreed_by_customer is not None:
        return followup.agreed_by_customer
    return _legacy_objection(session, followup) is not None \
        or (followup.reason or "").startswith(guidance.AGREED_TIME_REASON)


def agreed_callback_at(session: Session, client_id: int, now: datetime, conversation_id: str) -> datetime | None:
    """When a callback the customer agreed to (booked in an earlier call) is due today, if one is:
    the contact policy lets it be made whatever the counts (bot/contact_policy.py)."""
    pending = crm.pending_callbacks(session, client_id, now, conversation_id)
    agreed = next((f for f in pending if f.due_at.date() == now.date() and _agreed_callback(session, f)), None)
    return agreed.due_at if agreed else None


def _objection_of(session: Session, followup) -> str | None:
    """What the client said when the callback was agreed: the follow-up's own cause."""
    if followup.promise is not None:
        return followup.objection if followup.objection in playbook().callback_objections else None
    return _legacy_objection(session, followup)


def _legacy_objection(session: Session, followup) -> str | None:
    """Follow-ups booked before their cause was stored (migration 0013): the objections of the call
    that booked them, else the technique name their note starts with."""
    if not followup.conversation_id:
        return None
    call = crm.call_for(session, followup.conversation_id, followup.client_id)
    callbacks = [o for o in (call.objections if call else []) if o in playbook().callback_objections]
    if callbacks:
        return callbacks[-1]
    # No outcome logged for that call: the reason starts with the objection's technique name.
    names = {technique.name: key for key, technique in playbook().objections.items()}
    return names.get((followup.reason or "").split("：")[0])
