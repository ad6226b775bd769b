"""Demo history (bot/demo_history.py): three months of calls and follow-ups for the demo clients,
deterministic, consistent with their stages and do-not-call, loaded once by `salesbot prepare`;
the dashboard's conversion tables show it."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select

from bot.analytics import dashboard_data
from bot.auth import Identity
from bot.demo_data import read_demo_data
from bot.demo_history import PREFIX, generate, load_demo_history
from bot.models import Call, Client, FollowUp
from bot.outcomes import next_stage
from tests.conftest import WORKDAY_MORNING
from tests.test_accounts import live_app, token_for, web  # noqa: F401 - fixtures

CLIENTS = read_demo_data()["clients"]
BY_PHONE = {str(c["phone"]): c for c in CLIENTS}
SUPERVISOR = Identity("super01", "supervisor", "郑主管")


def _rows(now: datetime) -> tuple[list, list]:
    history = generate(CLIENTS, now)
    return [vars(c) for c in history.calls], [vars(f) for f in history.followups]


def _by_client(calls) -> dict[str, list]:
    grouped = defaultdict(list)
    for call in sorted(calls, key=lambda c: c.started_at):
        grouped[call.phone].append(call)
    return grouped


def test_the_same_now_gives_the_same_rows():
    assert _rows(WORKDAY_MORNING) == _rows(WORKDAY_MORNING)
    later_calls, _ = _rows(WORKDAY_MORNING + timedelta(days=30))
    # Relative to now: a month later, the same story a month later, under the same conversation ids.
    assert [c["conversation_id"] for c in later_calls] == [c["conversation_id"] for c in _rows(WORKDAY_MORNING)[0]]
    assert later_calls != _rows(WORKDAY_MORNING)[0]


def test_three_months_of_weekday_office_hours_before_now():
    history = generate(CLIENTS, WORKDAY_MORNING)
    assert len(history.calls) >= 20
    for call in history.calls:
        assert call.conversation_id.startswith(PREFIX)
        assert WORKDAY_MORNING - timedelta(days=92) <= call.started_at < WORKDAY_MORNING - timedelta(days=1)
        assert call.started_at.weekday() < 5 and 9 <= call.started_at.hour < 18
        assert call.ended_at > call.started_at
        # Each client's own agent.
        assert call.agent == BY_PHONE[call.phone]["agent"]
    assert {c.agent for c in history.calls} == {"agent01", "agent02"}
    assert len({c.opening_style for c in history.calls if c.opening_style}) >= 5
    assert all(c.objections for c in history.calls if c.disposition in ("refused", "do_not_call"))


def test_the_stories_end_in_the_clients_current_stages():
    for phone, calls in _by_client(generate(CLIENTS, WORKDAY_MORNING).calls).items():
        stage, deals = "unknown", 0
        for call in calls:
            stage = next_stage(stage, call.disposition, deals)
            deals += call.disposition == "deal"
        assert stage == BY_PHONE[phone]["stage"], BY_PHONE[phone]["name"]
        # Deals sell what the client holds today.
        sold = {p for c in calls if c.disposition == "deal" for p in c.products}
        assert sold <= set(BY_PHONE[phone].get("holdings") or []), BY_PHONE[phone]["name"]


def test_do_not_call_is_respected():
    history = generate(CLIENTS, WORKDAY_MORNING)
    for phone, calls in _by_client(history.calls).items():
        requested = [c.started_at for c in calls if c.disposition == "do_not_call"]
        if requested:
            assert calls[-1].disposition == "do_not_call", "no call after the client asked"
        assert bool(requested) is bool(BY_PHONE[phone].get("do_not_call")), BY_PHONE[phone]["name"]
    sun = [f for f in history.followups if BY_PHONE[f.phone]["name"] == "孙丽"]
    assert sun and not [f for f in sun if f.status == "open"]
    assert "cancelled" in {f.status for f in sun}


def test_follow_ups_done_cancelled_open_and_a_few_overdue():
    history = generate(CLIENTS, WORKDAY_MORNING)
    statuses = {f.status for f in history.followups}
    assert statuses == {"done", "cancelled", "open"}
    open_ones = [f for f in history.followups if f.status == "open"]
    overdue = [f for f in open_ones if f.due_at < WORKDAY_MORNING]
    assert 1 <= len(overdue) < len(open_ones)
    calls = {c.conversation_id: c for c in history.calls}
    for followup in history.followups:
        assert followup.due_at > calls[followup.conversation_id].ended_at  # booked before it was due
        assert (followup.closed_at is None) is (followup.status == "open")


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model).where(model.conversation_id.startswith(PREFIX)))


def test_loading_twice_adds_nothing(session):
    added = load_demo_history(session, WORKDAY_MORNING)
    history = generate(CLIENTS, WORKDAY_MORNING)
    assert added == {"calls": len(history.calls), "followups": len(history.followups)}
    assert load_demo_history(session, WORKDAY_MORNING) == {"calls": 0, "followups": 0}
    # Another day: the conversation ids do not depend on the day, so nothing is added either.
    assert load_demo_history(session, WORKDAY_MORNING + timedelta(days=7)) == {"calls": 0, "followups": 0}
    assert _count(session, Call) == len(history.calls) and _count(session, FollowUp) == len(history.followups)
    # The clients keep their demo stages and do-not-call flags (the history is consistent with them).
    for client in session.scalars(select(Client)):
        assert client.stage == BY_PHONE[client.phone]["stage"]


def test_prepare_loads_the_history_once(crm_url):
    from bot.db import sessions
    from bot.provision import prepare

    prepare(verbose=False, demo=True)
    with sessions(crm_url).begin() as session:
        first = _count(session, Call), _count(session, FollowUp)
    prepare(verbose=False, demo=True)
    with sessions(crm_url).begin() as session:
        assert (_count(session, Call), _count(session, FollowUp)) == first
    assert first[0] > 0 and first[1] > 0


def test_prepare_without_demo_loads_no_history(crm_url):
    from bot.db import sessions
    from bot.provision import prepare

    prepare(verbose=False, demo=False)
    with sessions(crm_url).begin() as session:
        assert _count(session, Call) == 0


def test_the_dashboard_has_conversion_tables(session):
    load_demo_history(session, WORKDAY_MORNING)
    conversion = dashboard_data(session, SUPERVISOR)["conversion"]
    by_opening, by_segment = conversion["by_opening"], conversion["by_segment"]
    assert len(by_opening) >= 5 and len(by_segment) >= 2
    deals = [c for c in generate(CLIENTS, WORKDAY_MORNING).calls if c.disposition == "deal"]
    assert sum(r["deals"] for r in by_opening) == len(deals) == 3  # 王华 twice, 陈刚 once; each had an opening
    for row in by_opening + by_segment:
        assert row["label"] and row["calls"] >= row["reached"] >= row["deals"]
        assert row["rate"] is None or 0 <= row["rate"] <= 1
    assert any(r["deals"] and r["rate"] > 0 for r in by_segment)
    # An agent's table counts their own calls only.
    own = dashboard_data(session, Identity("agent01", "agent", "李明"))["conversion"]
    assert sum(r["calls"] for r in own["by_segment"]) < sum(r["calls"] for r in by_segment)


@pytest.mark.parametrize("login, password", [("super01", "demo-super")])
def test_the_dashboard_api_returns_the_conversion_table(crm_url, web, login, password):  # noqa: F811
    from bot.db import sessions

    with sessions(crm_url).begin() as session:
        load_demo_history(session)
    token = token_for(web, login, password).json()["token"]
    data = requests.get(f"{web}/api/dashboard", headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
    assert [r for r in data["conversion"]["by_opening"] if r["calls"] > 0]
    assert [r for r in data["conversion"]["by_segment"] if r["calls"] > 0]
    assert sum(sum(row.values()) for row in data["dispositions"].values()) > 0


def test_demo_calls_use_only_opening_styles_that_fit_the_client(session):
    """The conversion-by-style table and the last-call notes must not show, say, 巧借东风 for a prospect."""
    from bot.profile import Profile, rank_openings

    load_demo_history(session, WORKDAY_MORNING)
    for client in session.scalars(select(Client)).unique():
        fits = {style for style, _why in rank_openings(Profile.from_row(client))}
        used = {c.opening_style for c in session.scalars(select(Call).where(Call.client_id == client.id))
                if c.opening_style}
        assert used <= fits, (client.name, used - fits)


def test_a_follow_up_moved_after_loading_is_not_loaded_again(session):
    from bot import crm

    load_demo_history(session, WORKDAY_MORNING)
    wang = session.scalars(select(Client).where(Client.name == "王华")).unique().one()
    booking = crm.add_followup(session, client_id=wang.id, agent_id=wang.agent_id,
                               due_at=WORKDAY_MORNING + timedelta(days=1, hours=5), reason="约回访（明天下午三点）",
                               conversation_id="live-call-1", now=WORKDAY_MORNING)
    assert booking.moved
    load_demo_history(session, WORKDAY_MORNING)  # salesbot prepare runs again (make run)
    assert len(crm.open_followups(session, wang.id)) == 1


def test_demo_calls_pitch_no_wealth_product_the_client_may_not_buy(session, frozen_clock):
    from bot import crm
    from bot.profile import ProductInfo, Profile, suitable

    load_demo_history(session, WORKDAY_MORNING)
    catalogue = {p.code: ProductInfo.from_row(p) for p in crm.catalogue(session)}
    for call in session.scalars(select(Call)).unique():
        profile = Profile.from_row(call.client)
        assert all(suitable(profile, catalogue[code]) for code in call.products), (call.client.name, call.products)
