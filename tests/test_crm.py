"""CRM schema, migrations and the demo-data loader against real SQLite files."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, inspect, select

from bot import crm, migrate
from bot.db import engine_for, sessions
from bot.demo_data import DemoDataError, load_demo_data, read_demo_data
from bot.models import Call, Client, FollowUp, Holding, Product, User
from bot.passwords import hash_password, verify_password
from tests.conftest import WORKDAY_MORNING as now


def test_upgrade_on_empty_database_creates_every_table(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    migrate.upgrade(url)
    tables = set(inspect(engine_for(url)).get_table_names())
    assert {"users", "clients", "products", "selling_points", "holdings", "calls", "followups"} <= tables


def test_downgrade_then_upgrade_round_trips(tmp_path):
    url = f"sqlite:///{tmp_path / 'rt.sqlite3'}"
    migrate.upgrade(url)
    migrate.downgrade(url)
    assert set(inspect(engine_for(url)).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(url)
    assert "calls" in inspect(engine_for(url)).get_table_names()


def test_the_migrations_build_exactly_the_models(tmp_path):
    """A column added to bot/models.py without a migration (or the reverse) fails here, not in production."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bot.models import metadata

    url = f"sqlite:///{tmp_path / 'diff.sqlite3'}"
    migrate.upgrade(url)
    with engine_for(url).connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []


def test_upgrading_keeps_one_open_follow_up_per_client(tmp_path):
    """Older versions booked a busy client five times; after 0004 the latest booking is the one open."""
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    migrate.upgrade(url, "0003")
    with engine_for(url).begin() as db:
        db.execute(text("insert into users (id, login, name, role, password_hash, active, token_version, "
                        "created_at) values (1, 'a', 'A', 'agent', 'x', 1, 0, '2026-01-01')"))
        db.execute(text("insert into clients (id, name, phone, stage, do_not_call, created_at, updated_at) "
                        "values (1, '张三', '1', 'general', 0, '2026-01-01', '2026-01-01')"))
        for i, done in enumerate((0, 0, 0, 1, 0), start=1):
            db.execute(text("insert into followups (id, client_id, agent_id, due_at, reason, done, created_at) "
                            f"values ({i}, 1, 1, '2026-11-2{i} 10:00', 'r', {done}, '2026-01-01')"))
    migrate.upgrade(url)
    with engine_for(url).connect() as db:
        rows = db.execute(text("select id, status from followups order by id")).all()
    assert rows == [(1, "done"), (2, "done"), (3, "done"), (4, "done"), (5, "open")]


def _counts(url):
    with sessions(url).begin() as session:
        return {model.__name__: session.scalar(select(func.count()).select_from(model))
                for model in (User, Client, Product, Holding, Call, FollowUp)}


def test_loader_is_idempotent(crm_url):
    before = _counts(crm_url)
    with sessions(crm_url).begin() as session:
        added = load_demo_data(session)
    assert added == {"users": 0, "products": 0, "clients": 0, "holdings": 0}
    assert _counts(crm_url) == before


def test_loader_does_not_overwrite_edits(crm_url):
    with sessions(crm_url).begin() as session:
        client = session.scalars(select(Client).where(Client.name == "张三")).one()
        client.stage = "deal"
    with sessions(crm_url).begin() as session:
        load_demo_data(session)
    with sessions(crm_url).begin() as session:
        assert session.scalars(select(Client.stage).where(Client.name == "张三")).one() == "deal"


def test_demo_facts_from_the_contract(session):
    zhang = session.scalars(select(Client).where(Client.phone == "13800000001")).one()
    assert (zhang.name, zhang.agent.login, zhang.stage) == ("张三", "agent01", "general")
    assert zhang.card_spend_per_year == 800
    zhu = session.scalars(select(Client).where(Client.name == "朱丽")).one()
    assert zhu.referrer == "王华" and zhu.agent.login == "agent02"
    wang = session.scalars(select(Client).where(Client.name == "王华")).one()
    assert sorted(h.product.code for h in wang.holdings) == ["PLATINUM_CARD", "STEADY_WEALTH"]
    assert session.scalars(select(Client.do_not_call).where(Client.name == "孙丽")).one() is True
    wealth = session.scalars(select(Product).where(Product.code == "STEADY_WEALTH")).one()
    assert wealth.risk_level == "R2"
    assert [p.text for p in wealth.selling_points][0].startswith("业绩比较基准")
    for product in session.scalars(select(Product)):
        assert len(product.selling_points) >= 3, product.code
    roles = dict(session.execute(select(User.login, User.role)).all())
    assert roles == {"agent01": "agent", "agent02": "agent", "trainee01": "trainee", "super01": "supervisor"}


def test_demo_passwords_are_hashed_with_a_kdf(session):
    user = session.scalars(select(User).where(User.login == "agent01")).one()
    assert "demo-agent" not in user.password_hash
    assert user.password_hash.startswith("scrypt$")
    assert verify_password("demo-agent", user.password_hash)
    assert not verify_password("wrong", user.password_hash)


def test_same_password_hashes_differently():
    assert hash_password("x") != hash_password("x")
    assert not verify_password("x", "garbage")


