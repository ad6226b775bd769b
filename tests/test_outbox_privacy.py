"""The outbox keeps the minimum, forgets what it wrote, and re-checks the user's rights at replay.

While the CRM is down, a logged outcome waits in the action server's outbox file. That file must
not become a second, unmanaged copy of the conversation: no client card, no typed number, nothing
left once the write is done. And a write replayed later is made only if its user could still make
it then: not after a logout or password reset, not after a deactivation, not for a client who has
been handed to another agent.

The CRM really goes away (tests/test_faults.py `database`); the actions are the real ones.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time

import pytest
import requests
from sqlalchemy import select

from actions.guidance import ActionSuggestOpening
from actions.lookup import ActionLookupClient
from actions.outcome import ActionLogOutcome
from bot import outbox
from bot.auth import revoke_tokens
from bot.db import sessions
from bot.models import Call, Client, User
from bot.outbox import replay_deferred
from tests.actions_helper import Conversation, texts
from tests.conftest import api_token
from tests.test_faults import database  # noqa: F401 - the CRM that can go down, as a fixture

PHONE = "13800000001"  # 张三, agent01's client (demo data)


async def say(conversation: Conversation, action, text: str, intent: str, **entities: str) -> str:
    """Run an action like Rasa does, keeping what the bot said in the conversation's events (the
    tracker Rasa sends to the action server holds the bot's replies, client cards included)."""
    said = await conversation.run(action, text, intent, **entities)
    for message in said:
        conversation.events.append({"event": "bot", "text": message.get("text"), "timestamp": time.time(),
                                    "data": {"custom": message.get("custom"), "buttons": message.get("buttons")}})
    return texts(said)


def outbox_bytes() -> bytes:
    """Everything on disk for the outbox: its file and any journal beside it."""
    path = outbox.path()
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def outbox_rows() -> int:
    with sqlite3.connect(outbox.path()) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                           "AND name NOT LIKE 'sqlite_%'")]
        return sum(db.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0] for table in tables)


async def card_shown_then_outage(database) -> Conversation:  # noqa: F811
    """agent01 looks 张三 up by number (the card with the number is shown), the CRM goes down,
    the agent logs the outcome (kept in the outbox)."""
    conversation = Conversation(sender_id="call-private-1")
    said = await say(conversation, ActionLookupClient(), f"查一下{PHONE}", "lookup_client", phone=PHONE)
    assert "张三" in said
    assert PHONE in json.dumps(conversation.events, ensure_ascii=False)  # the card carried the number
    database.down()
    said = await say(conversation, ActionLogOutcome(), f"记一下，客户有意向，他说{PHONE}这个号白天能打通",
                     "log_outcome", outcome="interested")
    assert "已暂存" in said
    return conversation


def crm(database, fn) -> None:  # noqa: F811
    """A change in the CRM while the entry waits (an administrator, another session)."""
    with sessions(database.url).begin() as session:
        fn(session)


def user(session, login: str) -> User:
    return session.scalars(select(User).where(User.login == login)).one()


async def test_an_entry_keeps_no_phone_number_and_nothing_is_left_once_written(database, frozen_clock):  # noqa: F811
    conversation = await card_shown_then_outage(database)
    stored = outbox_bytes()
    assert PHONE.encode() not in stored  # neither the card, nor the lookup, nor the typed number
    assert "查一下".encode() not in stored  # earlier messages are not kept at all
    assert "客户有意向".encode() in stored  # the agent's own record is (masked), to be replayed

    database.up()
    said = await say(conversation, ActionSuggestOpening(), "开场白怎么说", "request_opening")
    assert "已补写进CRM" in said
    assert [(c.disposition, c.client.name) for c in database.rows(select(Call))] == [("interested", "张三")]
    # Written and told: the outbox holds nothing, not even in its free pages.
    assert outbox_rows() == 0
    assert "客户有意向".encode() not in outbox_bytes()
    assert not outbox.active()


async def test_a_replay_without_any_agent_message_leaves_no_conversation_data(database, frozen_clock):  # noqa: F811
    conversation = await card_shown_then_outage(database)
    database.up()
    assert replay_deferred() == 1  # the background replayer (bot/action_server.py)
    assert [c.disposition for c in database.rows(select(Call))] == ["interested"]
    assert outbox.counts() == {"untold": 1}  # nothing waits to be written; the agent is to hear of it
    assert PHONE.encode() not in outbox_bytes()
    # Only the notice for the agent is left, and it goes once told.
    said = await say(conversation, ActionSuggestOpening(), "开场白怎么说", "request_opening")
    assert "已补写进CRM" in said and PHONE not in said
    assert outbox_rows() == 0


def _log_out(session) -> None:
    revoke_tokens(user(session, "agent01"))  # logout or password reset (bot/web)


