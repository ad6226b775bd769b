"""Complaints (issue 19): the agent records a customer's complaint with one button, selling stops in
that call unless the agent continues on purpose, supervisors answer and resolve them. Real SQLite CRM;
the chat-to-supervisor flow through the running services is in test_e2e.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from actions.complaints import ActionHandleComplaint, ActionRecordComplaint, ActionResumeSelling
from actions.guidance import ActionHandleObjection, ActionNextAdvantage, ActionSuggestOpening
from actions.lookup import ActionLookupClient
from bot import complaints, labels
from bot.auth import Identity
from bot.compliance import findings
from bot.db import sessions
from bot.masking import for_reader
from bot.models import Client, Complaint, User
from bot.playbook import playbook
from tests.actions_helper import Conversation, texts
from tests.conftest import WORKDAY_MORNING

SAID = "客户说上个月乱扣我年费，到现在都没退"


def _complaints(url) -> list[Complaint]:
    with sessions(url).begin() as session:
        rows = session.scalars(select(Complaint).order_by(Complaint.id)).unique().all()
        session.expunge_all()
        return rows


async def _complained(name: str = "张三", said: str = SAID, login: str = "agent01") -> tuple[Conversation, list]:
    conversation = Conversation(login=login)
    await conversation.run(ActionLookupClient(), f"查一下{name}", "lookup_client", client_name=name)
    await conversation.run(ActionSuggestOpening(), "开场白怎么说", "request_opening")
    messages = await conversation.run(ActionHandleComplaint(), said, "customer_complaint")
    return conversation, messages


@pytest.mark.parametrize(("said", "category"), [
    ("客户说上个月乱扣我年费，到现在都没退", "fee"),
    ("他说你们上次推销的理财亏了两万，当初说没风险", "product"),
    ("她说：你们网点排队两个小时都没人管", "channel"),
    ("客户说你们客服态度太差了，爱答不理", "service"),
    ("客户说你们三番五次打电话，烦死了", "earlier_call"),
    ("客户说要去消协反映", "other"),
])
def test_the_customers_words_suggest_a_category_and_lose_the_relay_prefix(said, category):
    assert complaints.suggest_category(said) == category
    words = complaints.customer_words(said)
    assert not words.startswith(("客户", "他说", "她说")) and words in said


def test_a_complaint_is_recorded_once_and_answered_then_resolved(session):
    client = session.scalars(select(Client).where(Client.name == "张三")).one()
    agent = session.scalars(select(User).where(User.login == "agent01")).one()
    boss = session.scalars(select(User).where(User.login == "super01")).one()
    first = complaints.record(session, client=client, agent_id=agent.id, conversation_id="c1", category="fee",
                              text=SAID, now=WORKDAY_MORNING)
    again = complaints.record(session, client=client, agent_id=agent.id, conversation_id="c1", category="fee",
                              text=SAID, now=WORKDAY_MORNING + timedelta(minutes=1))
    assert first.new and not again.new and again.complaint.id == first.complaint.id
    assert first.complaint.text == "上个月乱扣我年费，到现在都没退" and first.complaint.status == "open"

    answered = complaints.answer(session, first.complaint.id, boss, "已联系信用卡中心核实",
                                 resolve=False, now=WORKDAY_MORNING + timedelta(minutes=45))
    assert answered.status == "open" and complaints.minutes_to_first_response(answered) == 45
    resolved = complaints.answer(session, first.complaint.id, boss, "年费已退回，已电话告知客户",
                                 resolve=True, now=WORKDAY_MORNING + timedelta(hours=3))
    assert resolved.status == "resolved" and resolved.resolved_by == boss.id
    assert complaints.minutes_to_first_response(resolved) == 45  # the first answer, not the resolution
    assert [n["text"] for n in resolved.notes] == ["已联系信用卡中心核实", "年费已退回，已电话告知客户"]
    with pytest.raises(complaints.ComplaintError, match="已经解决"):
        complaints.answer(session, first.complaint.id, boss, "再补一句", resolve=False, now=WORKDAY_MORNING)


@pytest.mark.parametrize(("category", "text", "message"), [
    ("fee", "客户说", "没有找到客户投诉的内容"),
    ("weather", SAID, "没有“weather”这个投诉类别"),
])
def test_bad_complaints_get_a_chinese_reason_and_write_nothing(session, category, text, message):
    client = session.scalars(select(Client).where(Client.name == "张三")).one()
    with pytest.raises(complaints.ComplaintError, match=message):
        complaints.record(session, client=client, agent_id=client.agent_id, conversation_id="c1",
                          category=category, text=text, now=WORKDAY_MORNING)
    assert session.scalars(select(Complaint)).first() is None


def test_an_empty_note_is_refused(session):
    client = session.scalars(select(Client).where(Client.name == "张三")).one()
    boss = session.scalars(select(User).where(User.login == "super01")).one()
    recorded = complaints.record(session, client=client, agent_id=client.agent_id, conversation_id="c1",
                                 category="fee", text=SAID, now=WORKDAY_MORNING)
    with pytest.raises(complaints.ComplaintError, match="处理说明"):
        complaints.answer(session, recorded.complaint.id, boss, "   ", resolve=True, now=WORKDAY_MORNING)
    assert recorded.complaint.first_response_at is None


def test_the_list_shows_open_complaints_first_longest_waiting_on_top(session):
    by_name = {c.name: c for c in session.scalars(select(Client)).unique()}
    boss = session.scalars(select(User).where(User.login == "super01")).one()
    made = {}
    for minutes, name in ((0, "张三"), (10, "李四"), (20, "孙丽")):
        made[name] = complaints.record(session, client=by_name[name], agent_id=by_name[name].agent_id,
                                       conversation_id=f"c-{name}", category="service", text=f"{name}说态度差",
                                       now=WORKDAY_MORNING + timedelta(minutes=minutes)).complaint
    complaints.answer(session, made["张三"].id, boss, "已道歉并处理", resolve=True, now=WORKDAY_MORNING)
    order = [c.client.name for c in complaints.listing(session)]
    assert order == ["李四", "孙丽", "张三"]
    assert [c.client.name for c in complaints.listing(session, status="resolved")] == ["张三"]
    shown = complaints.complaint_json(made["李四"], WORKDAY_MORNING + timedelta(minutes=70))
    assert shown["status_label"] == labels.complaint_statuses()["open"] and shown["minutes_waiting"] == 60
    assert set(shown) >= {"client", "category", "text", "status", "created_at"}  # the contract's fields


def test_a_number_in_the_customers_words_is_masked_for_the_supervisor(session):
    client = session.scalars(select(Client).where(Client.name == "张三")).one()
    recorded = complaints.record(session, client=client, agent_id=client.agent_id, conversation_id="c1",
                                 category="fee", text="客户说扣了13800000001这个号的年费", now=WORKDAY_MORNING)
    shown = for_reader(session, Identity("super01", "supervisor", "王主管"),
                       complaints.complaint_json(recorded.complaint, WORKDAY_MORNING))
    assert "13800000001" not in shown["text"] and "138****0001" in shown["text"]


async def test_complaint_stops_selling_and_one_button_records_it(crm_url):
    conversation, messages = await _complained()
    said = texts(messages)
    script = messages[0]["custom"]
    assert script["key"] == "customer_complaint" and "抱歉" in script["text"]
    assert "乱扣我年费" in script["text"]  # the customer's words restated
    assert playbook().messages["complaint_stop_selling"] in said
    assert not findings(script["text"]) and "稳享理财" not in script["text"]
    buttons = messages[0]["buttons"]
    assert buttons[0]["title"] == "记录投诉（费用扣款）"
    assert {b["payload"] for b in buttons} >= {'/record_complaint{"complaint_category": "other"}'}

    # No sales line now: an opening, a point or an objection answer get the reason and the way on.
    for action, text, intent in ((ActionSuggestOpening(), "开场白怎么说", "request_opening"),
                                 (ActionNextAdvantage(), "再讲一个卖点", "request_next_advantage"),
                                 (ActionHandleObjection(), "客户说利率太低", "objection_price")):
        held = await conversation.run(action, text, intent)
        assert held[0]["custom"]["key"] == "selling_held", intent
        assert [b["payload"] for b in held[0]["buttons"]][-1] == "/resume_selling"

    recorded = await conversation.run(ActionRecordComplaint(), '/record_complaint{"complaint_category": "fee"}',
                                      "record_complaint", complaint_category="fee")
    assert "已记录张三的投诉（费用扣款）" in texts(recorded)
    rows = _complaints(crm_url)
    assert [(r.category, r.text, r.status, r.conversation_id) for r in rows] == [
        ("fee", "上个月乱扣我年费，到现在都没退", "open", conversation.sender_id)]
    again = await conversation.run(ActionRecordComplaint(), '/record_complaint{"complaint_category": "fee"}',
                                   "record_complaint", complaint_category="fee")
    assert "已经记录过了" in texts(again) and len(_complaints(crm_url)) == 1

    # The agent continues on purpose: selling lines again.
    await conversation.run(ActionResumeSelling(), "客户同意，继续介绍", "resume_selling")
    point = await conversation.run(ActionNextAdvantage(), "再讲一个卖点", "request_next_advantage")
    assert point[0]["custom"]["key"] == "pitch"


async def test_the_do_not_call_request_still_works_after_a_complaint(crm_url):
    conversation, _ = await _complained()
    messages = await conversation.run(ActionHandleObjection(), "以后别再打来了", "objection_do_not_call")
    assert messages[0]["custom"]["key"] == "objection_do_not_call"


async def test_the_card_tells_the_next_caller_about_an_open_complaint(crm_url):
    conversation, _ = await _complained()
    await conversation.run(ActionRecordComplaint(), "记录投诉", "record_complaint")
    card = await Conversation(sender_id="call-test-2").run(ActionLookupClient(), "查一下张三", "lookup_client",
                                                          client_name="张三")
    assert "张三有1条未解决的投诉（最早：费用扣款" in card[0]["custom"]["warning"]


async def test_recording_needs_a_client_and_the_clients_own_agent(crm_url):
    nobody = Conversation()
    await nobody.run(ActionHandleComplaint(), SAID, "customer_complaint")
    messages = await nobody.run(ActionRecordComplaint(), "记录投诉", "record_complaint")
    assert "先查一下客户" in texts(messages)
    _, other = await _complained(login="agent02")  # 张三 belongs to agent01
    assert not other[0]["buttons"]
    assert _complaints(crm_url) == []
