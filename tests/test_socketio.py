"""The widget's socket.io channel: token required, conversations bound to their user."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import socketio

from bot import labels
from tests.conftest import api_token, socketio_client

pytestmark = pytest.mark.e2e


async def _connect(servers, token: str | None) -> socketio.AsyncClient:
    client = socketio_client()
    # Long-polling, as the widget uses: python-engineio's websocket transport does not
    # work under Rasa's Sanic 21.12 (and its client needs a newer aiohttp than Rasa allows).
    await client.connect(servers["rasa"], socketio_path="/socket.io", transports=["polling"],
                         auth={"token": token} if token else None, wait_timeout=10)
    return client


async def _session(client: socketio.AsyncClient, session_id: str | None) -> tuple[str, object]:
    result: asyncio.Future = asyncio.get_running_loop().create_future()
    client.on("session_confirm", lambda sid: result.done() or result.set_result(("ok", sid)))
    client.on("session_error", lambda data: result.done() or result.set_result(("error", data)))
    await client.emit("session_request", {"session_id": session_id})
    return await asyncio.wait_for(result, 10)


@pytest.mark.parametrize("token", [None, "forged.token.value"])
async def test_connect_needs_a_valid_token(servers, token):
    with pytest.raises(socketio.exceptions.ConnectionError):
        await _connect(servers, token)


async def test_chat_over_socketio(servers):
    client = await _connect(servers, api_token(servers, "agent01"))
    replies: asyncio.Queue = asyncio.Queue()
    client.on("bot_uttered", replies.put_nowait)
    try:
        status, session_id = await _session(client, None)
        assert status == "ok" and session_id
        await client.emit("user_uttered", {"message": "查一下张三", "session_id": session_id})
        messages = [await asyncio.wait_for(replies.get(), 60)]
        while True:
            try:
                messages.append(await asyncio.wait_for(replies.get(), 2))
            except asyncio.TimeoutError:
                break
        assert any(m.get("custom", {}).get("type") == "client_card" for m in messages)
        assert any("张三" in (m.get("text") or "") for m in messages)
    finally:
        await client.disconnect()


async def _replies_to(client: socketio.AsyncClient, replies: asyncio.Queue, session_id: str, text: str) -> list:
    """Every bot_uttered event answering ``text``: the first within 60 s, then until 2 s of quiet."""
    await client.emit("user_uttered", {"message": text, "session_id": session_id})
    messages = [await asyncio.wait_for(replies.get(), 60)]
    while True:
        try:
            messages.append(await asyncio.wait_for(replies.get(), 2))
        except asyncio.TimeoutError:
            return messages


async def test_a_reply_with_a_card_is_one_event(servers):
    """Text, client card and buttons of one reply reach the widget as one event, nothing to stitch;
    a plain reply keeps Rasa's shape ({"text": ...})."""
    client = await _connect(servers, api_token(servers, "agent01"))
    replies: asyncio.Queue = asyncio.Queue()
    client.on("bot_uttered", replies.put_nowait)
    try:
        status, session_id = await _session(client, None)
        assert status == "ok"
        [reply] = await _replies_to(client, replies, session_id, "查一下张三")
        assert set(reply) == {"text", "quick_replies", "custom"}
        assert reply["custom"]["type"] == "client_card" and reply["custom"]["client"]["name"] == "张三"
        assert "张三" in reply["text"]
        assert [(b["title"], b["payload"]) for b in reply["quick_replies"]] == [
            (labels.button("opening"), "/request_opening"), (labels.button("first_point"), "/request_next_advantage")]

        # No such client: text only, as Rasa's own socket.io channel sends it.
        plain = await _replies_to(client, replies, session_id, "查一下欧阳不存在")
        assert plain and all(set(m) <= {"text", "quick_replies"} and m["text"] for m in plain), plain
    finally:
        await client.disconnect()


async def test_cannot_join_another_users_session(servers):
    session_id = f"sio-{uuid.uuid4().hex}"
    owner = await _connect(servers, api_token(servers, "agent01"))
    intruder = await _connect(servers, api_token(servers, "agent02"))
    try:
        assert (await _session(owner, session_id))[0] == "ok"
        status, data = await _session(intruder, session_id)
        assert status == "error" and "其他用户" in data["error"]
    finally:
        await owner.disconnect()
        await intruder.disconnect()
