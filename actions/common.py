"""Shared plumbing: a CRM session per action run, the call context from slots."""

from __future__ import annotations

import abc
import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from bot import clock, crm
from bot.db import sessions
from bot.guidance import CallState, Context, ProductInfo, Profile, Reply, Script
from bot.models import Client, User
from bot.settings import get_settings

logger = logging.getLogger(__name__)

# Slots that describe the current call; reset when another client is looked up.
CALL_SLOTS = ("used_selling_points", "opening_styles_used", "objections_seen", "products_pitched",
              "refusal_count", "opening_style", "current_product", "last_line")


def agent_login(tracker: Tracker) -> str | None:
    """Who is working this conversation: the channel's metadata on the latest message
    (authoritative once channels authenticate), else the slot set at session start."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            metadata = event.get("metadata") or {}
            login = metadata.get("login") or metadata.get("agent") if isinstance(metadata, dict) else None
            if login:
                return str(login)
            break
    login = tracker.get_slot("agent_login")
    if login:
        return str(login)
    metadata = tracker.get_slot("session_started_metadata")
    if isinstance(metadata, dict):
        login = metadata.get("login") or metadata.get("agent")
        return str(login) if login else None
    return None


def call_state(tracker: Tracker) -> CallState:
    return CallState(
        used_points=list(tracker.get_slot("used_selling_points") or []),
        opening_styles=list(tracker.get_slot("opening_styles_used") or []),
        objections=list(tracker.get_slot("objections_seen") or []),
        products_pitched=list(tracker.get_slot("products_pitched") or []),
        refusals=int(tracker.get_slot("refusal_count") or 0),
        last_line=tracker.get_slot("last_line"),
    )


def state_events(before: CallState, after: CallState) -> list[dict[str, Any]]:
    """SlotSet events for what changed in the call state."""
    pairs = {
        "used_selling_points": (before.used_points, after.used_points),
        "opening_styles_used": (before.opening_styles, after.opening_styles),
        "objections_seen": (before.objections, after.objections),
        "products_pitched": (before.products_pitched, after.products_pitched),
        "refusal_count": (before.refusals, after.refusals),
        "last_line": (before.last_line, after.last_line),
    }
    return [SlotSet(name, new) for name, (old, new) in pairs.items() if old != new]


@dataclass
class CallScope:
    """Everything an action needs about the call, read in one DB session."""

    session: Session
    tracker: Tracker
    agent: User | None
    client: Client | None
    context: Context
    state: CallState

    @property
    def profile(self) -> Profile | None:
        return self.context.profile

    @property
    def conversation_id(self) -> str:
        return self.tracker.sender_id

    def followup_agent_id(self) -> int | None:
        if self.agent is not None:
            return self.agent.id
        return self.client.agent_id if self.client is not None else None


def build_scope(session: Session, tracker: Tracker) -> CallScope:
    settings = get_settings()
    agent = crm.get_user(session, agent_login(tracker))
    client = None
    client_id = tracker.get_slot("current_client_id")
    if client_id:
        client = crm.get_client(session, int(float(client_id)))
    profile = Profile.from_row(client) if client else None
    agent_name = agent.name if agent else (profile.agent_name if profile and profile.agent_name else "客户经理")
    context = Context(
        bank=settings.bank_name,
        hotline=settings.bank_hotline,
        agent_name=agent_name,
        now=clock.now(),
        profile=profile,
        catalogue=tuple(ProductInfo.from_row(p) for p in crm.catalogue(session)),
    )
    return CallScope(session, tracker, agent, client, context, call_state(tracker))


def send_script(dispatcher: CollectingDispatcher, script: Script, buttons: list | None = None) -> None:
    dispatcher.utter_message(text=script.readable, json_message=script.payload(), buttons=buttons or [])


def apply_reply(scope: CallScope, reply: Reply, state: CallState) -> None:
    """Fold a guidance reply into the call state (selling point used, product pitched)."""
    if reply.used_point and reply.used_point not in state.used_points:
        state.used_points.append(reply.used_point)
    if reply.product and reply.product.code not in state.products_pitched:
        state.products_pitched.append(reply.product.code)
    state.last_line = reply.script.text


class CrmAction(Action, metaclass=abc.ABCMeta):
    """Base for actions that read or write the CRM: one session per run, off the event loop."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._run_in_session, dispatcher, tracker, domain)

    def _run_in_session(self, dispatcher, tracker, domain):
        try:
            with sessions().begin() as session:
                return self.handle(dispatcher, build_scope(session, tracker), domain)
        except Exception:  # noqa: BLE001 - never leave the agent without an answer
            logger.exception("action %s failed", self.name())
            dispatcher.utter_message(response="utter_internal_error")
            return []

    @abc.abstractmethod
    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        """Do the action's work inside one CRM transaction."""
