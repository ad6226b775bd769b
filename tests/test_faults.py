"""Faults in the CRM database, met by the actions: nothing the agent logged is lost, nothing is
written twice, and no success is announced for a write that did not commit.

The database really goes away (its folder is moved, its connections closed) and comes back;
a commit really fails (a deferred foreign key the database checks at COMMIT).
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from actions.followups import ActionScheduleCallback
from actions.guidance import ActionSuggestOpening
from actions.lookup import ActionLookupClient
from actions.outcome import ActionLogOutcome
from bot import outbox
from bot.db import engine_for, sessions
from bot.models import Call, Client, FollowUp
from bot.outbox import RETRY_PAUSE_SECONDS
from tests.actions_helper import Conversation, texts
from tests.conftest import WORKDAY_MORNING


class Database:
    """The CRM in a folder of its own, so that it can be taken away and brought back."""

    def __init__(self, url: str, folder: Path):
        self.url, self.folder = url, folder

    def down(self) -> None:
        engine_for(self.url).dispose()  # open connections go, as when the server restarts
        self.folder.rename(self.folder.with_name(self.folder.name + ".away"))

    def up(self, settle: bool = True) -> None:
        self.folder.with_name(self.folder.name + ".away").rename(self.folder)
        if settle:
            time.sleep(RETRY_PAUSE_SECONDS)  # after a failed try, the action server waits this long

    def rows(self, stmt):
        with sessions(self.url).begin() as session:
            return session.scalars(stmt).unique().all()


@pytest.fixture()
def database(crm_url, tmp_path, monkeypatch) -> Database:
    folder = tmp_path / "crm-volume"
    folder.mkdir()
    shutil.copy(Path(crm_url.removeprefix("sqlite:///")), folder / "crm.sqlite3")
    url = f"sqlite:///{folder / 'crm.sqlite3'}"
    monkeypatch.setenv("SALESBOT_DB_URL", url)
    yield Database(url, folder)
    engine_for(url).dispose()


async def _looked_up(name: str) -> Conversation:
    conversation = Conversation(sender_id="call-fault-1")
    await conversation.run(ActionLookupClient(), f"查一下{name}", "lookup_client", client_name=name)
    return conversation


async def test_an_outcome_logged_while_the_database_is_down_is_written_once_when_it_is_back(
        database, frozen_clock):
    conversation = await _looked_up("张三")
    database.down()
    said = await conversation.run(ActionLogOutcome(), "记一下，客户有意向", "log_outcome", outcome="interested")
    assert "已暂存" in texts(said) and "记一下，客户有意向" in texts(said)
    assert "utter_outcome_logged" not in texts(said)  # nothing claims a write that did not happen
    assert outbox.counts() == {"pending": 1}

    # A read while the database is still down: a clear message, and the write stays pending.
    said = await conversation.run(ActionSuggestOpening(), "开场白怎么说", "request_opening")
    assert "CRM数据库暂时连不上" in texts(said)
    assert outbox.counts() == {"pending": 1}

    database.up()
    frozen_clock(WORKDAY_MORNING + timedelta(minutes=20))  # the database came back 20 minutes later
    said = await conversation.run(ActionSuggestOpening(), "开场白怎么说", "request_opening")
    assert "已补写进CRM" in texts(said)
    calls = database.rows(select(Call))
    assert [(c.disposition, c.client.name, c.conversation_id) for c in calls] == [
        ("interested", "张三", "call-fault-1")]
    assert calls[0].ended_at == WORKDAY_MORNING  # when the agent logged it, not when it was replayed
    assert database.rows(select(Client.stage).where(Client.name == "张三")) == ["potential"]
    assert outbox.counts() == {}  # written and told: deleted (tests/test_outbox_privacy.py)

    # Told once; replaying again writes nothing more.
    said = await conversation.run(ActionSuggestOpening(), "开场白", "request_opening")
    assert "补写" not in texts(said)
    assert len(database.rows(select(Call))) == 1
    assert not outbox.active()  # all written and told: later actions no longer open the outbox


async def test_a_callback_booked_while_the_database_is_down_is_booked_once(database, frozen_clock):
    conversation = await _looked_up("张三")
    database.down()
    for _ in range(2):  # the agent, unsure, books it twice
        said = await conversation.run(ActionScheduleCallback(), "约他明天下午三点再打", "schedule_callback",
                                      time="明天下午三点")
        assert "已暂存" in texts(said)
    database.up()
    said = await conversation.run(ActionSuggestOpening(), "开场白", "request_opening")
    assert texts(said).count("已补写进CRM") == 2
    due = database.rows(select(FollowUp.due_at).where(FollowUp.status == "open"))
    assert due == [(WORKDAY_MORNING + timedelta(days=1)).replace(hour=15)]


async def test_a_deferred_write_the_crm_refuses_is_reported_not_dropped(database, frozen_clock):
    conversation = await _looked_up("张三")
    database.down()
    # A deal without a product: when replayed, the CRM refuses it (nothing guessed).
    await conversation.run(ActionLogOutcome(), "成交了", "log_outcome", outcome="deal")
    database.up()
    said = await conversation.run(ActionSuggestOpening(), "开场白", "request_opening")
    assert "补写时没有成功" in texts(said) and "成交了" in texts(said)
    assert database.rows(select(Call)) == []
    assert outbox.counts() == {}  # refused and told: deleted


async def test_reads_while_the_database_is_down_say_so_and_keep_nothing(database, frozen_clock):
    database.down()
    said = await Conversation().run(ActionLookupClient(), "查一下张三", "lookup_client", client_name="张三")
    assert "CRM数据库暂时连不上" in texts(said)
    assert outbox.counts() == {}


async def test_no_success_is_announced_when_the_commit_fails(database, frozen_clock):
    conversation = await _looked_up("张三")
    # The database refuses this transaction at COMMIT (a deferred constraint), after the call
    # row was written in it: the agent must not read "已记录".
    with sqlite3.connect(database.folder / "crm.sqlite3") as db:
        db.executescript("""
            CREATE TABLE commit_guard (ref INTEGER REFERENCES nowhere(id) DEFERRABLE INITIALLY DEFERRED);
            CREATE TABLE nowhere (id INTEGER PRIMARY KEY);
            CREATE TRIGGER guard_calls AFTER INSERT ON calls BEGIN INSERT INTO commit_guard VALUES (1); END;
        """)
    said = await conversation.run(ActionLogOutcome(), "记一下，客户有意向", "log_outcome", outcome="interested")
    assert [m.get("response") for m in said] == ["utter_internal_error"]
    assert database.rows(select(Call)) == []
    assert outbox.counts() == {}


async def test_a_newer_outcome_queues_behind_an_older_one_still_waiting(database, frozen_clock):
    """The CRM is back, but the older outcome has not been replayed yet: the agent's newer outcome
    waits behind it, so the older one is never replayed over the newer one."""
    conversation = await _looked_up("张三")
    database.down()
    await conversation.run(ActionLogOutcome(), "记一下，客户有意向", "log_outcome", outcome="interested")
    await conversation.run(ActionSuggestOpening(), "开场白", "request_opening")  # a failed try: pause
    database.up(settle=False)
    said = await conversation.run(ActionLogOutcome(), "改一下，客户拒绝了", "log_outcome", outcome="refused")
    assert "已暂存" in texts(said)
    assert database.rows(select(Call)) == []  # not written ahead of the older one
    time.sleep(RETRY_PAUSE_SECONDS)
    said = await conversation.run(ActionSuggestOpening(), "开场白", "request_opening")
    assert texts(said).count("已补写进CRM") == 2
    assert [c.disposition for c in database.rows(select(Call))] == ["refused"]
