"""The demo's team history (bot/demo_team.py): consistent calls whose evidence visibly changes what the bot
recommends for one segment, without touching what the agents' day looks like."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from actions.guidance import ActionSuggestOpening
from actions.lookup import ActionLookupClient
from bot.book.call_list import call_list
from bot.demo_history import load_demo_history
from bot.demo_team import PREFIX, load_demo_team
from bot.learning import store as learning
from bot.learning.report import effect
from bot.models import Call, Client, Product, User
from bot.outcomes import REACHED, next_stage
from bot.profile import ProductInfo, Profile, rank_openings
from tests.actions_helper import Conversation
from tests.conftest import WORKDAY_MORNING

NOW = WORKDAY_MORNING


@pytest.fixture(autouse=True)
def _fresh_evidence():
    learning.forget()
    yield
    learning.forget()


def test_loading_twice_adds_nothing(session):
    first = load_demo_team(session, NOW)
    assert first["team_clients"] >= 100 and first["team_calls"] >= first["team_clients"]
    assert load_demo_team(session, NOW + timedelta(days=3)) == {"team_clients": 0, "team_calls": 0}


def test_every_team_call_is_one_the_rules_allow_and_stages_follow_the_outcomes(session):
    load_demo_team(session, NOW)
    products = {p.code: ProductInfo.from_row(p) for p in session.scalars(select(Product))}
    calls = session.scalars(select(Call).where(Call.conversation_id.startswith(PREFIX))
                            .order_by(Call.client_id, Call.started_at)).all()
    by_client: dict[int, list[Call]] = {}
    for call in calls:
        by_client.setdefault(call.client_id, []).append(call)
        assert NOW - timedelta(days=90) < call.started_at < NOW  # nobody turns up as dormant
        if call.disposition not in REACHED:
            assert call.opening_style is None and call.segment is None
            continue
        profile = Profile.from_row(call.client)
        allowed = [style for style, _why in rank_openings(profile, products[call.products[0]])]
        assert call.opening_style in allowed, (call.client.occupation, call.products, call.opening_style)
        assert call.segment == profile.main_segment
    for client_calls in by_client.values():
        stage, deals = "unknown", 0
        for call in client_calls:
            stage = next_stage(stage, call.disposition, deals)
            deals += call.disposition == "deal"
        assert client_calls[0].client.stage == stage


def test_the_demo_shows_a_segment_whose_recommendation_the_evidence_changed(session):
    load_demo_history(session, NOW)
    load_demo_team(session, NOW)
    session.flush()
    civil = next(entry for entry in effect(session, NOW)["segments"] if entry["segment"] == "civil_servant")
    zhang = Profile.from_row(session.scalars(select(Client).where(Client.name == "张三")).one())
    seed_first = rank_openings(zhang, None)[0][0]
    assert seed_first == "peer_reference" and civil["preferred"] == "worry"
    assert civil["reason"] and "公职人员" in civil["reason"] and "制造忧虑" in civil["reason"]
    shown = {entry["style"]: entry for entry in civil["styles"]}
    assert shown["worry"]["rate"] > shown["peer_reference"]["rate"]  # both with enough calls to be shown


def test_the_agents_call_lists_gain_no_row_from_the_team_history(session):
    agents = session.scalars(select(User).where(User.login.in_(("agent01", "agent02")))).all()
    before = {agent.login: {item.client.name for item in call_list(session, agent, NOW).items} for agent in agents}
    load_demo_team(session, NOW)
    session.flush()
    after = {agent.login: {item.client.name for item in call_list(session, agent, NOW).items} for agent in agents}
    assert after == before


async def test_in_the_demo_zhang_sans_opening_cites_the_teams_calls(crm_url, monkeypatch):
    from bot.db import sessions

    monkeypatch.setenv("SALESBOT_MAX_CALLS_PER_DAY", "0")  # several calls to 张三 in one morning
    monkeypatch.setenv("SALESBOT_MAX_CALLS_PER_WEEK", "0")
    with sessions(crm_url).begin() as session:
        load_demo_history(session, NOW)
        load_demo_team(session, NOW)
    best = []
    for number in range(6):
        conversation = Conversation(sender_id=f"demo-zhang-{number}")
        await conversation.run(ActionLookupClient(), "查一下张三", "lookup_client", client_name="张三")
        reply = (await conversation.run(ActionSuggestOpening(), "开场白怎么说", "request_opening"))[0]["custom"]
        if "换个开场试试" not in " ".join(reply["notes"]):
            best.append(reply)
    assert best and all(reply["key"] == "worry" and "近90天" in reply["why"] for reply in best)
