"""Assignment and the unassigned pool (issue 21, point 3), through the core (bot/book/assignment.py)
on a real SQLite CRM with the demo data: agent01 has 张三(1) 李四(2) 赵敏(5) 刘洋(7); agent02 has
朱丽(3) 王华(4) 陈刚(6) 孙丽(8, do-not-call)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot import labels
from bot.book import assignment, change_text, changes
from bot.book.assignment import AssignmentError, ClientFilter
from bot.db import sessions
from bot.models import CHANGE_KINDS, Call, Change, Client, FollowUp, User
from tests.conftest import WORKDAY_MORNING
from tests.test_accounts import salesbot


def _user(session, login: str) -> User:
    return session.scalars(select(User).where(User.login == login)).one()


def _agent_of(session, client_id: int) -> str | None:
    client = session.get(Client, client_id)
    return client.agent.login if client.agent else None


def _pool_clients(session, count: int, **fields) -> list[int]:
    """``count`` new clients without an agent (the pool), ids ascending."""
    first = session.scalar(select(func.count()).select_from(Client))
    clients = [Client(name=f"新客户{n:03d}", phone=f"139{n:08d}", stage="unknown", **fields)
               for n in range(first, first + count)]
    session.add_all(clients)
    session.flush()
    return [c.id for c in clients]


def _add_agent(session, login: str, name: str, role: str = "agent", active: bool = True) -> User:
    user = User(login=login, name=name, role=role, password_hash="not-a-hash: never logs in", active=active)
    session.add(user)
    session.flush()
    return user


def _followup(session, client_id: int, agent: User, status: str = "open", hours: int = 2) -> FollowUp:
    followup = FollowUp(client_id=client_id, agent_id=agent.id, due_at=WORKDAY_MORNING + timedelta(hours=hours),
                        reason="客户在开会，约下午再打", status=status)
    session.add(followup)
    session.flush()
    return followup


def _changes(session, kind: str | None = None) -> list[Change]:
    stmt = select(Change).order_by(Change.id)
    return list(session.scalars(stmt.where(Change.kind == kind) if kind else stmt).unique())


# --- assigning by ids ------------------------------------------------------------------------------

def test_selected_clients_go_to_the_agent_with_the_time_and_one_change_each(session):
    boss = _user(session, "super01")
    done = assignment.assign(session, [2, 1], ["agent02"], boss)
    assert done.message() == "已分配 2 位客户：agent02 2 位。"
    for client_id in (1, 2):
        client = session.get(Client, client_id)
        assert (client.agent.login, client.assigned_at) == ("agent02", WORKDAY_MORNING)
    logged = _changes(session, "assign")
    assert [(c.entity, c.entity_id, c.detail, c.user_id, c.at) for c in logged] == [
        ("client", 1, {"agent": ["agent01", "agent02"]}, boss.id, WORKDAY_MORNING),
        ("client", 2, {"agent": ["agent01", "agent02"]}, boss.id, WORKDAY_MORNING),
    ]


def test_open_follow_ups_move_with_the_client_and_closed_ones_stay(session):
    agent01, agent02 = _user(session, "agent01"), _user(session, "agent02")
    still_to_call = _followup(session, 1, agent01)
    done_before = _followup(session, 1, agent01, status="done", hours=-20)
    other_client = _followup(session, 2, agent01)
    result = assignment.assign(session, [1], ["agent02"], _user(session, "super01"))
    assert result.followups_moved == 1
    assert session.get(FollowUp, still_to_call.id).agent_id == agent02.id
    assert session.get(FollowUp, done_before.id).agent_id == agent01.id
    assert session.get(FollowUp, other_client.id).agent_id == agent01.id


@pytest.mark.parametrize("clients, agents", [(10, 3), (7, 2), (2, 3), (120, 2)])
def test_several_agents_get_the_clients_evenly_dealt_by_client_id(session, clients, agents):
    logins = ["agent01", "agent02"] + [_add_agent(session, f"agent1{n}", f"坐席{n}").login for n in range(agents - 2)]
    ids = _pool_clients(session, clients)
    done = assignment.assign(session, ids, logins, _user(session, "super01"))
    held = Counter(_agent_of(session, i) for i in ids)
    assert max(held.values()) - min(held.get(login, 0) for login in logins) <= 1
    assert sum(held.values()) == clients == done.count
    # Round-robin in id order: the i-th client (by id) goes to the (i mod n)-th agent.
    assert [_agent_of(session, i) for i in ids] == [logins[n % agents] for n in range(clients)]
    assert [(a.login, n) for a, n in done.per_agent] == [(login, held.get(login, 0)) for login in logins]


def test_the_result_line_names_each_agents_share(session):
    ids = _pool_clients(session, 120)
    done = assignment.assign(session, ids, ["agent01", "agent02"], _user(session, "super01"))
    assert done.message() == "已分配 120 位客户：agent01 60 位，agent02 60 位。"


def test_do_not_call_clients_are_assigned_but_counted_and_stay_do_not_call(session):
    done = assignment.assign(session, [8, 3], ["agent01"], _user(session, "super01"))
    assert done.do_not_call == 1 and "其中 1 位在勿扰名单上" in done.message()
    client = session.get(Client, 8)
    assert client.do_not_call and client.agent.login == "agent01"


def test_a_client_already_with_the_agent_is_left_as_it_is(session):
    done = assignment.assign(session, [1, 3], ["agent01"], _user(session, "super01"))
    assert (done.moved, done.unchanged) == (1, 1)
    assert "其中 1 位原本就在该坐席名下" in done.message()
    assert [c.entity_id for c in _changes(session, "assign")] == [3]
    assert session.get(Client, 1).assigned_at is None  # not re-stamped: still the same agent's client


# --- refusals: nothing is written -------------------------------------------------------------------

@pytest.mark.parametrize("client_ids, agents, message", [
    ([1, 2, 999], ["agent02"], "没有这些客户：999"),  # one unknown id refuses all
    ([], ["agent02"], "没有选中任何客户"),
    (None, ["agent02"], "没有选中任何客户"),
    ("1,2", ["agent02"], "客户编号应为整数列表"),
    ([1, "二"], ["agent02"], "客户编号应为整数列表"),
    ([1, True], ["agent02"], "客户编号应为整数列表"),
    ([1, 2.5], ["agent02"], "客户编号应为整数列表"),
    ([1, 10 ** 30], ["agent02"], "客户编号应为整数列表"),  # longer than any database id
    ([1, {"id": 2}], ["agent02"], "客户编号应为整数列表"),
    (["1", "2", "-3"], ["agent02"], "客户编号应为整数列表"),
    ([1, 2], [], "请至少选择一位坐席"),
    ([1, 2], None, "请至少选择一位坐席"),
    ([1, 2], ["agent02", "ghost"], "没有坐席 ghost"),
    ([1, 2], ["trainee01"], "吴昊（trainee01）不是坐席账号"),
    ([1, 2], ["super01"], "郑主管（super01）不是坐席账号"),
    ([1, 2], ["agent02", "agent09"], "坐席9（agent09）的账号已停用"),
])
def test_a_bad_assignment_is_refused_in_chinese_and_writes_nothing(session, client_ids, agents, message):
    _add_agent(session, "agent09", "坐席9", active=False)
    with pytest.raises(AssignmentError, match=message):
        assignment.assign(session, client_ids, agents, _user(session, "super01"))
    assert [_agent_of(session, i) for i in (1, 2)] == ["agent01", "agent01"]
    assert _changes(session) == []


def test_a_failure_while_writing_leaves_nothing_half_assigned(crm_url, monkeypatch):
    with sessions(crm_url).begin() as session:
        _followup(session, 1, _user(session, "agent01"))

    def broken(_session, _rows):
        raise RuntimeError("disk full")

    monkeypatch.setattr(changes, "record_many", broken)  # after the clients and follow-ups were updated
    with pytest.raises(RuntimeError), sessions(crm_url).begin() as session:
        assignment.assign(session, [1, 2, 5], ["agent02"], _user(session, "super01"))
    with sessions(crm_url).begin() as session:
        assert [_agent_of(session, i) for i in (1, 2, 5)] == ["agent01"] * 3
        assert session.scalars(select(FollowUp.agent_id)).all() == [_user(session, "agent01").id]
        assert _changes(session) == []


# --- the filter -------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, ids", [
    ({}, [1, 2, 3, 4, 5, 6, 7, 8]),
    ({"stage": "general"}, [1, 7, 8]),
    ({"agent": "agent02"}, [3, 4, 6, 8]),
    ({"stage": "general", "agent": "agent01"}, [1, 7]),
    ({"segment": "civil_servant"}, [1]),  # 省国税部门处长
    ({"segment": "business_owner"}, [4, 7]),  # 私营企业主, 网吧老板
    ({"segment": "retiree"}, [8]),
    ({"tier": "missing"}, [5, 6, 7]),  # no assets, deposits, card spend or loans known
    ({"tier": "high", "agent": "agent01"}, [1, 2]),
    ({"never_called": "1"}, [2, 3, 4, 5, 6, 7, 8]),  # 张三 has a call (below)
    ({"unassigned": "true"}, []),
    ({"never_called": "0", "unassigned": "", "segment": "", "tier": None}, [1, 2, 3, 4, 5, 6, 7, 8]),
])
def test_the_filter_names_the_clients_by_segment_tier_stage_calls_and_agent(session, raw, ids):
    session.add(Call(conversation_id="c-1", agent_id=_user(session, "agent01").id, client_id=1,
                     started_at=WORKDAY_MORNING - timedelta(days=3), disposition="thinking"))
    session.flush()
    assert assignment.matching_client_ids(session, ClientFilter.parse(raw)) == ids


def test_the_pool_filter_and_a_filtered_assignment(session):
    pool = _pool_clients(session, 5)
    wanted = ClientFilter.parse({"unassigned": "1"})
    assert assignment.matching_client_ids(session, wanted) == pool
    with pytest.raises(AssignmentError, match=r"现在 5 位，查看时 4 位"):
        assignment.assign_matching(session, wanted, ["agent01"], _user(session, "super01"), expected=4)
    assert _changes(session) == []
    done = assignment.assign_matching(session, wanted, ["agent01", "agent02"], _user(session, "super01"), expected=5)
    assert done.message() == "已分配 5 位客户：agent01 3 位，agent02 2 位。"
    assert assignment.matching_client_ids(session, wanted) == []


@pytest.mark.parametrize("raw, message", [
    ({"segment": "astronaut"}, "没有这个客户类型：astronaut"),
    ({"tier": "gold"}, "没有这个客户等级：gold"),
    ({"stage": "won"}, "没有这个客户阶段：won"),
    ({"never_called": "maybe"}, "never_called 只能是 1 或 0"),
    (["stage", "general"], "筛选条件应为一个对象"),
])
def test_a_filter_that_names_nothing_is_refused_in_chinese(raw, message):
    with pytest.raises(AssignmentError, match=message):
        ClientFilter.parse(raw)


def test_a_filter_by_an_unknown_agent_is_refused(session):
    with pytest.raises(AssignmentError, match="没有坐席 ghost"):
        assignment.matching_client_ids(session, ClientFilter.parse({"agent": "ghost"}))


def test_the_filter_bar_offers_the_dashboards_segments_and_the_tiers(session):
    choices = assignment.filter_choices(session)
    segments = {s["code"]: s["label"] for s in choices["segments"]}
    assert segments["civil_servant"] == "公职人员" and segments["other"] == "其他客户"
    assert [t["code"] for t in choices["tiers"]] == ["private", "high", "middle", "mass", "missing"]
    assert [(a["login"], a["clients"]) for a in choices["agents"]] == [("agent01", 4), ("agent02", 4)]
    assert choices["pool"] == 0


# --- disabling an agent: the pool -------------------------------------------------------------------

def test_disabling_returns_every_client_of_the_agent_to_the_pool(session):
    agent01, boss = _user(session, "agent01"), _user(session, "super01")
    session.get(Client, 2).stage = "deal"  # deal and loyal clients return too (no call list for them otherwise)
    booked = _followup(session, 1, agent01)
    agent01.active = False
    assert assignment.return_to_pool(session, agent01, boss) == 4
    assert [(c.id, c.agent_id, c.assigned_at) for c in session.scalars(
        select(Client).where(Client.id.in_([1, 2, 5, 7])).order_by(Client.id)).unique()] == [
        (1, None, None), (2, None, None), (5, None, None), (7, None, None)]
    assert session.get(FollowUp, booked.id).status == "open"  # kept: listed in the pool
    returned = _changes(session, "unassign")
    assert [(c.entity_id, c.detail, c.user_id) for c in returned] == [
        (i, {"agent": ["agent01", None], "reason": "agent_disabled"}, boss.id) for i in (1, 2, 5, 7)]
    assert _agent_of(session, 3) == "agent02"  # another agent's clients stay


def test_the_pool_lists_each_client_with_why_it_is_there(session):
    agent01 = _user(session, "agent01")
    booked = _followup(session, 7, agent01, hours=3)
    imported = _pool_clients(session, 1)[0]
    changes.record(session, user=_user(session, "super01"), kind="import", entity="client", entity_id=imported,
                   detail={"name": [None, "新客户008"]}, at=WORKDAY_MORNING - timedelta(days=2))
    never = _pool_clients(session, 1, note="手工录入")[0]
    agent01.active = False
    assignment.return_to_pool(session, agent01, None)
    ids = assignment.pool_ids(session)
    assert ids[0] == 7  # an open follow-up first
    assert sorted(ids) == [1, 2, 5, 7, imported, never]
    entries = {e["id"]: e for e in assignment.pool_entries(session, None, ids)}
    assert entries[1]["reason"] == "原坐席李明（agent01）已停用，2026-11-23退回"
    assert entries[imported]["reason"] == "2026-11-21导入时未指定归属坐席"
    assert entries[never]["reason"] == "尚未分配坐席"
    assert [(f["label"], f["due_at"]) for f in entries[7]["followups"]] == [
        ("待回访（原坐席已停用）", (WORKDAY_MORNING + timedelta(hours=3)).isoformat())]
    assert entries[1]["followups"] == []
    # Assigning a pool client gives the new agent the follow-up the disabled one left.
    assignment.assign(session, [7], ["agent02"], None)
    assert session.get(FollowUp, booked.id).agent.login == "agent02"
    assert assignment.filter_choices(session)["pool"] == 5


@pytest.mark.slow  # the real command line in a child process
def test_the_cli_disable_returns_the_agents_clients_to_the_pool(crm_url):
    with sessions(crm_url).begin() as session:
        _followup(session, 1, _user(session, "agent01"))
    done = salesbot("user", "disable", "agent01")
    assert done.returncode == 0, done.stderr
    assert "4 位客户已退回未分配客户池" in done.stdout
    with sessions(crm_url).begin() as session:
        assert session.scalars(select(Client.id).where(Client.agent_id.is_(None)).order_by(Client.id)).all() == [
            1, 2, 5, 7]
        assert session.scalar(select(func.count()).select_from(Change).where(Change.kind == "unassign")) == 4
        assert session.scalars(select(FollowUp.status)).all() == ["open"]
    again = salesbot("user", "disable", "agent01")  # nothing left to return
    assert again.returncode == 0 and "退回" not in again.stdout


# --- the change log as people read it ---------------------------------------------------------------

def test_every_change_kind_has_one_label():
    assert list(labels.change_log("change_kinds")) == list(CHANGE_KINDS)


def test_changes_read_as_one_line_with_phone_numbers_masked(session):
    boss = _user(session, "super01")
    changes.record(session, user=boss, kind="import", entity="client", entity_id=1,
                   detail={"phone": ["13800000001", "13900000009"], "stage": ["general", "potential"]})
    assignment.assign(session, [2], ["agent02"], boss)
    agent01 = _user(session, "agent01")
    assignment.return_to_pool(session, agent01, None)
    session.flush()
    rows = change_text.entries(session, changes.listing(session))
    assert [r["text"] for r in rows][-2:] == [
        "分配 · 李四 · agent01 → agent02",
        "导入 · 张三 · 手机号 138****0001 → 139****0009，阶段 一般客户 → 潜在客户",
    ]
    assert rows[0]["text"] == "退回未分配 · 刘洋 · agent01 → 未分配，原坐席已停用"
    assert rows[0]["by_name"] == "系统" and rows[-1]["by_name"] == "郑主管"
    assert rows[-1]["detail"]["phone"] == ["138****0001", "139****0009"]
    assert "13800000001" not in repr(rows)