def _deactivate(session) -> None:
    user(session, "agent01").active = False


def _hand_over(session) -> None:
    client = session.scalars(select(Client).where(Client.name == "张三")).one()
    client.agent_id = user(session, "agent02").id


@pytest.mark.parametrize("change, told", [
    (_log_out, "退出登录"),  # agent01 logged out (or had the password reset) while it waited
    (_deactivate, None),  # the account was disabled: nobody to tell
    (_hand_over, "负责坐席"),  # 张三 now belongs to agent02
])
async def test_a_replay_is_refused_when_the_user_may_no_longer_write(database, frozen_clock, caplog, change,  # noqa: F811
                                                                     told):
    conversation = await card_shown_then_outage(database)
    database.up()
    crm(database, change)
    caplog.set_level(logging.INFO)
    replay_deferred()
    assert database.rows(select(Call)) == []  # nothing written in the user's name
    assert outbox.counts() == {"untold": 1}  # not kept to be tried again, only the notice
    assert PHONE.encode() not in outbox_bytes()
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refusals, caplog.text  # the log says why ...
    assert PHONE not in caplog.text  # ... without the number
    if told:
        conversation.token_version = 1 if change is _log_out else 0  # logged in again
        said = await say(conversation, ActionSuggestOpening(), "开场白怎么说", "request_opening")
        assert "没有成功" in said and told in said and PHONE not in said
        assert outbox_rows() == 0


async def test_an_entry_whose_message_carried_no_token_version_is_refused(database, frozen_clock):  # noqa: F811
    """Without the version the message was sent under, a logout since cannot be ruled out."""
    conversation = Conversation(sender_id="call-private-2", token_version=None)
    await say(conversation, ActionLookupClient(), "查一下张三", "lookup_client", client_name="张三")
    database.down()
    assert "已暂存" in await say(conversation, ActionLogOutcome(), "记一下，客户有意向", "log_outcome",
                                outcome="interested")
    database.up()
    replay_deferred()
    assert database.rows(select(Call)) == []
    assert outbox.counts() == {"untold": 1}


def test_the_channel_sends_the_tokens_version_with_each_message(servers):
    """What an entry is checked against at replay: the token version the message came with."""
    token = api_token(servers, "agent01")
    reply = requests.post(f"{servers['rasa']}/webhooks/rest/webhook", timeout=120,
                          headers={"Authorization": f"Bearer {token}"},
                          json={"sender": "outbox-version-1", "message": "你好"})
    assert reply.status_code == 200
    with sqlite3.connect(servers["tracker"]) as db:
        rows = db.execute("SELECT data FROM events WHERE sender_id = ? AND type_name = 'user'",
                          ("outbox-version-1",)).fetchall()
    with sqlite3.connect(servers["crm"]) as db:
        version = db.execute("SELECT token_version FROM users WHERE login = 'agent01'").fetchone()[0]
    assert [json.loads(r[0])["metadata"]["ver"] for r in rows] == [version]


async def test_an_outbox_file_from_before_is_upgraded_and_its_conversations_forgotten(database, frozen_clock):  # noqa: F811
    """A file written by the earlier outbox (whole trackers, settled rows kept forever): its old
    rows go, and its pending write is refused at replay (no token version to check it against)."""
    outbox.path().parent.mkdir(parents=True, exist_ok=True)
    tracker = {"sender_id": "call-old-1", "slots": {"current_client_id": "1", "phone": PHONE},
               "latest_message": {"text": "记一下，客户有意向",
                                  "entities": [{"entity": "outcome", "value": "interested"}]},
               "events": [{"event": "user", "text": f"查一下{PHONE}", "metadata": {"login": "agent01"}}]}
    with sqlite3.connect(outbox.path()) as db:
        db.executescript("""CREATE TABLE deferred_writes (id INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at TEXT NOT NULL, made_at TEXT NOT NULL, conversation_id TEXT NOT NULL, action TEXT NOT NULL,
            text TEXT NOT NULL, tracker TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0, result TEXT, announced INTEGER NOT NULL DEFAULT 0)""")
        for status in ("written", "pending"):
            db.execute("INSERT INTO deferred_writes (created_at, made_at, conversation_id, action, text, tracker, "
                       "status, announced) VALUES ('2026-11-23T09:00', '2026-11-23T09:00', 'call-old-1', "
                       "'action_log_outcome', '记一下，客户有意向', ?, ?, 1)",
                       (json.dumps(tracker, ensure_ascii=False), status))
    assert replay_deferred() == 1
    assert database.rows(select(Call)) == []
    assert outbox.counts() == {"untold": 1}
    assert PHONE.encode() not in outbox_bytes()
