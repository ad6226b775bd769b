"""GET /api/call-list (issue 21): the agent's own 工作台, a supervisor's look at an agent's, nothing for
trainees; the JSON shape the widget draws; the widget page carries the panel and the labels. The real
web app in this process (tests/test_accounts.py), on the frozen clock and this test's CRM."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest
import requests
from sqlalchemy import select

from bot.db import sessions
from bot.models import Client, FollowUp, MarketingContact, User
from tests.conftest import DEMO_PASSWORDS, WORKDAY_MORNING
from tests.test_accounts import bearer, browser_login, live_app, token_for, web  # noqa: F401 - fixtures

ITEM_KEYS = {"client", "client_id", "kind", "kind_label", "reason", "due_at", "overdue", "opening_style",
             "opening_name", "phone", "callable", "not_before", "note"}


def _headers(web: str, login: str) -> dict:  # noqa: F811 - pytest fixture name
    return bearer(token_for(web, login, DEMO_PASSWORDS[login]).json()["token"])


def _get(web: str, login: str | None, **params) -> requests.Response:  # noqa: F811
    return requests.get(f"{web}/api/call-list", params=params, timeout=60,
                        headers=_headers(web, login) if login else {})


@pytest.fixture()
def callback_for_lisi(crm_url):
    """李四 (agent01) has a callback she agreed to at 11:00 today."""
    with sessions(crm_url).begin() as session:
        lisi = session.scalars(select(Client).where(Client.name == "李四")).one()
        session.add(FollowUp(client_id=lisi.id, agent_id=lisi.agent_id, due_at=WORKDAY_MORNING + timedelta(hours=1),
                             reason="约回访（明天上午十一点）", promise="agreed_time", product_code="PLATINUM_CARD"))


def test_the_agent_reads_their_own_list_in_order(web, callback_for_lisi):  # noqa: F811
    reply = _get(web, "agent01")
    assert reply.status_code == 200
    data = reply.json()
    assert set(data) == {"agent", "agent_name", "items", "left_out", "unfinished", "progress", "calling_hours",
                         "counts", "total"}
    assert [(i["client"], i["kind"]) for i in data["items"]] == [
        ("李四", "callback"), ("张三", "birthday"), ("赵敏", "new"), ("刘洋", "new")]
    first = data["items"][0]
    assert set(first) == ITEM_KEYS
    assert first == {**first, "kind_label": "回访", "reason": "客户约定的回访时间：白金信用卡",
                     "due_at": "2026-11-23T11:00", "overdue": False, "opening_style": "callback",
                     "opening_name": "约定回电", "phone": "13800000002", "callable": True}
    assert data["progress"] == {"called": 0, "reached": 0, "deals": 0}
    assert data["calling_hours"] == {"open": True, "hours": "09:00-21:00", "opens_at": None, "reason": None}
    assert data["counts"]["new"] == 2 and data["total"] == 4 and data["left_out"] == data["unfinished"] == []
    limited = _get(web, "agent01", limit="1").json()
    assert len(limited["items"]) == 1 and limited["total"] == 4


def test_agents_see_only_their_own_and_trainees_nothing(web):  # noqa: F811
    other = _get(web, "agent01", agent="agent02")
    assert other.status_code == 403 and other.json()["error"] == "坐席只能查看自己的工作台。"
    assert _get(web, "agent01", agent="agent01").status_code == 200
    trainee = _get(web, "trainee01")
    assert trainee.status_code == 403 and trainee.json()["error"] == "学员账号只能使用练习模式，不能查看真实客户资料。"
    assert _get(web, None).status_code == 401
    agent02 = _get(web, "agent02").json()
    assert {i["client"] for i in agent02["items"]} <= {"朱丽", "王华", "陈刚"}
    assert "张三" not in str(agent02)


def test_a_supervisor_picks_an_agent_and_sees_numbers_masked(web):  # noqa: F811
    assert _get(web, "super01").status_code == 400
    unknown = _get(web, "super01", agent="nobody")
    assert unknown.status_code == 404 and "nobody" in unknown.json()["error"]
    assert _get(web, "super01", agent="trainee01").status_code == 404  # not an agent: no list
    data = _get(web, "super01", agent="agent02").json()
    assert data["agent"] == "agent02"
    wang = next(i for i in data["items"] if i["client"] == "王华")
    assert wang["kind"] == "maturity" and wang["phone"] == "138****0004"
    assert wang["reason"] == "稳享理财12月5日到期（50万元），可提醒续作或转配置"  # the demo's maturity: 12 days on
    assert "13800000004" not in str(data)


def test_bad_parameters_get_a_chinese_reason(web):  # noqa: F811
    for limit in ("0", "abc", "100000", "１２", "-1"):
        reply = _get(web, "agent01", limit=limit)
        assert reply.status_code == 400 and "limit" in reply.json()["error"]
    odd = _get(web, "super01", agent="' or 1=1 --")
    assert odd.status_code == 404 and odd.json()["error"] == "没有这个坐席：' or 1=1 --"
    assert _get(web, "agent01", conversation="%E5\u200b<script>").status_code == 200


def test_the_conversation_in_progress_is_not_unfinished(web, crm_url):  # noqa: F811
    with sessions(crm_url).begin() as session:
        agent = session.scalars(select(User).where(User.login == "agent01")).one()
        zhao = session.scalars(select(Client).where(Client.name == "赵敏")).one()
        session.add(MarketingContact(conversation_id="widget-call", client_id=zhao.id, agent_id=agent.id,
                                     at=datetime(2026, 11, 23, 9, 45), opening_style="direct"))
    listed = _get(web, "agent01").json()
    assert [(u["client"], u["conversation_id"]) for u in listed["unfinished"]] == [("赵敏", "widget-call")]
    assert listed["unfinished"][0]["reason"] == "上次通话未记录结果：今天09:45讲过开场白或产品，请补记通话结果"
    assert "赵敏" not in [i["client"] for i in listed["items"]]
    during = _get(web, "agent01", conversation="widget-call").json()
    assert during["unfinished"] == [] and "赵敏" in [i["client"] for i in during["items"]]


def test_the_widget_page_has_the_call_list_panel_and_its_labels(web):  # noqa: F811
    browser, _reply = browser_login(web, "agent01", "demo-agent")
    page = browser.get(f"{web}/", timeout=30).text
    for element in ('id="followups"', 'id="followup-count"', 'id="refresh-followups"', 'id="call-progress"',
                    'id="left-out"', 'id="unfinished"', 'id="outcome-proposal"', 'id="outcome-bar"'):
        assert element in page, element
    served = json.loads(re.search(r'<script type="application/json" id="labels">(.*?)</script>', page, re.S).group(1))
    assert served["call_list_kinds"] == {"callback": "回访", "maturity": "到期", "birthday": "生日", "new": "新客户",
                                         "dormant": "久未联系"}
    assert served["call_list_panel"]["progress"] == "已拨 {called} · 接通 {reached} · 成交 {deals}"
