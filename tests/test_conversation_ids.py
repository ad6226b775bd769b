"""Conversation ids: the channels accept only ids every route can open, and every route opens
every conversation of the review list, old ones with spaces or slashes in their id included."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from urllib.parse import quote

import pytest
import requests

from bot.inputs import check_message
from tests.conftest import ROOT, api_token
from tests.test_socketio import _connect, _session

# An id an agent could choose to keep a call out of review before the channel checked ids.
AWKWARD = "审计 call/x"


@pytest.mark.parametrize("sender", [
    # Fixed values, not fresh uuids: pytest-xdist workers must collect the same test ids.
    "3f2a9c0e5b7d4e1f8a6c2b9d0e4f7a13",  # the widget and the rehearsal page (socket.io session ids)
    "e2e-call-1", "sio-8d1e6b2f0c9a4f3e9b7a5c1d2e3f4a5b", "demo-13800000001-01", "acc-agent01",
    "rasa:shell.1_X",
    "x" * 128,
])
def test_the_channel_takes_the_ids_our_clients_use(sender):
    assert check_message(sender, "你好") is None


@pytest.mark.parametrize("sender", [
    AWKWARD,        # space, slash and Chinese: opened as three different URLs
    "call/1",       # a slash splits the review URL
    "call 1",       # a space
    "call%201",     # decoded by the routes: two ids, one URL
    "会话一",
    "x" * 129,      # too long
    "call\u200b1",  # zero-width space: invisible in the list
])
def test_the_channel_refuses_ids_routes_cannot_open(sender):
    problem = check_message(sender, "你好")
    assert problem is not None and "会话编号" in problem


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.e2e
def test_rest_refuses_an_awkward_id_before_the_bot_sees_it(servers):
    reply = requests.post(f"{servers['rasa']}/webhooks/rest/webhook", timeout=60,
                          headers=_bearer(api_token(servers, "agent01")),
                          json={"sender": AWKWARD, "message": "查一下张三"})
    assert reply.status_code == 400
    assert "会话编号" in reply.json()["error"]
    with sqlite3.connect(servers["tracker"]) as db:
        assert db.execute("select count(*) from events where sender_id = ?", (AWKWARD,)).fetchone()[0] == 0


@pytest.mark.e2e
async def test_socketio_refuses_an_awkward_session_id(servers):
    client = await _connect(servers, api_token(servers, "agent01"))
    try:
        status, data = await _session(client, "审计 sio/x")
        assert status == "error" and "会话编号" in data["error"]
        status, session_id = await _session(client, None)  # the widget's own ids still open
        assert status == "ok" and check_message(session_id, "你好") is None
    finally:
        await client.disconnect()


async def _store_old_conversation(servers, sender: str) -> None:
    """An agent's call under ``sender``, as the channel and Rasa's own tracker store kept it before
    ids were checked: its owner row in the CRM, its events in the tracker store."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.access import claim_conversation
    from bot.auth import Identity
    from bot.db import sessions

    with sessions(f"sqlite:///{servers['crm']}").begin() as session:
        assert claim_conversation(session, sender, Identity("agent01", "agent", "李明"))
    domain = Domain.load(str(ROOT / "domain.yml"))
    store = SQLTrackerStore(domain, host=f"sqlite:///{servers['tracker']}")
    events = [
        ActionExecuted("action_session_start"), ActionExecuted("action_listen"),
        UserUttered("查一下张三", intent={"name": "lookup_client", "confidence": 0.98},
                    metadata={"login": "agent01", "role": "agent", "name": "李明"}),
        ActionExecuted("action_lookup_client"), SlotSet("current_client_id", "1"),
        BotUttered("张三，一般客户。"), ActionExecuted("action_listen"),
    ]
    await store.save(DialogueStateTracker.from_events(sender, events, slots=domain.slots))
    # What the upgrade that moved lookups into the CRM (migration 0016) copies from such history.
    from bot.crm import record_lookups
    from bot.transcripts import client_lookups

    with sessions(f"sqlite:///{servers['crm']}").begin() as session:
        assert record_lookups(session, client_lookups(f"sqlite:///{servers['tracker']}", sender)) == 1


@pytest.mark.e2e
async def test_every_conversation_in_the_list_opens(servers):
    sender = f"{AWKWARD}-{uuid.uuid4().hex[:6]}"
    await _store_old_conversation(servers, sender)
    headers = _bearer(await asyncio.to_thread(api_token, servers, "super01"))
    web = servers["web"]

    listed = requests.get(f"{web}/api/conversations", headers=headers, timeout=30)
    assert listed.status_code == 200
    assert sender in [entry["conversation_id"] for entry in listed.json()]

    # How the review page links it (encodeURIComponent), and as typed into the address bar.
    for path in (quote(sender, safe=""), quote(sender, safe="/")):
        transcript = requests.get(f"{web}/api/conversations/{path}", headers=headers, timeout=30)
        assert transcript.status_code == 200, transcript.text
        assert transcript.json()["conversation_id"] == sender
        assert [t["text"] for t in transcript.json()["turns"] if t["speaker"] == "user"] == ["查一下张三"]
        page = requests.get(f"{web}/review/conversations/{path}", headers=headers, timeout=30)
        assert page.status_code == 200 and "查一下张三" in page.text

        added = requests.post(f"{web}/api/conversations/{path}/comments", headers=headers, timeout=30,
                              json={"body": "开场太快了，先确认客户方便。"})
        assert added.status_code == 201, added.text
        assert added.json()["conversation_id"] == sender
        comments = requests.get(f"{web}/api/conversations/{path}/comments", headers=headers, timeout=30)
        assert comments.status_code == 200
        assert "开场太快了，先确认客户方便。" in [c["body"] for c in comments.json()]
