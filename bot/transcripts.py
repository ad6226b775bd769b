"""Conversation transcripts read from Rasa's SQL tracker store (SALESBOT_TRACKER_URL)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, func, inspect, or_, select

from bot import clock
from bot.db import engine_for
from bot.settings import get_settings

_metadata = MetaData()
# Rasa's own table (rasa.core.tracker_store.SQLTrackerStore.SQLEvent), read-only here.
events = Table(
    "events", _metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("type_name", String(255)),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)
# Bookkeeping actions nobody needs to see in a transcript.
HIDDEN_ACTIONS = {"action_listen", "action_session_start", "action_extract_slots"}


def _tracker_engine(url: str | None = None):
    return engine_for(url or get_settings().tracker_url)


_HAS_EVENTS: set[str] = set()  # tracker stores whose events table exists (Rasa creates it once, never drops it)


def _has_events(engine) -> bool:
    """Whether Rasa has created its events table there yet: asked of the database until it has (a
    reflection query on every first message of a conversation otherwise)."""
    key = str(engine.url)
    if key not in _HAS_EVENTS and inspect(engine).has_table("events"):
        _HAS_EVENTS.add(key)
    return key in _HAS_EVENTS


def transcript(conversation_id: str, url: str | None = None) -> list[dict[str, Any]]:
    """Turns in order: user messages (intent, confidence), bot replies, actions taken."""
    engine = _tracker_engine(url)
    if not _has_events(engine):
        return []
    with engine.connect() as connection:
        rows = connection.execute(
            select(events).where(events.c.sender_id == conversation_id).order_by(events.c.id)
        ).all()
    turns: list[dict[str, Any]] = []
    for row in rows:
        data = json.loads(row.data or "{}")
        when = clock.from_timestamp(row.timestamp).isoformat(timespec="seconds") if row.timestamp else None
        if row.type_name == "user":
            parse = data.get("parse_data") or {}
            intent = parse.get("intent") or {}
            turns.append({
                "speaker": "user", "text": data.get("text"), "intent": intent.get("name"),
                "confidence": round(float(intent.get("confidence") or 0), 3),
                "entities": [{"entity": e.get("entity"), "value": e.get("value")} for e in parse.get("entities", [])],
                "login": (data.get("metadata") or {}).get("login"), "time": when,
                # The line again with the reading the agent chose when the assistant asked.
                "clarified": bool((data.get("metadata") or {}).get("clarified")),
            })
        elif row.type_name == "bot":
            custom = (data.get("data") or {}).get("custom")
            turns.append({"speaker": "bot", "text": data.get("text"), "custom": custom, "time": when})
        elif row.type_name == "action" and row.action_name not in HIDDEN_ACTIONS:
            turns.append({"speaker": "action", "text": row.action_name, "time": when})
    return turns


@dataclass(frozen=True)
class ClientLookup:
    """A client the agent pulled up in a conversation (the ``current_client_id`` slot was set)."""

    conversation_id: str
    client_id: int
    first_at: datetime | None  # when the client was first looked up in this conversation
    login: str | None  # whom the conversation's first message was attributed to (None: unknown)


def client_lookups(url: str | None = None, conversation_id: str | None = None) -> list[ClientLookup]:
    """Every (conversation, client) pair of the tracker store (or of one conversation), from the
    ``current_client_id`` slot.

    A conversation about a client counts even when nobody logged an outcome: the supervisor's list
    must show it. Conversations with several clients give one pair per client.
    """
    engine = _tracker_engine(url)
    if not _has_events(engine):
        return []
    # The slot name sits in the event's JSON; the LIKE narrows the scan to these slot events.
    stmt = select(events.c.sender_id, events.c.timestamp, events.c.data) \
        .where(events.c.type_name == "slot", events.c.data.contains('"current_client_id"'))
    if conversation_id is not None:
        stmt = stmt.where(events.c.sender_id == conversation_id)
    # Each such conversation's first user message, found in SQL: the set of conversations may be
    # larger than any IN list a database accepts.
    first_user = select(func.min(events.c.id).label("id")) \
        .where(events.c.type_name == "user", events.c.sender_id.in_(stmt.with_only_columns(events.c.sender_id))) \
        .group_by(events.c.sender_id).subquery()
    with engine.connect() as connection:
        slots = connection.execute(stmt.order_by(events.c.id)).all()
        users = connection.execute(
            select(events.c.sender_id, events.c.data).join(first_user, events.c.id == first_user.c.id)).all()
    first_login: dict[str, str | None] = {}
    for row in users:
        login = (json.loads(row.data or "{}").get("metadata") or {}).get("login")
        first_login[row.sender_id] = str(login) if login else None
    found: dict[tuple[str, int], ClientLookup] = {}
    for row in slots:
        data = json.loads(row.data or "{}")
        value = data.get("value")
        if data.get("name") != "current_client_id" or value in (None, ""):
            continue
        try:
            client_id = int(value)
        except (TypeError, ValueError):
            continue
        key = (row.sender_id, client_id)
        if key not in found:
            when = clock.from_timestamp(row.timestamp) if row.timestamp else None
            found[key] = ClientLookup(row.sender_id, client_id, when, first_login.get(row.sender_id))
    return list(found.values())


def conversation_ids_matching(query: str, url: str | None = None) -> set[str]:
    """Conversations whose user or bot text contains ``query`` (full-text search)."""
    engine = _tracker_engine(url)
    if not query or not _has_events(engine):
        return set()
    # Rasa stores events as ASCII JSON: Chinese appears as \\uXXXX escapes.
    forms = {query, json.dumps(query)[1:-1]}
    matches = [events.c.data.contains(form, autoescape=True) for form in forms]
    with engine.connect() as connection:
        rows = connection.execute(
            select(events.c.sender_id).where(events.c.type_name.in_(("user", "bot")), or_(*matches)).distinct()
        ).all()
    return {row.sender_id for row in rows}


def first_speaker(conversation_id: str, url: str | None = None) -> str | None:
    """None if the tracker store has no events for this sender id; else the login its first
    user message was attributed to by the channel ("" when none was recorded)."""
    engine = _tracker_engine(url)
    if not _has_events(engine):
        return None
    with engine.connect() as connection:
        rows = connection.execute(
            select(events.c.type_name, events.c.data).where(events.c.sender_id == conversation_id)
            .order_by(events.c.id).limit(50)
        ).all()
    if not rows:
        return None
    for row in rows:
        if row.type_name == "user":
            login = (json.loads(row.data or "{}").get("metadata") or {}).get("login")
            return str(login) if login else ""
    return ""


def slot_values(conversation_id: str, names: tuple[str, ...], url: str | None = None) -> list[tuple[str, Any]]:
    """The values the slots ``names`` were set to in a conversation, in order: (slot, value)."""
    engine = _tracker_engine(url)
    if not _has_events(engine):
        return []
    with engine.connect() as connection:
        rows = connection.execute(
            select(events.c.data).where(events.c.sender_id == conversation_id, events.c.type_name == "slot")
            .order_by(events.c.id)
        ).all()
    found = []
    for row in rows:
        data = json.loads(row.data or "{}")
        if data.get("name") in names:
            found.append((data["name"], data.get("value")))
    return found
