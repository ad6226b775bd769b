"""Products from the supervisor's page (issue 21): add and edit in plain fields, every text checked by
the compliance module before it is saved (the finding's reason beside the field), a risk level only
for wealth products, every save in the change log with its diff, and a deactivated product no longer
offered from the very next message."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from bot import clock, guidance
from bot.book import products
from bot.db import sessions
from bot.guidance import CallState, Context, Profile
from bot.models import Change, Client, Product, User
from bot.playbook import playbook
from tests.test_accounts import bearer, browser_login, live_app, token_for, web  # noqa: F401 - fixtures

GOLD = {
    "code": "gold_card", "name": "金卡", "category": "card", "min_amount": "0", "aliases": "金卡信用卡、金信用卡",
    "target": "刚参加工作、有稳定收入、想要第一张信用卡的客户",
    "pricing": "首年免年费，每年刷卡满六笔可免次年年费",
    "eligibility": "年满十八周岁、有稳定收入的个人，额度以审批结果为准",
    "signup": "在手机银行或到网点带身份证申请",
    "selling_points": ["最长五十天免息期，额度以审批结果为准", "新户首刷礼，以活动规则为准", "手机银行随时查账还款"],
}


@pytest.fixture(scope="module", autouse=True)
def _playbook_loaded():
    """The playbook and the compliance judge load once, here, not inside the first test's time."""
    playbook()


def _super(session) -> User:
    return session.scalar(select(User).where(User.login == "super01"))


def _product_changes(session, code: str) -> list[Change]:
    product = session.scalar(select(Product).where(Product.code == code))
    return list(session.scalars(select(Change).where(Change.entity == "product", Change.entity_id == product.id)
                                .order_by(Change.id)))


def test_a_supervisor_adds_a_product_in_plain_fields_and_the_change_log_has_it(session):
    product = products.create(session, by=_super(session), body=GOLD)
    session.flush()
    assert product.code == "GOLD_CARD" and product.aliases == ["金卡信用卡", "金信用卡"]
    assert [p.text for p in product.selling_points] == GOLD["selling_points"] and product.active
    [change] = _product_changes(session, "GOLD_CARD")
    assert change.kind == "product" and change.user.login == "super01"
    assert change.detail["code"] == [None, "GOLD_CARD"] and change.detail["selling_points"][1] == GOLD["selling_points"]
    assert "GOLD_CARD" in {p.code for p in products.live_catalogue(session)}


def test_an_edit_records_the_diff_of_what_changed_only(session):
    products.create(session, by=_super(session), body=GOLD)
    points = ["最长五十天免息期，额度以审批结果为准", "新户首刷礼，以活动规则为准", "手机银行随时查账还款",
              "支持绑定手机支付"]
    pricing = "首年免年费，每年刷卡满十二笔可免次年年费"
    product, diff = products.update(session, by=_super(session), code="GOLD_CARD",
                                    body={"pricing": pricing, "selling_points": points})
    session.flush()
    assert set(diff) == {"pricing", "selling_points"} and diff["selling_points"] == [GOLD["selling_points"], points]
    assert [p.text for p in product.selling_points] == points
    assert _product_changes(session, "GOLD_CARD")[-1].detail == diff
    # Saving the same again changes nothing and records nothing.
    assert products.update(session, by=_super(session), code="GOLD_CARD", body={"selling_points": points})[1] == {}
    assert len(_product_changes(session, "GOLD_CARD")) == 2
    # Fewer points: the last ones go, the first keep their place.
    products.update(session, by=_super(session), code="GOLD_CARD", body={"selling_points": points[1:]})
    session.flush()
    assert [p.text for p in product.selling_points] == points[1:]


