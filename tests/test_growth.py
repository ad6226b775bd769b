"""The lists, the dashboard and the export on PostgreSQL with data made the way the growth benchmark
makes a year of a team's (bench/growth.py, here a two-hundredth of it): pages are slices of the whole
list, the dashboard's kept counts agree with the calls, a corrected outcome moves them (PostgreSQL's
upsert), the export's index pages hold every call once, and a generated conversation reads as a transcript."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text

from bench import growth
from bot import call_counts, migrate
from bot.analytics import dashboard_data
from bot.auth import Identity
from bot.db import engine_for, sessions
from bot.models import Call, Client
from bot.outcomes import fill_call_segments, log_call
from bot.queries import conversations_page, export_call_ids
from bot.transcripts import _metadata, transcript
from tests.conftest import WORKDAY_MORNING

SUPERVISOR = Identity("gsuper", "supervisor", "主管")
AGENT = Identity("gagent07", "agent", "坐席07")


@pytest.fixture(scope="module")
def year(postgres_server):
    crm, tracker = postgres_server("growth_crm"), postgres_server("growth_tracker")
    migrate.upgrade(crm)
    growth.users(crm, "growth-test-password")
    _metadata.create_all(engine_for(tracker))
    sizes = growth._sizes(0.005)  # 1,000 clients, 2,500 calls, 250 lookups without an outcome
    growth.grow(crm, tracker, dict.fromkeys(sizes, 0), sizes, WORKDAY_MORNING)
    with sessions(crm).begin() as session:  # as `salesbot prepare` does after an upgrade
        fill_call_segments(session)
        call_counts.rebuild(session)
    return {"crm": crm, "tracker": tracker, "sizes": sizes}


@pytest.fixture()
def crm(year, monkeypatch):
    monkeypatch.setenv("SALESBOT_DB_URL", year["crm"])
    monkeypatch.setenv("SALESBOT_TRACKER_URL", year["tracker"])
    return year["crm"]


def test_every_page_is_a_slice_of_the_whole_list(crm, year):
    with sessions(crm).begin() as session:
        for identity, args in ((SUPERVISOR, {}), (AGENT, {}), (SUPERVISOR, {"outcome": "unlogged"}),
                               (SUPERVISOR, {"agent": "gagent07", "outcome": "interested"})):
            whole, size = conversations_page(session, identity, args, None)
            assert size == len(whole) > 0, (identity.login, args)
            for offset in (0, 1, size // 2 - 1, size // 2, size - 51, size - 50, size - 1, size):
                offset = max(offset, 0)
                assert conversations_page(session, identity, args, (offset, 50)) == (whole[offset:offset + 50], size)
        calls = session.scalar(select(func.count()).select_from(Call))
        assert calls == year["sizes"]["calls"]
        assert conversations_page(session, SUPERVISOR, {}, (0, 1))[1] > calls  # and the lookups without an outcome


def test_the_dashboards_kept_counts_agree_with_the_calls(crm):
    with sessions(crm).begin() as session:
        board = dashboard_data(session, SUPERVISOR)
        logged = session.scalar(select(func.count()).where(Call.disposition.is_not(None)))
        assert sum(sum(row.values()) for row in board["dispositions"].values()) == logged
        assert sum(row["calls"] for row in board["conversion"]["by_opening"]) == logged  # every one had an opening
        raised: dict[str, int] = {}
        for (objections,) in session.execute(select(Call.objections).where(Call.disposition.is_not(None))):
            for objection in set(objections or []):
                raised[objection] = raised.get(objection, 0) + 1
        assert board["objections"] == raised
        own = dashboard_data(session, AGENT)
        assert list(own["dispositions"]) == ["坐席07"] and own["unlogged"].keys() <= {"坐席07"}


def test_a_corrected_outcome_moves_the_counts_on_postgresql(crm):
    with sessions(crm).begin() as session:
        call = session.scalars(select(Call).where(Call.disposition == "interested").order_by(Call.id).limit(1)).one()
        client = session.get(Client, call.client_id)
        before = dashboard_data(session, SUPERVISOR)["dispositions"]
        log_call(session, conversation_id=call.conversation_id, agent_id=call.agent_id, client=client,
                 outcome="refused", started_at=call.started_at, now=WORKDAY_MORNING,
                 objections=list(call.objections or []), opening_style=call.opening_style, products=[])
        after = dashboard_data(session, SUPERVISOR)["dispositions"]
        agent = next(name for name in after if after[name] != before[name])
        assert (after[agent]["interested"], after[agent]["refused"]) == (
            before[agent]["interested"] - 1, before[agent]["refused"] + 1)
        kept = call_counts.read(session, None)
        call_counts.rebuild(session)
        assert sorted(map(sorted, kept.values())) == sorted(map(sorted, call_counts.read(session, None).values()))
        session.rollback()


def test_the_export_pages_hold_every_call_once_newest_first(crm):
    with sessions(crm).begin() as session:
        exported, mark = [], None
        while True:
            ids, mark = export_call_ids(session, SUPERVISOR, {}, mark, size=700)
            exported += ids
            if mark is None:
                break
        newest_first = [row.id for row in session.execute(
            select(Call.id).order_by(Call.started_at.desc(), Call.id.desc()))]
        assert exported == newest_first


def test_a_generated_conversation_reads_as_a_transcript(crm, year):
    turns = transcript("g-7", year["tracker"])
    users = [turn for turn in turns if turn["speaker"] == "user"]
    assert users and users[0]["intent"] == "lookup_client" and users[0]["login"].startswith("gagent")
    with engine_for(year["tracker"]).connect() as connection:
        slot = connection.execute(
            text("SELECT data FROM events WHERE sender_id = 'g-7' AND type_name = 'slot'")).scalar()
    with sessions(crm).begin() as session:
        call = session.scalars(select(Call).where(Call.conversation_id == "g-7")).one()
        assert json.loads(slot)["value"] == str(call.client_id)
        assert session.get(Client, call.client_id).agent_id == call.agent_id
