"""Every line the bot can give an agent, rendered for every demo client and product, checked
against what the CRM knows: no invented relationship, referrer, campaign, material or number,
the contact source as recorded, the risk level and disclosure spoken for wealth products."""

from __future__ import annotations

import random
import re
from datetime import datetime

import pytest
from sqlalchemy import select

from bot import crm, guidance
from bot.guidance import CallState, Context, ProductInfo, Profile
from bot.models import Client
from bot.playbook import find_forbidden, playbook
from bot.profile import has_relationship, rank_openings, suitable

# Suitability reads the clock (a risk assessment is valid for a year): tests run at a fixed date.
pytestmark = pytest.mark.usefixtures("frozen_clock")

NOW = datetime(2026, 11, 23, 10, 0)
HOTLINE = "400-000-9595"

# Words that only a client who already banks with us may hear.
RELATIONSHIP_CLAIMS = re.compile(
    "一直以来|这些年|老客户|老朋友|您的账户|预留|在我行办理的业务|您在我行的业务|您现在的业务|"
    "您已经用着|例行服务回访|用我们的卡|现在用的正好")
REFERRAL_CLAIMS = re.compile("介绍我联系|推荐我给您|跟我提起过您|还没来得及跟您提|还没顾上跟您说|还没来得及跟您说")
# Promises of things that exist only if the CRM's product facts say so.
PROMISES = ("清单", "发给您", "发到您手机", "回馈", "酬宾", "优惠活动", "专属优惠", "预约网点的客户经理")
PERCENT = re.compile("百分之[零一二三四五六七八九十点]+")
RISK_LEVEL = re.compile(r"R[1-5]")
FIRST_CONTACT_CLAIMS = re.compile("第一次通话|没打过交道|首次联系")


def _facts(product: ProductInfo | None) -> str:
    if product is None:
        return ""
    return "".join([*product.selling_points, product.pricing or "", product.eligibility or "",
                    product.signup or "", product.comparison or ""])


@pytest.fixture()
def demo(session):
    catalogue = tuple(ProductInfo.from_row(p) for p in crm.catalogue(session))
    profiles = [Profile.from_row(c) for c in session.scalars(select(Client).order_by(Client.id)).unique()]
    return profiles, catalogue


def _context(profile: Profile, catalogue) -> Context:
    return Context("星海银行", HOTLINE, "李明", NOW, profile, catalogue,
                   pending_callback=NOW.replace(hour=11), callback_objection="objection_busy")


def _lines_for(ctx: Context) -> list[tuple[str, str, ProductInfo | None]]:
    """(where, rendered line, product) for every template the bot may choose for this client."""
    pb = playbook()
    profile = ctx.profile
    products = [p for p in ctx.catalogue if guidance.usable(ctx, p)]
    styles = [style for style, _why in rank_openings(profile)]
    techniques = [(f"opening:{s}", pb.openings[s]) for s in styles]
    techniques.append(("callback", pb.callback_opening))
    techniques += [(f"follow_up:{s}/{i}", t) for s in styles for i, t in pb.opening_follow_ups.get(s, {}).items()]
    for intent, technique in pb.objections.items():
        if intent == "objection_referral_doubt" and not profile.referrer:
            technique = pb.referral_no_referrer
        techniques.append((intent, technique))
    techniques += [("risk_no_level", pb.risk_no_level), ("interested", pb.interested), ("closing", pb.closing)]
    lines = []
    for where, technique in techniques:
        for product in products:
            if where == "objection_risk" and not product.is_wealth:
                continue
            if where == "risk_no_level" and product.is_wealth:
                continue
            for template in technique.templates:
                lines.append((where, guidance.render(template, ctx, product), product))
    for product in products:
        lines.append(("deal_agreed", guidance.render(pb.messages["deal_agreed"], ctx, product), product))
    return lines