@pytest.mark.parametrize(("point", "reasons"), [
    ("保本保收益", ["承诺保本", "承诺收益"]),  # a promise of principal and return
    ("不保证本金和收益，业绩比较基准年化百分之二点五到三点五，业绩比较基准不代表实际收益", []),  # the honest negation
    ("业绩比较基准年化百分之三点二，高于同期存款", ["把业绩比较基准当成收益"]),  # a benchmark sold as a return
    ("业绩比较基准年化百分之三点五", ["只能说区间"]),  # one figure, not the range with the disclaimer
    ("九十天封闭期，期限短流动性好", ["封闭期内不能赎回"]),  # a closed period is not liquidity
    ("九十天封闭期，封闭期内不能赎回", []),
])
def test_every_selling_point_goes_through_the_compliance_module(session, point, reasons):
    body = {**GOLD, "code": "SAFE_WEALTH", "name": "安盈理财", "aliases": [], "category": "wealth",
            "risk_level": "R2", "eligibility": "风险测评结果为C2稳健型及以上的个人客户",
            "pricing": "一万元起购，销售费和管理费以产品说明书为准",
            "selling_points": ["一万元起购", point, "手机银行随时查看净值"]}
    if not reasons:
        assert products.create(session, by=_super(session), body=body).code == "SAFE_WEALTH"
        return
    with pytest.raises(products.ProductError) as error:
        products.create(session, by=_super(session), body=body)
    assert set(error.value.problems) == {"selling_points.1"}, error.value.problems
    assert all(reason in error.value.problems["selling_points.1"] for reason in reasons), error.value.problems
    assert session.scalar(select(Product).where(Product.code == "SAFE_WEALTH")) is None


@pytest.mark.parametrize(("field", "text", "reason"), [
    ("pricing", "存款保险保障，利率高于普通定期", "最高偿付五十万元"),  # deposit insurance without its limit
    ("comparison", "全球机场贵宾厅免费使用", "要写明要满足的条件"),  # a perk without its condition
    ("eligibility", "白户也能批，肯定批", "以审批为准"),  # an approval promise
])
def test_fact_fields_are_checked_too(session, field, text, reason):
    with pytest.raises(products.ProductError) as error:
        products.create(session, by=_super(session), body={**GOLD, field: text})
    assert reason in error.value.problems[field]


def test_a_risk_level_is_refused_on_a_card_and_required_on_wealth(session):
    with pytest.raises(products.ProductError) as error:
        products.create(session, by=_super(session), body={**GOLD, "risk_level": "R2"})
    assert error.value.problems == {"risk_level": "只有理财产品有风险等级，信用卡产品不能设置风险等级。"}
    with pytest.raises(products.ProductError) as error:
        products.create(session, by=_super(session), body={**GOLD, "category": "wealth"})
    assert "理财产品必须填写风险等级" in error.value.problems["risk_level"]


def test_bad_input_is_refused_field_by_field_and_nothing_is_written(session):
    body = {"code": "1x", "name": "稳享理财", "category": "gold", "min_amount": "很多", "selling_points": ["只有一条"],
            "active": "yes", "aliases": ["白金卡"]}
    with pytest.raises(products.ProductError) as error:
        products.create(session, by=_super(session), body=body)
    assert set(error.value.problems) == {"code", "name", "category", "min_amount", "selling_points", "active",
                                         "aliases"}
    assert "稳享理财" in error.value.problems["name"] and "白金信用卡" in error.value.problems["aliases"]
    with pytest.raises(products.ProductError) as fixed:
        products.update(session, by=_super(session), code="LARGE_CD", body={"code": "OTHER"})
    assert "不能修改" in fixed.value.problems["code"]
    with pytest.raises(products.ProductError) as missing:
        products.update(session, by=_super(session), code="NO_SUCH", body={})
    assert missing.value.status == 404
    assert session.scalars(select(Change)).first() is None


def _context(session, client_name: str) -> Context:
    client = session.scalar(select(Client).where(Client.name == client_name))
    return Context("星海银行", "400-000-9595", "李明", clock.now(), Profile.from_row(client),
                   products.live_catalogue(session))


