"""The supervisor's review list shows every conversation about a client: logged call rows and
clients looked up (tracker store) without a logged outcome, one entry per client, under the one
access policy; the dashboard counts the unlogged ones per agent; the transcript shows every call row."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
import requests
from sqlalchemy import select

from bot.analytics import dashboard_data
from bot.auth import Identity
from bot.crm import record_lookups
from bot.db import engine_for, sessions
from bot.models import Call, Client, ConversationOwner, User
from bot.queries import query_conversations
from bot.transcripts import _metadata, client_lookups, events
from tests.test_accounts import browser_login, live_app, token_for, web  # noqa: F401 - fixtures

SUPERVISOR = Identity("super01", "supervisor", "郑主管")
AGENT01 = Identity("agent01", "agent", "李明")
AGENT02 = Identity("agent02", "agent", "周婷")


class Tracker:
    """Writes events the way Rasa's SQL tracker store does (JSON in ``data``)."""

    def __init__(self, url: str) -> None:
        self.engine = engine_for(url)
        _metadata.create_all(self.engine)
        self.clock = datetime(2026, 11, 23, 9, 0).timestamp()

    def _add(self, sender: str, type_name: str, data: dict) -> None:
        self.clock += 30
        with self.engine.begin() as connection:
            connection.execute(events.insert().values(
                sender_id=sender, type_name=type_name, timestamp=self.clock,
                intent_name=(data.get("parse_data") or {}).get("intent", {}).get("name"),
                data=json.dumps({**data, "event": type_name, "timestamp": self.clock})))

    def say(self, sender: str, login: str, text: str, intent: str = "lookup_client") -> None:
        self._add(sender, "user", {"text": text, "metadata": {"login": login},
                                   "parse_data": {"intent": {"name": intent, "confidence": 0.9}, "entities": []}})

    def look_up(self, sender: str, client_id: int | None) -> None:
        self._add(sender, "slot", {"name": "current_client_id",
                                   "value": None if client_id is None else str(client_id)})


@pytest.fixture()
def history(crm_url, monkeypatch):
    """conv-a (agent01): 张三 looked up, nothing logged; 李四 logged as interested.
    conv-b (agent02): 朱丽 looked up, nothing logged.
    conv-c (agent02): 王华 and 陈刚, both logged (two call rows in one conversation)."""
    import os

    tracker = Tracker(os.environ["SALESBOT_TRACKER_URL"])
    with sessions(crm_url).begin() as session:
        ids = {c.name: c.id for c in session.scalars(select(Client))}
        users = {u.login: u.id for u in session.scalars(select(User))}
        for conversation, login in (("conv-a", "agent01"), ("conv-b", "agent02"), ("conv-c", "agent02")):
            session.add(ConversationOwner(conversation_id=conversation, user_id=users[login]))
        session.add(Call(conversation_id="conv-a", client_id=ids["李四"], agent_id=users["agent01"],
                         disposition="interested", started_at=datetime(2026, 11, 23, 9, 5)))
        session.add(Call(conversation_id="conv-c", client_id=ids["王华"], agent_id=users["agent02"],
                         disposition="deal", started_at=datetime(2026, 11, 23, 9, 20)))
        session.add(Call(conversation_id="conv-c", client_id=ids["陈刚"], agent_id=users["agent02"],
                         disposition="thinking", started_at=datetime(2026, 11, 23, 9, 30)))
    tracker.say("conv-a", "agent01", "查一下张三")
    tracker.look_up("conv-a", ids["张三"])
    tracker.look_up("conv-a", None)  # a new client resets the slot first: not a client
    tracker.say("conv-a", "agent01", "查一下李四")
    tracker.look_up("conv-a", ids["李四"])
    tracker.say("conv-b", "agent02", "查一下朱丽")
    tracker.look_up("conv-b", ids["朱丽"])
    tracker.look_up("conv-b", ids["朱丽"])  # looked up twice: still one entry
    tracker.say("conv-c", "agent02", "查一下王华")
    tracker.look_up("conv-c", ids["王华"])
    tracker.look_up("conv-c", ids["陈刚"])
    # History from before lookups were kept in the CRM: copied as the upgrade (migration 0016) does.
    with sessions(crm_url).begin() as session:
        record_lookups(session, client_lookups())
    return ids


def _entries(session, identity, **args):
    return sorted((e["conversation_id"], e["client"], e["outcome"], e["logged"])
                  for e in query_conversations(session, identity, args))