def test_every_template_for_every_demo_client_states_only_crm_facts(demo):
    profiles, catalogue = demo
    names = {p.name for p in catalogue}
    problems: list[str] = []
    checked = 0
    for profile in profiles:
        ctx = _context(profile, catalogue)
        usable_names = {p.name for p in catalogue if guidance.usable(ctx, p)}
        for where, line, product in _lines_for(ctx):
            checked += 1
            tag = f"{profile.name} {where} {product.code if product else '-'}: {line}"
            if find_forbidden(line):
                problems.append(f"forbidden promise: {tag}")
            # The product's own facts (e.g. "预留手机号" in a sign-up step) are not claims about the client.
            said = line
            if product is not None:
                for fact in (product.signup, product.eligibility, product.pricing, product.comparison,
                             *product.selling_points):
                    said = said.replace(fact, "") if fact else said
            if where != "objection_already_customer" and not has_relationship(profile) \
                    and RELATIONSHIP_CLAIMS.search(said):
                problems.append(f"relationship claimed for a prospect: {tag}")
            if profile.referrer and REFERRAL_CLAIMS.search(line) and profile.referrer not in line:
                problems.append(f"referral without the referrer's name: {tag}")
            elif not profile.referrer and (REFERRAL_CLAIMS.search(line)
                                           or "朋友介绍" in line.replace("不是朋友介绍", "")):
                problems.append(f"referral claimed, none in the CRM: {tag}")
            mentioned = {name for name in names if name in line}
            if mentioned - usable_names:
                problems.append(f"unsuitable product {mentioned - usable_names}: {tag}")
            facts = _facts(product) + "".join(_facts(p) for p in catalogue if p.name in mentioned)
            for amount in PERCENT.findall(line):
                if amount not in facts:
                    problems.append(f"number {amount} not in the product facts: {tag}")
            if FIRST_CONTACT_CLAIMS.search(line):
                problems.append(f"first contact claimed (the CRM may hold earlier calls): {tag}")
            for level in RISK_LEVEL.findall(line.replace("R1到R5", "")):
                if product is None or level != product.risk_level:
                    problems.append(f"risk level {level} is not the product's: {tag}")
            for promise in PROMISES:
                if promise in line and promise not in facts:
                    problems.append(f"promise {promise!r} the CRM does not back: {tag}")
            if product is not None and product.is_wealth and product.name in line \
                    and (playbook().disclosure not in line or product.risk_level not in line):
                problems.append(f"wealth product without spoken risk level and disclosure: {tag}")
            if where.startswith(("opening", "callback")) and playbook().recording_notice not in line:
                problems.append(f"opening without the recording notice: {tag}")
            if where == "objection_price" and product.pricing and product.pricing not in line:
                problems.append(f"price answer without the product's pricing: {tag}")
            if where in ("interested", "deal_agreed") and product.signup and product.signup not in line:
                problems.append(f"next step not the product's sign-up: {tag}")
    assert checked > 1000
    assert not problems, "\n".join(problems[:30])


@pytest.mark.parametrize(("client", "said", "never"), [
    ("朱丽", "王华", "办理业务时预留"),  # referred prospect: the referrer, not "your business with us"
    ("李四", "商场信用卡推广活动", "办理业务时预留"),
    ("张三", "工资由我行代发", "朋友"),
    ("陈刚", "永利集团", "朋友"),
    ("王华", "您是星海银行的客户", "推荐给我们"),
])
def test_trust_answer_states_where_the_number_came_from(demo, client, said, never):
    profiles, catalogue = demo
    ctx = _context(next(p for p in profiles if p.name == client), catalogue)
    for seed in range(6):
        text = guidance.handle_objection("objection_trust", ctx, CallState(), random.Random(seed)).script.text
        # Verification by the number on the card, never one the caller reads out (issue 19).
        assert said in text and "卡背面" in text and HOTLINE not in text and never not in text


def test_a_prospect_never_gets_relationship_openings_even_after_asking_many_times(demo):
    profiles, catalogue = demo
    for name in ("朱丽", "李四", "赵敏", "刘洋"):
        ctx, state = _context(next(p for p in profiles if p.name == name), catalogue), CallState()
        ctx = Context(ctx.bank, ctx.hotline, ctx.agent_name, NOW, ctx.profile, catalogue)
        for _ in range(20):  # past the end of the list: the restart keeps the rule
            reply = guidance.opening(ctx, state)
            state = state.apply(reply)
            assert reply.opening_style not in guidance.RELATIONSHIP_STYLES, name
        # Asked for by name: refused with the reason, another style given.
        reply = guidance.opening(ctx, CallState(), requested_style="borrow_wind")
        assert reply.opening_style != "borrow_wind" and any("不能这样说" in n for n in reply.script.notes)