def test_a_deactivated_product_is_not_offered_from_the_very_next_message(crm_url):
    factory = sessions(crm_url)
    with factory.begin() as session:  # a message before: 大额存单 is 张三's best fit, and cached
        before = products.live_catalogue(session)
        assert products.live_catalogue(session) is before  # kept between messages while nothing changes
        ctx = _context(session, "张三")
        assert guidance.pitch(ctx, CallState(), "大额存单").product.code == "LARGE_CD"
        assert guidance.opening(ctx, CallState()).product.code == "LARGE_CD"
    with factory.begin() as session:  # the supervisor's save, in another transaction (the web app)
        products.update(session, by=_super(session), code="LARGE_CD", body={"active": False})
    with factory.begin() as session:  # the very next message
        ctx = _context(session, "张三")
        assert "LARGE_CD" not in {p.code for p in ctx.catalogue}
        pitch = guidance.pitch(ctx, CallState(), "大额存单")
        opening = guidance.opening(ctx, CallState())
        assert pitch.product.code != "LARGE_CD" and "大额存单" not in pitch.script.text
        assert opening.product.code != "LARGE_CD" and "大额存单" not in opening.script.text
        assert "LARGE_CD" not in {p.code for p, _why in guidance.recommend_products(ctx.profile, ctx.catalogue)}
        assert _product_changes(session, "LARGE_CD")[-1].detail == {"active": [True, False]}
    with factory.begin() as session:  # and back on sale just as fast
        products.update(session, by=_super(session), code="LARGE_CD", body={"active": True})
    with factory.begin() as session:
        assert guidance.pitch(_context(session, "张三"), CallState(), "大额存单").product.code == "LARGE_CD"


# ---------- the API ----------


def test_the_products_api_saves_or_answers_with_reasons_by_field(web, crm_url):  # noqa: F811
    token = bearer(token_for(web, "super01", "demo-super").json()["token"])
    listed = requests.get(f"{web}/api/products", headers=token, timeout=10)
    assert listed.status_code == 200 and {"LARGE_CD", "STEADY_WEALTH"} <= {p["code"] for p in listed.json()}
    refused = requests.post(f"{web}/api/products", headers=token, timeout=30,
                            json={**GOLD, "selling_points": ["保本保收益", *GOLD["selling_points"]]})
    assert refused.status_code == 400 and "selling_points.0" in refused.json()["problems"]
    assert "承诺保本" in refused.json()["problems"]["selling_points.0"] and "没有保存" in refused.json()["error"]
    created = requests.post(f"{web}/api/products", headers=token, json=GOLD, timeout=30)
    assert created.status_code == 201 and created.json()["category_label"] == "信用卡"
    edited = requests.put(f"{web}/api/products/GOLD_CARD", headers=token, json={"active": False}, timeout=30)
    assert edited.status_code == 200 and edited.json()["active"] is False
    with sessions(crm_url).begin() as session:
        assert "GOLD_CARD" not in {p.code for p in products.live_catalogue(session)}


def test_agents_and_trainees_may_not_touch_products_and_the_page_needs_its_csrf_token(web):  # noqa: F811
    for login, password in (("agent01", "demo-agent"), ("trainee01", "demo-trainee")):
        token = bearer(token_for(web, login, password).json()["token"])
        for method, path in (("get", "/api/products"), ("post", "/api/products"), ("put", "/api/products/LARGE_CD")):
            reply = requests.request(method, f"{web}{path}", json={"active": False}, headers=token, timeout=10)
            assert reply.status_code == 403 and reply.json()["error"] == "只有主管可以新增和修改产品。"
    browser, _ = browser_login(web, "super01", "demo-super")
    assert browser.put(f"{web}/api/products/LARGE_CD", json={"active": False}, timeout=10).status_code == 403


@pytest.mark.parametrize("body", [
    None, [], "text", {"code": ["X"]}, {"code": "NEW_ONE", "name": 5, "category": ["card"], "risk_level": {"a": 1},
                                       "min_amount": [1], "aliases": {"x": 1}, "selling_points": "一\n二",
                                       "pricing": 3, "active": "no"},
    {"code": "NEW_ONE", "name": "新品", "category": "card", "min_amount": "1e400", "selling_points": [1, 2, 3]},
    {"code": "NEW_ONE", "name": "新品", "category": "card", "min_amount": -5, "selling_points": ["a"] * 11},
])
def test_odd_bodies_are_answered_in_chinese_not_with_a_crash(web, body):  # noqa: F811
    token = bearer(token_for(web, "super01", "demo-super").json()["token"])
    for method, path in (("post", "/api/products"), ("put", "/api/products/LARGE_CD"), ("post", "/api/products/%00")):
        reply = requests.request(method, f"{web}{path}", json=body, headers=token, timeout=30)
        assert reply.status_code in (200, 400, 404), (path, reply.status_code, reply.text[:200])
        assert reply.status_code == 200 or reply.json()["error"]