def test_lookups_come_from_the_slot_events(history):
    pairs = sorted((lk.conversation_id, lk.client_id, lk.login) for lk in client_lookups())
    assert pairs == sorted([("conv-a", history["张三"], "agent01"), ("conv-a", history["李四"], "agent01"),
                            ("conv-b", history["朱丽"], "agent02"), ("conv-c", history["王华"], "agent02"),
                            ("conv-c", history["陈刚"], "agent02")])


def test_the_supervisor_sees_every_conversation_about_a_client(history, session):
    assert _entries(session, SUPERVISOR) == [
        ("conv-a", "张三", None, False),  # looked up, no outcome logged
        ("conv-a", "李四", "interested", True),
        ("conv-b", "朱丽", None, False),
        ("conv-c", "王华", "deal", True),  # two clients in one conversation: two entries
        ("conv-c", "陈刚", "thinking", True),
    ]
    unlogged = [e for e in query_conversations(session, SUPERVISOR, {}) if not e["logged"]]
    assert {e["outcome_label"] for e in unlogged} == {"未记录结果"}
    assert {e["agent"] for e in unlogged} == {"agent01", "agent02"}


def test_agents_see_their_own_conversations_only(history, session):
    assert [e[:2] for e in _entries(session, AGENT01)] == [("conv-a", "张三"), ("conv-a", "李四")]
    assert [e[:2] for e in _entries(session, AGENT02)] == [("conv-b", "朱丽"), ("conv-c", "王华"),
                                                          ("conv-c", "陈刚")]


def test_filters_apply_to_unlogged_entries(history, session):
    assert _entries(session, SUPERVISOR, outcome="unlogged") == [("conv-a", "张三", None, False),
                                                                ("conv-b", "朱丽", None, False)]
    assert _entries(session, SUPERVISOR, outcome="deal") == [("conv-c", "王华", "deal", True)]
    assert _entries(session, SUPERVISOR, client="朱") == [("conv-b", "朱丽", None, False)]
    assert [e[:2] for e in _entries(session, SUPERVISOR, agent="agent01")] == [("conv-a", "张三"), ("conv-a", "李四")]
    with pytest.raises(ValueError):
        query_conversations(session, SUPERVISOR, {"outcome": "maybe"})


def test_the_dashboard_counts_unlogged_conversations_per_agent(history, session):
    assert dashboard_data(session, SUPERVISOR)["unlogged"] == {"李明": 1, "周婷": 1}
    assert dashboard_data(session, AGENT01)["unlogged"] == {"李明": 1}


def _bearer(web, login, password):  # noqa: F811 - pytest fixture name
    return {"Authorization": f"Bearer {token_for(web, login, password).json()['token']}"}


def test_the_api_lists_conversations_and_every_call_row(history, web):  # noqa: F811
    supervisor = _bearer(web, "super01", "demo-super")
    rows = requests.get(f"{web}/api/conversations", headers=supervisor, timeout=30).json()
    assert ("conv-a", "张三", "未记录结果") in {(r["conversation_id"], r["client"], r["outcome_label"]) for r in rows}
    conversation = requests.get(f"{web}/api/conversations/conv-c", headers=supervisor, timeout=30).json()
    assert [c["client"] for c in conversation["calls"]] == ["王华", "陈刚"]
    assert conversation["call"]["client"] == "王华"
    agent = _bearer(web, "agent01", "demo-agent")
    assert {r["conversation_id"] for r in requests.get(f"{web}/api/conversations", headers=agent,
                                                       timeout=30).json()} == {"conv-a"}
    trainee = _bearer(web, "trainee01", "demo-trainee")
    assert requests.get(f"{web}/api/conversations", headers=trainee, timeout=30).status_code == 403


def test_the_transcript_page_shows_every_client_of_the_conversation(history, web):  # noqa: F811
    browser, _reply = browser_login(web, "super01", "demo-super")
    page = browser.get(f"{web}/review/conversations/conv-c", timeout=30).text
    assert re.search(r"<h1>通话记录：王华、陈刚</h1>", page)
    assert page.count('class="call-summary"') == 2 and "成交" in page and "考虑中" in page
    page = browser.get(f"{web}/review/conversations/conv-a", timeout=30).text
    assert "<h1>通话记录：李四、张三</h1>" in page and "未记录结果" in page
    own, _reply = browser_login(web, "agent02", "demo-agent")
    assert own.get(f"{web}/review/conversations/conv-a", timeout=30).status_code == 403