def test_a_style_asked_for_by_name_is_given(demo):
    profiles, catalogue = demo
    ctx = Context("星海银行", HOTLINE, "李明", NOW, next(p for p in profiles if p.name == "王华"), catalogue)
    assert guidance.style_named("用他人引荐的方式开场") == "referral"
    assert guidance.style_named("巧借東風的開場白") == "borrow_wind"
    assert guidance.style_named("换个开场白") is None
    reply = guidance.opening(ctx, CallState(), requested_style=guidance.style_named("来个巧借东风的开场白"))
    assert reply.opening_style == "borrow_wind" and "巧借东风" in reply.script.notes[0]


def test_wealth_products_only_within_the_clients_risk_tolerance(demo):
    profiles, catalogue = demo
    by_name = {p.name: p for p in profiles}
    wealth = [p for p in catalogue if p.is_wealth]
    zhang = _context(by_name["张三"], catalogue)  # C2
    assert {p.code for p in wealth if guidance.usable(zhang, p)} == {"STEADY_WEALTH", "POCKET_WEALTH"}
    zhu = _context(by_name["朱丽"], catalogue)  # never assessed
    assert not any(guidance.usable(zhu, p) for p in wealth)
    # Asked to pitch 稳享理财 for 朱丽: refused with the reason and the next step, another product instead.
    reply = guidance.pitch(zhu, CallState(), "稳享理财")
    assert reply.product is not None and not reply.product.is_wealth
    assert any("风险测评" in note for note in reply.script.notes)
    # The no-money answer names no product at all (issue 19), so never one the client may not buy.
    for seed in range(5):
        text = guidance.handle_objection("objection_no_money", zhu, CallState(), random.Random(seed)).script.text
        assert not any(p.name in text for p in catalogue)
    assert all(suitable(by_name["王华"], p) for p in wealth)  # C4: up to R4


def test_the_last_call_shapes_the_opening(demo, session):
    profiles, catalogue = demo
    zhang = next(p for p in profiles if p.name == "张三")
    last = guidance.LastCall(datetime(2026, 11, 20, 15, 0), "interested", ("objection_think_it_over",),
                             ("LARGE_CD",), "direct")
    ctx = Context("星海银行", HOTLINE, "李明", NOW, zhang, catalogue, last_call=last)
    reply = guidance.opening(ctx, CallState())
    assert reply.product.code == "LARGE_CD"
    assert any("11月20日" in n and "大额存单" in n for n in reply.script.notes)
    refused = guidance.LastCall(datetime(2026, 11, 20, 15, 0), "refused", ("objection_not_interested",), (),
                                reply.opening_style)
    again = guidance.opening(Context("星海银行", HOTLINE, "李明", NOW, zhang, catalogue, last_call=refused),
                             CallState())
    assert again.opening_style != reply.opening_style  # not the style that was refused
    # An agreed callback: "您上次说正在忙" with the recording notice first.
    callback = guidance.opening(_context(zhang, catalogue), CallState(), random.Random(3))
    assert callback.opening_style == "callback"
    assert "您上次说正在忙" in callback.script.text and playbook().recording_notice in callback.script.text


def test_seed_follow_up_after_self_intro_goes_straight_to_the_product(demo):
    profiles, catalogue = demo
    ctx = Context("星海银行", HOTLINE, "李明", NOW, next(p for p in profiles if p.name == "赵敏"), catalogue)
    state = CallState().apply(guidance.opening(ctx, CallState(), requested_style="self_intro"))
    assert state.opening_style == "self_intro"
    reply = guidance.handle_objection("customer_asks_purpose", ctx, state, random.Random(1))
    assert reply.script.technique == "直接介绍产品" and reply.product.name in reply.script.text
    # Later in the call the same question gets the general answer (who we are, why we call).
    later = state.apply(guidance.pitch(ctx, state))
    assert guidance.handle_objection("customer_asks_purpose", ctx, later).script.technique != "直接介绍产品"


def test_an_expired_risk_assessment_allows_no_wealth_product(demo, frozen_clock):
    profiles, catalogue = demo
    zhang = next(p for p in profiles if p.name == "张三")  # C2, assessed 2026-03-12
    steady = next(p for p in catalogue if p.code == "STEADY_WEALTH")
    assert suitable(zhang, steady)
    frozen_clock(datetime(2027, 3, 13, 10, 0))  # a year and a day later
    assert not suitable(zhang, steady)
    assert "重新做风险测评" in guidance.pitch(_context(zhang, catalogue), CallState(), "稳享理财").script.notes[0]