def test_inconsistent_demo_data_is_rejected_before_writing(tmp_path):
    import yaml

    from bot.demo_data import DEMO_DATA

    data = yaml.safe_load(DEMO_DATA.read_text(encoding="utf-8"))
    data["clients"].append({"name": "坏数据", "phone": "13900000000", "agent": "nobody"})
    bad = tmp_path / "demo.yml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DemoDataError, match="unknown agent"):
        read_demo_data(bad)


def _zhang(session):
    return session.scalars(select(Client).where(Client.name == "张三")).one()


def _agent(session, login):
    return session.scalars(select(User).where(User.login == login)).one()


def test_a_client_has_one_open_follow_up_and_booking_again_moves_it(session):
    zhang = _zhang(session)
    today_2pm, tomorrow_10am, next_week = (now.replace(hour=14), now.replace(day=24, hour=10),
                                           now.replace(day=30, hour=10))
    first = crm.add_followup(session, client_id=zhang.id, agent_id=zhang.agent_id, due_at=today_2pm,
                             reason="客户正忙", conversation_id="c1", now=now)
    assert not first.moved and first.followup.status == "open"
    again = crm.add_followup(session, client_id=zhang.id, agent_id=zhang.agent_id, due_at=tomorrow_10am,
                             reason="改约", conversation_id="c1", now=now)
    assert again.followup.id == first.followup.id and again.moved_from == today_2pm
    assert (again.followup.due_at, again.followup.reason) == (tomorrow_10am, "改约")
    # Another call, by another agent, before that callback is due: the same row moves, now theirs.
    other = _agent(session, "agent02")
    moved = crm.add_followup(session, client_id=zhang.id, agent_id=other.id, due_at=next_week,
                             reason="再约", conversation_id="c2", now=now)
    assert moved.followup.id == first.followup.id and moved.moved_from == tomorrow_10am
    assert (moved.followup.agent_id, moved.followup.conversation_id) == (other.id, "c2")
    same_time = crm.add_followup(session, client_id=zhang.id, agent_id=other.id, due_at=next_week,
                                 reason="再约", conversation_id="c2", now=now)
    assert not same_time.moved  # relayed again for the same time: nothing to tell
    assert crm.open_followups(session, zhang.id) == [first.followup]


def test_a_later_call_answering_a_due_callback_closes_it_and_books_anew(session):
    zhang = _zhang(session)
    due = crm.add_followup(session, client_id=zhang.id, agent_id=zhang.agent_id, due_at=now.replace(hour=11),
                           reason="客户正忙", conversation_id="c1", now=now).followup
    later = now.replace(hour=11, minute=5)
    booking = crm.add_followup(session, client_id=zhang.id, agent_id=zhang.agent_id,
                               due_at=now.replace(day=24, hour=15), reason="还在忙", conversation_id="c2", now=later)
    assert not booking.moved and booking.answered == 1 and booking.followup.id != due.id
    assert (due.status, due.closed_at) == ("done", later)
    assert crm.open_followups(session, zhang.id) == [booking.followup]


def test_overdue_means_open_and_past_due(session):
    zhang = _zhang(session)
    followup = crm.add_followup(session, client_id=zhang.id, agent_id=zhang.agent_id,
                                due_at=now - timedelta(minutes=1), reason="客户正忙").followup
    assert crm.is_overdue(followup, now) and not crm.is_overdue(followup, now - timedelta(minutes=2))
    followup.close("done", now)
    assert not crm.is_overdue(followup, now)
    assert crm.due_followups(session, agent_id=zhang.agent_id, until=now) == []


@pytest.mark.parametrize(("text", "code"), [("白金信用卡", "PLATINUM_CARD"), ("STEADY_WEALTH", "STEADY_WEALTH"),
                                            ("定投", "FUND_SIP"), ("黄金期货", None), (None, None)])
def test_product_named_by_code_name_or_alias(session, text, code):
    product = crm.product_named(session, text)
    assert (product.code if product else None) == code


@pytest.mark.parametrize("today", [now, now + timedelta(days=400), now + timedelta(days=3 * 365)])
def test_the_demo_bank_does_not_age(tmp_path, today):
    """Loaded on any day, the demo clients' risk assessments are as old as on the day the demo
    describes: 张三's (C2, eight months old) stays valid, the expired one stays expired."""
    from bot import clock
    from bot.demo_data import DEMO_AS_OF
    from bot.profile import RISK_ASSESSMENT_VALID

    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    migrate.upgrade(url)
    with clock.frozen(today), sessions(url).begin() as session:
        load_demo_data(session)
        assessed = {c.name: c.risk_assessed_at for c in session.scalars(select(Client))
                    if c.risk_assessed_at is not None}
        ages = {name: today - when for name, when in assessed.items()}
    assert ages["张三"] == now - datetime(2026, 3, 12) and ages["张三"] < RISK_ASSESSMENT_VALID
    assert any(age > RISK_ASSESSMENT_VALID for age in ages.values())  # the demo's expired assessment
    assert now.date() == DEMO_AS_OF