async def test_a_lookup_in_the_chat_is_listed_until_its_outcome_is_logged(crm_url, session):
    """The lookup action keeps the lookup in the CRM: the review list shows the conversation at once
    (未记录结果), the same entry becomes the call row when the outcome is logged, and a look at
    another agent's client is no conversation about it."""
    from actions.lookup import ActionLookupClient
    from actions.outcome import ActionLogOutcome
    from bot.models import LookupRecord
    from bot.profile import Profile
    from tests.actions_helper import Conversation

    call = Conversation(sender_id="live-lookup", login="agent01")
    await call.run(ActionLookupClient(), "查一下张三", "lookup_client", client_name="张三")
    await call.run(ActionLookupClient(), "再查一下张三", "lookup_client", client_name="张三")  # still one
    peek = Conversation(sender_id="peek", login="agent02")
    await peek.run(ActionLookupClient(), "查一下张三", "lookup_client", client_name="张三")
    with sessions(crm_url).begin() as fresh:
        assert [(r.conversation_id, r.first_at.hour) for r in fresh.scalars(select(LookupRecord))] == [
            ("live-lookup", 10)]  # the clock of the tests: 10:00
        assert [e[:4] for e in _entries(fresh, AGENT01)] == [("live-lookup", "张三", None, False)]
        assert dashboard_data(fresh, SUPERVISOR)["unlogged"] == {"李明": 1}
        assert _entries(fresh, AGENT02) == []
    await call.run(ActionLogOutcome(), "记一下，客户有意向", "log_outcome", outcome="interested")
    with sessions(crm_url).begin() as fresh:
        assert [e[:4] for e in _entries(fresh, SUPERVISOR)] == [("live-lookup", "张三", "interested", True)]
        assert dashboard_data(fresh, SUPERVISOR)["unlogged"] == {}
        # The call keeps the segments it was logged in: the dashboard's conversion groups by them.
        client = fresh.scalars(select(Client).where(Client.name == "张三")).one()
        assert fresh.scalars(select(Call.segments)).one() == ",".join(Profile.from_row(client).segments) != ""
        by_segment = dashboard_data(fresh, SUPERVISOR)["conversion"]["by_segment"]
        assert {r["label"] for r in by_segment if r["calls"]} == set(Profile.from_row(client).segment_labels)


def test_the_upgrade_copies_the_lookups_of_earlier_conversations(tmp_path, monkeypatch):
    """Conversations from before lookups were kept in the CRM stay in the review list: migration 0016
    copies them from the tracker store's slot events once, attributed to the conversation's owner."""
    from bot import migrate
    from bot.demo_data import load_demo_data
    crm, tracker_url = f"sqlite:///{tmp_path / 'old.sqlite3'}", f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    monkeypatch.setenv("SALESBOT_TRACKER_URL", tracker_url)
    migrate.upgrade(crm, "0015")
    with sessions(crm).begin() as old:
        load_demo_data(old)
        ids = {c.name: c.id for c in old.scalars(select(Client))}
        old.add(ConversationOwner(conversation_id="before-a",
                                  user_id=old.scalars(select(User.id).where(User.login == "agent01")).one()))
    tracker = Tracker(tracker_url)
    tracker.say("before-a", "agent01", "查一下张三")
    tracker.look_up("before-a", ids["张三"])
    tracker.say("before-b", "agent02", "查一下朱丽")  # no owner row: whom its first message came from
    tracker.look_up("before-b", ids["朱丽"])
    migrate.upgrade(crm)
    with sessions(crm).begin() as session:
        assert _entries(session, SUPERVISOR) == [("before-a", "张三", None, False), ("before-b", "朱丽", None, False)]
        assert [e[:2] for e in _entries(session, AGENT02)] == [("before-b", "朱丽")]
        # Without an owner row it went to whom its first message came from, so its page opens for them.
        from bot import access

        assert session.get(ConversationOwner, "before-b").user.login == "agent02"
        assert access.may_read_conversation(session, AGENT02, "before-b")
        assert not access.may_read_conversation(session, AGENT01, "before-b")
        # Copied once: copying again finds every lookup kept already.
        assert record_lookups(session, client_lookups(tracker_url)) == 0


def test_every_page_is_the_slice_of_the_whole_list(history, session):
    """Pages are read from the newest end or, in the older half, from the oldest: either way a page is
    exactly that slice of the whole list, with the whole list's size."""
    from bot.queries import conversations_page

    for identity, args in ((SUPERVISOR, {}), (AGENT02, {}), (SUPERVISOR, {"outcome": "unlogged"})):
        whole, size = conversations_page(session, identity, args, None)
        for offset in range(size + 2):
            for limit in (1, 2, 3, 50):
                page, total = conversations_page(session, identity, args, (offset, limit))
                assert (page, total) == (whole[offset:offset + limit], size), (identity.login, args, offset, limit)
