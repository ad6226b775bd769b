"""Assignment, the pool and the change log through the web app (bot/web/api/book.py): supervisors
only, phones masked, Chinese refusals that write nothing, CSRF for a browser session's write, and the
two tabs of the supervisor's page. The web app runs in this process on the test's CRM."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from bot.book import assignment, changes
from bot.db import sessions
from bot.models import Change, Client, FollowUp, User
from tests.conftest import WORKDAY_MORNING
from tests.test_accounts import bearer, browser_login, live_app, query, token_for, web  # noqa: F401 - fixtures

PASSWORDS = {"agent01": "demo-agent", "agent02": "demo-agent", "trainee01": "demo-trainee", "super01": "demo-super"}
ROUTES = [("get", "/api/book/choices"), ("get", "/api/book/clients"), ("get", "/api/book/pool"),
          ("post", "/api/book/assign"), ("get", "/api/changes")]


class Tokens(dict):
    """API tokens by login, each asked for when a test first uses it (a login hashes a password)."""

    def __init__(self, web: str) -> None:  # noqa: F811 - the base URL, not the fixture
        super().__init__()
        self.web = web

    def __missing__(self, login: str) -> str:
        self[login] = token_for(self.web, login, PASSWORDS[login]).json()["token"]
        return self[login]


@pytest.fixture()
def tokens(web):  # noqa: F811 - pytest fixture
    return Tokens(web)


def _get(web, tokens, path, login="super01", **params):  # noqa: F811
    return requests.get(f"{web}{path}", params=params, headers=bearer(tokens[login]), timeout=30)


def _assign(web, tokens, body, login="super01"):  # noqa: F811
    return requests.post(f"{web}/api/book/assign", json=body, headers=bearer(tokens[login]), timeout=30)


def _agents(crm_url) -> list[tuple[int, str | None]]:
    return query(crm_url, "SELECT c.id, u.login FROM clients c LEFT JOIN users u ON u.id = c.agent_id ORDER BY c.id")


# --- access ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("login", ["agent01", "trainee01"])
def test_agents_and_trainees_are_refused_every_route(web, tokens, crm_url, login):  # noqa: F811
    for method, path in ROUTES:
        reply = requests.request(method, f"{web}{path}", headers=bearer(tokens[login]), timeout=30,
                                 json={"client_ids": [3], "agents": ["agent01"]} if method == "post" else None)
        assert reply.status_code == 403, path
        assert "只有主管" in reply.json()["error"]
    assert _agents(crm_url)[2] == (3, "agent02")  # nothing moved


def test_without_a_login_every_route_is_401(web):  # noqa: F811
    for method, path in ROUTES:
        assert requests.request(method, f"{web}{path}", timeout=30).status_code == 401


def test_a_browser_session_needs_its_csrf_token_to_assign(web, crm_url):  # noqa: F811
    browser, _reply = browser_login(web, "super01", "demo-super")
    body = {"client_ids": [3], "agents": ["agent01"]}
    refused = browser.post(f"{web}/api/book/assign", json=body, timeout=30)
    assert refused.status_code == 403 and "页面已过期" in refused.json()["error"]
    assert _agents(crm_url)[2] == (3, "agent02")
    page = browser.get(f"{web}/", timeout=30).text
    csrf = re.search(r'id="panel-assign"[^>]*data-csrf="([^"]+)"', page).group(1)
    done = browser.post(f"{web}/api/book/assign", json=body, headers={"X-CSRF-Token": csrf}, timeout=30)
    assert done.status_code == 200 and done.json()["message"] == "已分配 1 位客户：agent01 1 位。"
    assert _agents(crm_url)[2] == (3, "agent01")


# --- the clients a filter names --------------------------------------------------------------------

def test_the_filter_count_and_a_page_of_clients_with_masked_phones(web, tokens):  # noqa: F811
    reply = _get(web, tokens, "/api/book/clients", stage="general", limit=2)
    assert reply.status_code == 200 and reply.headers["X-Total-Count"] == "3"
    clients = reply.json()
    assert [(c["id"], c["name"], c["phone"]) for c in clients] == [
        (1, "张三", "138****0001"), (7, "刘洋", "138****0007")]
    assert clients[0]["tier_label"] == "高端客户" and "公职人员" in clients[0]["segments"]
    assert (clients[0]["agent"], clients[0]["stage_label"], clients[0]["last_call_at"]) == ("agent01", "一般客户", None)
    rest = _get(web, tokens, "/api/book/clients", stage="general", offset=2).json()
    assert [(c["name"], c["do_not_call"]) for c in rest] == [("孙丽", True)]
    assert "13800000001" not in reply.text
    mine = _get(web, tokens, "/api/book/clients", agent="agent01", never_called="1", segment="business_owner")
    assert [c["name"] for c in mine.json()] == ["刘洋"]


@pytest.mark.parametrize("params, message", [
    ({"segment": "astronaut"}, "没有这个客户类型"),
    ({"tier": "gold"}, "没有这个客户等级"),
    ({"stage": "won"}, "没有这个客户阶段"),
    ({"agent": "ghost"}, "没有坐席 ghost"),
    ({"unassigned": "maybe"}, "unassigned 只能是 1 或 0"),
    ({"limit": "0"}, "limit 应在 1 到"),
])
def test_a_bad_filter_is_a_400_in_chinese(web, tokens, params, message):  # noqa: F811
    reply = _get(web, tokens, "/api/book/clients", **params)
    assert reply.status_code == 400 and message in reply.json()["error"]


def test_the_choices_name_the_active_agents_and_the_pools_size(web, tokens):  # noqa: F811
    choices = _get(web, tokens, "/api/book/choices").json()
    assert [(a["login"], a["active"], a["clients"]) for a in choices["agents"]] == [
        ("agent01", True, 4), ("agent02", True, 4)]
    assert {"code": "retiree", "label": "退休人员"} in choices["segments"] and choices["pool"] == 0


# --- assigning --------------------------------------------------------------------------------------

def test_assigning_by_ids_and_evenly_by_filter(web, tokens, crm_url):  # noqa: F811
    done = _assign(web, tokens, {"client_ids": [1, 2], "agents": ["agent02"]})
    assert done.status_code == 200
    assert done.json() | {"per_agent": None} == {
        "assigned": 2, "moved": 2, "unchanged": 0, "do_not_call": 0, "followups_moved": 0, "per_agent": None,
        "message": "已分配 2 位客户：agent02 2 位。"}
    # The filter the supervisor looked at (agent02 now holds 6), dealt evenly to both agents.
    seen = int(_get(web, tokens, "/api/book/clients", agent="agent02").headers["X-Total-Count"])
    evenly = _assign(web, tokens, {"filter": {"agent": "agent02"}, "expected": seen, "agents": ["agent01", "agent02"]})
    assert evenly.status_code == 200, evenly.text
    assert evenly.json()["message"] == ("已分配 6 位客户：agent01 3 位，agent02 3 位"
                                        "；其中 3 位原本就在该坐席名下，未变动"
                                        "；其中 1 位在勿扰名单上，分配后仍不会外呼。")
    assert _agents(crm_url) == [(1, "agent01"), (2, "agent02"), (3, "agent01"), (4, "agent02"), (5, "agent01"),
                                (6, "agent01"), (7, "agent01"), (8, "agent02")]


@pytest.mark.parametrize("body, message", [
    ({"client_ids": [1, 2, 4040], "agents": ["agent02"]}, "没有这些客户：4040"),  # one unknown id refuses all
    ({"client_ids": [], "agents": ["agent02"]}, "没有选中任何客户"),
    ({"agents": ["agent02"]}, "没有选中任何客户"),
    ({"client_ids": [1, 2], "agents": ["ghost"]}, "没有坐席 ghost"),
    ({"client_ids": [1, 2], "agents": ["trainee01"]}, "不是坐席账号"),
    ({"client_ids": [1, 2], "agents": []}, "请至少选择一位坐席"),
    ({"client_ids": [1, 2], "filter": {}, "agents": ["agent02"]}, "只给出勾选的客户或筛选条件中的一种"),
    ({"filter": {"stage": "general"}, "expected": 2, "agents": ["agent02"]}, "现在 3 位，查看时 2 位"),
    ({"filter": {"stage": "won"}, "agents": ["agent02"]}, "没有这个客户阶段"),
    ({"filter": "general", "agents": ["agent02"]}, "筛选条件应为一个对象"),
])
def test_a_bad_assignment_is_a_400_in_chinese_that_writes_nothing(web, tokens, crm_url, body, message):  # noqa: F811
    before = _agents(crm_url)
    reply = _assign(web, tokens, body)
    assert reply.status_code == 400 and message in reply.json()["error"]
    assert _agents(crm_url) == before
    assert query(crm_url, "SELECT count(*) FROM changes") == [(0,)]


def test_not_json_is_a_400(web, tokens):  # noqa: F811
    reply = requests.post(f"{web}/api/book/assign", data="{not json", headers=bearer(tokens["super01"]), timeout=30)
    assert reply.status_code == 400 and "请至少选择一位坐席" in reply.json()["error"]


# --- the pool ---------------------------------------------------------------------------------------

def test_the_pool_after_an_agent_is_disabled(web, tokens, crm_url):  # noqa: F811
    with sessions(crm_url).begin() as session:
        agent01 = session.scalars(select(User).where(User.login == "agent01")).one()
        session.add(FollowUp(client_id=7, agent_id=agent01.id, due_at=WORKDAY_MORNING + timedelta(hours=5),
                             reason="客户说下午有空"))
        agent01.active = False
        assignment.return_to_pool(session, agent01, None)
    pool = _get(web, tokens, "/api/book/pool")
    assert pool.status_code == 200 and pool.headers["X-Total-Count"] == "4"
    first = pool.json()[0]
    assert (first["name"], first["phone"], first["reason"]) == ("刘洋", "138****0007",
                                                                 "原坐席李明（agent01）已停用，2026-11-23退回")
    assert [f["label"] for f in first["followups"]] == ["待回访（原坐席已停用）"]
    choices = _get(web, tokens, "/api/book/choices").json()
    assert choices["pool"] == 4 and [a["active"] for a in choices["agents"]] == [False, True]
    refused = _assign(web, tokens, {"filter": {"unassigned": True}, "agents": ["agent01"]})
    assert refused.status_code == 400 and "已停用" in refused.json()["error"]
    done = _assign(web, tokens, {"filter": {"unassigned": True}, "expected": 4, "agents": ["agent02"]})
    assert done.json()["followups_moved"] == 1
    assert _get(web, tokens, "/api/book/pool").json() == []


# --- the change log ---------------------------------------------------------------------------------

def test_the_change_log_newest_first_filtered_with_phones_masked(web, tokens, crm_url):  # noqa: F811
    with sessions(crm_url).begin() as session:
        boss = session.scalars(select(User).where(User.login == "super01")).one()
        changes.record(session, user=boss, kind="import", entity="client", entity_id=1,
                       at=WORKDAY_MORNING - timedelta(hours=1),
                       detail={"phone": ["13800000001", "13800000011"], "note": ["", "新号码 13800000011"]})
    assert _assign(web, tokens, {"client_ids": [2], "agents": ["agent02"]}).status_code == 200
    log = _get(web, tokens, "/api/changes")
    assert log.status_code == 200 and log.headers["X-Total-Count"] == "2"
    assert [(c["kind"], c["text"], c["by_name"]) for c in log.json()] == [
        ("assign", "分配 · 李四 · agent01 → agent02", "郑主管"),
        ("import", "导入 · 张三 · 手机号 138****0001 → 138****0011，备注 空 → 新号码 138****0011", "郑主管"),
    ]
    assert "13800000001" not in log.text and "13800000011" not in log.text
    only = _get(web, tokens, "/api/changes", kind="import")
    assert [c["kind"] for c in only.json()] == ["import"] and only.headers["X-Total-Count"] == "1"
    one = _get(web, tokens, "/api/changes", entity="client", entity_id="2").json()
    assert [(c["entity_name"], c["detail"]) for c in one] == [("李四", {"agent": ["agent01", "agent02"]})]
    assert [c["kind"] for c in _get(web, tokens, "/api/changes", limit=1, offset=1).json()] == ["import"]
    beyond = _get(web, tokens, "/api/changes", offset="9" * 40)
    assert beyond.status_code == 200 and beyond.json() == [] and beyond.headers["X-Total-Count"] == "2"
    with sessions(crm_url).begin() as session:
        assert session.scalars(select(Change.user_id)).all() == [boss.id, boss.id]
        assert session.get(Client, 2).assigned_at == WORKDAY_MORNING


@pytest.mark.parametrize("params, message", [
    ({"kind": "delete"}, "没有这种变更类型：delete"),
    ({"entity": "planet"}, "没有这种对象：planet"),
    ({"entity_id": "x"}, "entity_id 应为整数"),
    ({"entity_id": "9" * 40}, "entity_id 应为整数"),
    ({"offset": "-1"}, "offset 不能小于 0"),
])
def test_a_bad_change_log_query_is_a_400_in_chinese(web, tokens, params, message):  # noqa: F811
    reply = _get(web, tokens, "/api/changes", **params)
    assert reply.status_code == 400 and message in reply.json()["error"]


# --- the page ---------------------------------------------------------------------------------------

def test_the_supervisors_page_has_the_assign_and_change_log_tabs(web):  # noqa: F811
    browser, _reply = browser_login(web, "super01", "demo-super")
    page = browser.get(f"{web}/", timeout=30).text
    assert 'data-tab="assign"' in page and 'data-tab="changes"' in page
    assert "分配给所选坐席" in page and 'id="pool-count"' in page
    assert "/static/review-assign.js" in page and "/static/review-changes.js" in page
    served = json.loads(re.search(r'<script type="application/json" id="labels">(.*?)</script>', page, re.S).group(1))
    assert served["change_kinds"]["assign"] == "分配"  # the tab's kind filter reads them (labels.yml)
    for script in ("review-assign.js", "review-changes.js"):
        assert browser.get(f"{web}/static/{script}", timeout=30).status_code == 200
