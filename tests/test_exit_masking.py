"""One masking rule where stored content leaves (issue 17): transcripts (text, custom payloads,
entities), call notes, the CSV export, follow-up reasons and coaching comments show a phone number
in full only to the agent who owns that client; supervisors see 138****0001 everywhere until the
audited 显示号码, other agents never see it, and numbers typed into call notes are masked when stored."""

from __future__ import annotations

import csv
import io
import os
import re
from datetime import datetime

import pytest
import requests
from sqlalchemy import select

from bot.db import sessions
from bot.models import Call, Client, ConversationOwner, FollowUp, User
from bot.outcomes import log_call
from tests.test_accounts import bearer, browser_login, live_app, token_for, web  # noqa: F401 - fixtures
from tests.test_review import Tracker

# Any whole mainland mobile number, however it is written (the masked form 138****0001 never matches).
FULL_NUMBER = re.compile(r"1[3-9]\d[ -]?\d{4}[ -]?\d{4}")
STRANGER = "13912345678"  # belongs to no client


def _headers(web, login, password="demo-agent"):  # noqa: F811 - pytest fixture name
    return bearer(token_for(web, login, password).json()["token"])


SUPERVISOR = ("super01", "demo-super")


class RasaTracker(Tracker):
    """The events of a chat as Rasa's SQL tracker store keeps them, bot replies with their payloads."""

    def say(self, sender, login, text, intent="lookup_client", entities=()):
        self._add(sender, "user", {"text": text, "metadata": {"login": login}, "parse_data": {
            "intent": {"name": intent, "confidence": 0.9},
            "entities": [{"entity": k, "value": v, "start": 0, "end": 1} for k, v in entities]}})

    def reply(self, sender, text, custom=None):
        self._add(sender, "bot", {"text": text, "data": {"elements": None, "quick_replies": None, "buttons": None,
                                                        "attachment": None, "image": None, "custom": custom},
                                  "metadata": {}})


@pytest.fixture()
def call_with_numbers(crm_url):
    """conv-z (agent01): 张三 looked up (the card carries his number), the follow-up list (赵敏's
    number in a line and a reason), 朱丽 (agent02's client) asked for by number, a stranger's
    number typed, and a logged call whose note (an old row, stored raw) names two numbers."""
    tracker = RasaTracker(os.environ["SALESBOT_TRACKER_URL"])
    with sessions(crm_url).begin() as session:
        ids = {c.name: c.id for c in session.scalars(select(Client))}
        users = {u.login: u.id for u in session.scalars(select(User))}
        session.add(ConversationOwner(conversation_id="conv-z", user_id=users["agent01"]))
        session.add(Call(conversation_id="conv-z", client_id=ids["张三"], agent_id=users["agent01"],
                         disposition="callback", started_at=datetime(2026, 11, 23, 9, 5),
                         notes=f"客户说新号 {STRANGER}，朱丽的号 13800000003 也给了"))
        session.add(FollowUp(client_id=ids["赵敏"], agent_id=users["agent01"], due_at=datetime(2026, 11, 23, 11),
                             reason="客户让打 138 0000 0005 找她", conversation_id="conv-z"))
    tracker.say("conv-z", "agent01", "查一下张三")
    tracker.look_up("conv-z", ids["张三"])
    tracker.reply("conv-z", "张三 13800000001 一般客户", {"type": "client_card", "client": {
        "id": ids["张三"], "name": "张三", "phone": "13800000001", "note": "备用 +86 138-0000-0001"}})
    tracker.say("conv-z", "agent01", "今天要回访哪些客户", intent="list_followups")
    tracker.reply("conv-z", "今天 11:00 赵敏 13800000005：客户让打回来", {"type": "followups", "items": [
        {"client": "赵敏", "reason": "回拨 13800000005"}]})
    tracker.say("conv-z", "agent01", "查一下13800000003", entities=[("phone", "13800000003")])
    tracker.say("conv-z", "agent01", f"客户说新号是{STRANGER}", intent="log_outcome")
    return ids


def _numbers(text: str) -> set[str]:
    return {re.sub(r"\D", "", n) for n in FULL_NUMBER.findall(text)}


