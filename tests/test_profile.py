"""Tier, segments, openings and products on the real demo CRM: what an agent sees for each client."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from bot import crm
from bot.models import Client
from bot.profile import (
    ProductInfo,
    Profile,
    has_relationship,
    rank_openings,
    recommend_products,
    suitability_problem,
)

# Suitability reads the clock (a risk assessment is valid for a year): tests run at a fixed date.
pytestmark = pytest.mark.usefixtures("frozen_clock")

# Styles that speak of the client's account or thank them for their support.
RELATIONSHIP_STYLES = {"familiar", "borrow_wind", "find_fault"}
PRESSURE_STYLES = {"worry", "herd"}


@pytest.fixture()
def profiles(session) -> dict[str, Profile]:
    return {c.name: Profile.from_row(c) for c in session.scalars(select(Client))}


@pytest.fixture()
def catalogue(session) -> tuple[ProductInfo, ...]:
    return tuple(ProductInfo.from_row(p) for p in crm.catalogue(session))


def codes(profile: Profile, catalogue) -> list[str]:
    return [p.code for p, _why in recommend_products(profile, catalogue)]


def reasons(profile: Profile, catalogue) -> dict[str, str]:
    return {p.code: why for p, why in recommend_products(profile, catalogue)}


# ---- tier by contribution ----

def test_card_spend_counts_as_contribution(profiles):
    li = profiles["李四"]  # no assets, but 700,000 a year on cards
    assert li.tier == "高端客户"
    assert "年刷卡消费70万元" in li.tier_why


def test_client_without_data_is_not_graded_as_mass_client(profiles):
    zhao = profiles["赵敏"]
    assert zhao.tier != "大众客户"
    assert "资料不全" in zhao.tier and "无法" in zhao.tier_why


def test_tiers_of_the_demo_clients(profiles):
    assert profiles["张三"].tier == "高端客户"  # 1.5M assets
    assert profiles["王华"].tier == "高端客户"  # 5M assets, below the private-banking line
    assert profiles["陈刚"].tier_code == "missing"  # nothing known about him personally


def test_unknown_figures_are_left_out_of_the_tier_not_read_as_zero(profiles):
    li = replace(profiles["李四"], assets=None)
    assert li.tier == "高端客户" and "资产" in li.tier_why.split("未知")[1]
    nothing = replace(profiles["李四"], assets=None, card_spend=None)
    assert nothing.tier_code == "missing"
    small = replace(profiles["赵敏"], deposits=20000)
    assert small.tier == "大众客户" and "存款2万元" in small.tier_why


# ---- segments ----

@pytest.mark.parametrize(("name", "segment", "label"), [
    ("张三", "civil_servant", "公职人员"),
    ("张三", "payroll_employee", "代发工资客户"),
    ("王华", "business_owner", "企业主/个体经营者"),
    ("刘洋", "business_owner", "企业主/个体经营者"),
    ("陈刚", "corporate_contact", "企业财务/对公联系人"),
    ("孙丽", "retiree", "退休人员"),
    ("朱丽", "young_professional", "年轻职场人士"),
])
def test_segments_of_the_demo_clients(profiles, name, segment, label):
    assert segment in profiles[name].segments
    assert label in profiles[name].segment_labels


def test_segments_do_not_overreach(profiles):
    assert "civil_servant" not in profiles["孙丽"].segments  # a retired teacher is a retiree
    assert "young_professional" not in profiles["李四"].segments  # no fixed job
    assert "young_professional" not in profiles["刘洋"].segments  # runs his own business
    assert "retiree" not in profiles["张三"].segments


# ---- openings ----

@pytest.mark.parametrize("name", ["朱丽", "李四", "赵敏", "刘洋"])
def test_no_relationship_styles_for_clients_without_a_relationship(profiles, name):
    profile = profiles[name]
    assert not has_relationship(profile)
    styles = [style for style, _why in rank_openings(profile)]
    assert styles and not RELATIONSHIP_STYLES & set(styles)
    assert len(styles) < 9  # fewer styles is correct: the rest would claim a relationship


def test_no_relationship_styles_without_a_profile():
    styles = [style for style, _why in rank_openings(None)]
    assert styles[0] == "direct" and not RELATIONSHIP_STYLES & set(styles)


def test_relationship_clients_get_the_relationship_styles(profiles):
    wang = rank_openings(profiles["王华"])
    assert wang[0][0] == "borrow_wind"
    chen = dict(rank_openings(profiles["陈刚"]))
    assert rank_openings(profiles["陈刚"])[0][0] == "familiar" and "永利集团" in chen["familiar"]


def test_segments_shape_the_openings(profiles):
    zhang = dict(rank_openings(profiles["张三"]))
    assert next(iter(zhang)) == "peer_reference" and "公职人员" in zhang["peer_reference"]
    liu = dict(rank_openings(profiles["刘洋"]))
    assert next(iter(liu)) == "peer_reference" and "企业主" in liu["peer_reference"]
    assert "150万元" in zhang["worry"]  # asset holders: worry, with the real figure


def test_retirees_get_no_pressure_styles(profiles):
    sun = rank_openings(profiles["孙丽"])
    assert sun[0][0] == "direct" and "退休" in sun[0][1]
    assert not PRESSURE_STYLES & {style for style, _why in sun}


# ---- products ----

def test_no_consumer_loan_without_stable_income(profiles, catalogue):
    li = profiles["李四"]
    assert "CONSUMER_LOAN" not in codes(li, catalogue)
    assert codes(li, catalogue)[0] == "PLATINUM_CARD"  # card spend, not income, decides the card
    # Even if she were an assessed, older client: still no fixed income.
    assert "CONSUMER_LOAN" not in codes(replace(li, age=40, risk_tolerance="C5"), catalogue)


def test_corporate_contact_gets_the_corporate_account_first(profiles, catalogue):
    chen = reasons(profiles["陈刚"], catalogue)
    assert next(iter(chen)) == "CORP_ACCOUNT" and "子公司" in chen["CORP_ACCOUNT"]
    assert "PLATINUM_CARD" not in chen and "PAYROLL" not in chen  # PAYROLL is already held


def test_civil_servant_with_low_card_spend(profiles, catalogue):
    zhang = reasons(profiles["张三"], catalogue)
    assert list(zhang)[:2] == ["LARGE_CD", "STEADY_WEALTH"]
    assert "公职人员" in zhang["CONSUMER_LOAN"]
    assert "PLATINUM_CARD" not in zhang  # 800 a year on cards: not a card prospect


def test_business_owner_gets_payroll_and_no_held_products(profiles, catalogue):
    wang = codes(profiles["王华"], catalogue)
    assert wang[0] == "PAYROLL"
    assert not {"PLATINUM_CARD", "STEADY_WEALTH"} & set(wang)


def test_unknown_card_spend_or_income_triggers_no_low_rule(profiles, catalogue):
    zhang = reasons(replace(profiles["张三"], card_spend=None), catalogue)
    assert "很少刷卡" not in " ".join(zhang.values())
    assert "PLATINUM_CARD" in zhang  # unknown spend is not low spend
    unknown_income = reasons(replace(profiles["李四"], annual_income=None, age=45), catalogue)
    assert "收入不高" not in " ".join(unknown_income.values())


def test_no_wealth_product_for_a_client_never_assessed(profiles, catalogue):
    assert not [c for c in codes(profiles["朱丽"], catalogue) if c in {"STEADY_WEALTH", "FUND_SIP", "POCKET_WEALTH"}]


@pytest.mark.parametrize("tolerance", [None, "C1", "C2", "C3", "C4", "C5"])
def test_no_product_above_the_clients_risk_tolerance(profiles, catalogue, tolerance):
    for profile in profiles.values():
        for client in (profile, replace(profile, risk_tolerance=tolerance)):
            for product, _why in recommend_products(client, catalogue):
                assert suitability_problem(client, product) is None, (client.name, tolerance, product.code)
    assert all(suitability_problem(None, p) is None for p, _why in recommend_products(None, catalogue))


def test_every_reason_is_filled_in_chinese_and_cites_no_seed(profiles, catalogue):
    for profile in [*profiles.values(), None]:
        shown = [why for _s, why in rank_openings(profile)]
        if profile is not None:
            shown += [why for _p, why in recommend_products(profile, catalogue)]
        for why in shown:
            assert why and "{" not in why, why
            assert "种子" not in why and "seed" not in why.lower(), why
            assert "未知" not in why and "未测评" not in why, why  # never reason from a missing figure


def test_a_rule_naming_an_unknown_condition_fails_at_start_up():
    from bot.playbook import PlaybookError
    from bot.profile import _config, _validate

    with pytest.raises(PlaybookError, match="no_such_condition"):
        _validate(replace(_config(), style_requires={"worry": {"unless": "no_such_condition"}}))
