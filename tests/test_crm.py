"""CRM schema, migrations and the demo-data loader against real SQLite files."""

from __future__ import annotations

import pytest
from sqlalchemy import func, inspect, select

from bot import migrate
from bot.db import engine_for, sessions
from bot.demo_data import DemoDataError, load_demo_data, read_demo_data
from bot.models import Call, Client, FollowUp, Holding, Product, User
from bot.passwords import hash_password, verify_password


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