def test_a_supervisor_reads_the_transcript_with_every_number_masked(call_with_numbers, web):  # noqa: F811
    supervisor = _headers(web, *SUPERVISOR)
    reply = requests.get(f"{web}/api/conversations/conv-z", headers=supervisor, timeout=30)
    assert reply.status_code == 200
    assert _numbers(reply.text) == set()
    assert "138****0001" in reply.text and "138****0005" in reply.text
    browser, _ = browser_login(web, *SUPERVISOR)
    page = browser.get(f"{web}/review/conversations/conv-z", timeout=30)
    assert page.status_code == 200 and "张三" in page.text
    assert _numbers(page.text) == set()
    # Reading the transcript is not a reveal: nothing was shown, nothing is audited.
    assert requests.get(f"{web}/api/audit/phone-reveals", headers=supervisor, timeout=30).json() == []


def test_the_owner_sees_their_own_clients_numbers_only(call_with_numbers, web):  # noqa: F811
    reply = requests.get(f"{web}/api/conversations/conv-z", headers=_headers(web, "agent01"), timeout=30)
    assert reply.status_code == 200
    # 张三 and 赵敏 are agent01's; 朱丽 is agent02's; the stranger's number is nobody's client.
    assert _numbers(reply.text) == {"13800000001", "13800000005"}
    assert "138****0003" in reply.text and "139****5678" in reply.text


def test_csv_and_call_lists_mask_numbers_in_old_notes(call_with_numbers, web):  # noqa: F811
    for login, password in (SUPERVISOR, ("agent01", "demo-agent")):
        headers = _headers(web, login, password)
        export = requests.get(f"{web}/api/calls.csv", headers=headers, timeout=30)
        assert export.status_code == 200
        row = next(r for r in csv.DictReader(io.StringIO(export.content.decode("utf-8-sig")))
                   if r["conversation_id"] == "conv-z")
        assert row["notes"] == "客户说新号 139****5678，朱丽的号 138****0003 也给了"
        calls = requests.get(f"{web}/api/calls", headers=headers, params={"client": "张三"}, timeout=30).json()
        assert _numbers(str([c["notes"] for c in calls])) == set()


def test_a_number_typed_in_a_call_note_is_stored_masked(call_with_numbers, session, frozen_clock):
    agent = session.scalars(select(User).where(User.login == "agent01")).one()
    client = session.get(Client, call_with_numbers["李四"])
    logged = log_call(session, conversation_id="conv-note", agent_id=agent.id, client=client,
                      outcome="callback", started_at=datetime(2026, 11, 23, 9, 50), now=datetime(2026, 11, 23, 10),
                      objections=[], opening_style=None, products=[],
                      notes=f"记一下，客户说以后打 {STRANGER} 或 ＋８６ １３８ ００００ ０００２")
    assert logged.call.notes == "记一下，客户说以后打 139****5678 或 138****0002"


def test_follow_up_reasons_are_masked_for_the_supervisor(call_with_numbers, web):  # noqa: F811
    rows = requests.get(f"{web}/api/followups", headers=_headers(web, *SUPERVISOR), timeout=30).json()
    reason = next(r["reason"] for r in rows if r["client"] == "赵敏" and r["conversation_id"] == "conv-z")
    assert reason == "客户让打 138****0005 找她"
    rows = requests.get(f"{web}/api/followups", headers=_headers(web, "agent01"), timeout=30).json()
    assert "客户让打 138 0000 0005 找她" in [r["reason"] for r in rows]


def test_coaching_comments_show_numbers_by_the_readers_rights(call_with_numbers, web):  # noqa: F811
    supervisor = _headers(web, *SUPERVISOR)
    posted = requests.post(f"{web}/api/conversations/conv-z/comments", headers=supervisor, timeout=30,
                           json={"body": "回拨张三 13800000001，别打朱丽的 13800000003"})
    assert posted.status_code == 201, posted.text
    assert _numbers(posted.text) == set()
    seen = requests.get(f"{web}/api/conversations/conv-z/comments", headers=supervisor, timeout=30).json()
    assert [c["body"] for c in seen] == ["回拨张三 138****0001，别打朱丽的 138****0003"]
    own = requests.get(f"{web}/api/conversations/conv-z/comments", headers=_headers(web, "agent01"), timeout=30)
    assert [c["body"] for c in own.json()] == ["回拨张三 13800000001，别打朱丽的 138****0003"]
    mine = requests.get(f"{web}/api/comments/mine", headers=_headers(web, "agent01"), timeout=30).json()
    assert [c["body"] for c in mine] == ["回拨张三 13800000001，别打朱丽的 138****0003"]
