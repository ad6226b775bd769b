"""Call guidance on real CRM profiles: openings, pitches, objections, compliance."""

from __future__ import annotations

import random
import re
import string
from datetime import datetime

import pytest
from sqlalchemy import select

from bot import guidance
from bot.guidance import PHASES, CallState, Context, ProductInfo, Profile
from bot.models import Client
from bot.playbook import OPENING_STYLES, find_forbidden, playbook

# Suitability reads the clock (a risk assessment is valid for a year): tests run at a fixed date.
pytestmark = pytest.mark.usefixtures("frozen_clock")

NOW = datetime(2026, 11, 23, 10, 0)


@pytest.fixture()
def make_context(session):
    catalogue = tuple(ProductInfo.from_row(p) for p in __import__("bot.crm", fromlist=["x"]).catalogue(session))

    def make(name: str | None) -> Context:
        profile = None
        if name:
            client = session.scalars(select(Client).where(Client.name == name)).one()
            profile = Profile.from_row(client)
        return Context("星海银行", "400-000-9595", "李明", NOW, profile, catalogue)

    return make


@pytest.mark.parametrize(
    ("client", "style", "must_mention"),
    [
        ("朱丽", "referral", "王华"),  # referred by 王华 -> 他人引荐 naming the referrer
        ("王华", "borrow_wind", None),  # loyal client -> 巧借东风 (thanks)
        ("赵敏", "direct", None),  # unknown first call -> 直截了当
        ("陈刚", "familiar", None),  # existing corporate customer
    ],
)
def test_opening_fits_the_profile(make_context, client, style, must_mention):
    script = guidance.opening(make_context(client), CallState(), random.Random(1)).script
    assert script.key == style
    assert script.why  # one line explaining the choice
    if must_mention:
        assert must_mention in script.text


def test_opening_uses_title_agent_bank(make_context):
    script = guidance.opening(make_context("张三"), CallState(), random.Random(1)).script
    assert "张先生" in script.text and "李明" in script.text and "星海银行" in script.text


@pytest.mark.parametrize(("client", "never"), [
    # Banks with us, but nobody referred him; the opening pitches 代发工资, which no worry or herd line fits.
    ("王华", {"referral", "worry", "herd"}),
    ("朱丽", {"familiar", "borrow_wind", "find_fault"}),  # referred prospect: no relationship styles
])
def test_asking_again_gives_the_next_style_until_all_that_fit(make_context, client, never):
    """Every style that is true for the client and fits the product, then the list starts over; the others never."""
    ctx, state, seen = make_context(client), CallState(), []
    product = guidance.default_product(ctx, CallState())
    ranked = [style for style, _why in guidance.rank_openings(ctx.profile, product)]
    for _ in ranked:
        reply = guidance.opening(ctx, state)
        state = state.apply(reply)
        seen.append(reply.script.key)
    assert sorted(seen) == sorted(ranked)
    assert set(OPENING_STYLES) - set(seen) == never
    again = guidance.opening(ctx, state)
    assert again.script.key == seen[0] and again.script.notes  # starts over, and says so
    assert state.apply(again).opening_styles == (seen[0],)


def test_every_opening_template_passes_the_30_second_rule():
    """Who I am and which bank, why I call, what it does for the client."""
    for style in playbook().openings.values():
        for template in style.templates:
            fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
            assert {"agent", "bank"} <= fields, (style.key, template)
            assert fields & {"product", "advantage"}, (style.key, template)


def test_pitch_gives_selling_points_in_order_one_at_a_time(make_context):
    ctx, state = make_context("李四"), CallState()
    seen = []
    for _ in range(3):
        reply = guidance.pitch(ctx, state, "白金信用卡")
        state = state.apply(reply)
        seen.append(reply.script.text)
    product = ctx.product("白金信用卡")
    for index, (text, point) in enumerate(zip(seen, product.selling_points, strict=True)):
        assert point in text and f"{index + 1}/3" in text
    done = guidance.pitch(ctx, state, "白金信用卡")
    assert done.used_point is None and "都已讲过" in done.script.text


def test_wealth_pitch_carries_risk_level_and_disclosure(make_context):
    reply = guidance.pitch(make_context("张三"), CallState(), "稳享理财")
    notes = " ".join(reply.script.notes)
    assert "R2" in notes and "理财非存款、产品有风险、投资须谨慎" in notes


def test_high_card_spend_gets_platinum_card_first(make_context):
    # seed 004: 李四 earns little but spends 700k a year on cards
    recommended = guidance.recommend_products(make_context("李四").profile, make_context("李四").catalogue)
    assert recommended[0][0].code == "PLATINUM_CARD"
    # 张三 earns well but hardly uses cards: start with deposits and wealth
    zhang = guidance.recommend_products(make_context("张三").profile, make_context("张三").catalogue)
    assert zhang[0][0].code in {"LARGE_CD", "STEADY_WEALTH"}


def test_not_interested_gives_a_new_point_each_time_then_closes(make_context):
    ctx, state = make_context("张三"), CallState()
    points = []
    for _ in range(2):
        reply = guidance.handle_objection("objection_not_interested", ctx, state)
        assert not reply.closed
        points.append(reply.used_point)
        state = state.apply(reply)
    assert len(set(points)) == 2 and state.refusals == 2
    final = guidance.handle_objection("objection_not_interested", ctx, state)
    assert final.closed and final.script.key == "closing"


def test_busy_books_a_callback_in_about_an_hour(make_context):
    reply = guidance.handle_objection("objection_busy", make_context("张三"), CallState())
    assert reply.follow_up_at is not None
    assert 55 <= (reply.follow_up_at - NOW).total_seconds() / 60 <= 75
    assert "11:00" in reply.script.text


@pytest.mark.parametrize("seed", range(6))
def test_trust_answer_sends_the_customer_to_the_card_or_the_website_not_to_a_number_we_read_out(make_context, seed):
    """Reading out a number for the customer to call back is what fraud calls do: every trust answer
    points to the number on the back of the card or on the bank's official website, and says the
    bank never asks for passwords or codes."""
    reply = guidance.handle_objection("objection_trust", make_context("张三"), CallState(), rng=random.Random(seed))
    text = reply.script.text
    assert "卡背面" in text and ("官网" in text or "官方网站" in text)
    assert "400-000-9595" not in text and not re.search(r"\d{3}-\d{3}-\d{4}|\d{5,}", text)
    assert "密码" in text and "验证码" in text


def test_risk_answer_for_wealth_names_the_level(make_context):
    state = CallState(products_pitched=["STEADY_WEALTH"])
    reply = guidance.handle_objection("objection_risk", make_context("张三"), state)
    assert "R2" in reply.script.text and "投资须谨慎" in reply.script.text


def test_no_money_sells_nothing_and_books_a_callback(make_context):
    """Issue 19: no alternatives, no product named; a polite close and a callback at a booked time."""
    ctx = make_context("李四")
    reply = guidance.handle_objection("objection_no_money", ctx, CallState())
    assert not any(p.name in reply.script.text for p in ctx.catalogue) and reply.product is None
    assert reply.follow_up_at is not None and "问候" in reply.script.text


def test_replies_vary_so_the_bot_does_not_repeat_itself(make_context):
    ctx = make_context("张三")
    first = guidance.handle_objection("objection_busy", ctx, CallState(), random.Random(0))
    for seed in range(10):
        again = guidance.handle_objection("objection_busy", ctx, CallState(last_line=first.script.text),
                                          random.Random(seed))
        assert again.script.text != first.script.text


def test_no_playbook_line_makes_a_forbidden_promise():
    pb = playbook()
    for line in pb.all_lines():
        assert not find_forbidden(line), line
    for promise in ("保本", "保收益", "稳赚", "零风险"):
        assert promise in pb.forbidden_phrases


@pytest.mark.parametrize("client", ["张三", "李四", "朱丽", "王华", "赵敏", "陈刚", "刘洋", None])
def test_no_generated_line_makes_a_forbidden_promise(make_context, client):
    ctx = make_context(client)
    for seed in range(5):
        rng = random.Random(seed)
        state = CallState()
        lines = []
        for _ in range(9):
            reply = guidance.opening(ctx, state, rng)
            state = state.apply(reply)
            lines.append(reply.script.readable)
        for intent in pb_objections():
            lines.append(guidance.handle_objection(intent, ctx, CallState(), rng).script.readable)
        for product in ctx.catalogue:
            lines.append(guidance.pitch(ctx, CallState(), product.code).script.readable)
        lines.append(guidance.interested(ctx, CallState(), rng).script.readable)
        for phase in PHASES:
            lines.append(guidance.agrees(ctx, CallState(phase=phase), rng).script.readable)
        lines.append(guidance.do_not_call(ctx, CallState(), rng).script.readable)
        for line in lines:
            assert not find_forbidden(line), line
            assert "{" not in line and "}" not in line, line


def pb_objections():
    return list(playbook().objections)


# ---- the call's phase decides what the customer's "OK" means -----------------------------

def test_ok_after_the_opening_gives_the_next_selling_point(make_context):
    ctx = make_context("张三")
    state = CallState().apply(guidance.opening(ctx, CallState(), random.Random(1)))
    assert state.phase == "opening"
    reply = guidance.agrees(ctx, state)
    assert reply.script.key == "pitch" and reply.phase == "pitching"
    assert reply.used_point not in state.used_points  # not the point the opening already used


def test_ok_after_a_selling_point_is_a_buying_signal(make_context):
    ctx = make_context("李四")
    state = CallState().apply(guidance.pitch(ctx, CallState(), "白金信用卡"))
    reply = guidance.agrees(ctx, state)
    assert reply.script.key == "customer_interested" and reply.phase == "closing"
    assert reply.product.code == "PLATINUM_CARD"  # the same product, not the next in the rotation


def test_ok_after_the_closing_question_confirms_the_deal_for_that_product(make_context):
    ctx = make_context("李四")
    state = CallState()
    for reply in (guidance.pitch(ctx, state, "白金信用卡"),):
        state = state.apply(reply)
    state = state.apply(guidance.interested(ctx, state))
    reply = guidance.agrees(ctx, state)
    assert reply.confirm_deal and reply.product.code == "PLATINUM_CARD" and reply.phase == "ended"
    assert "白金信用卡" in reply.script.text


def test_ok_after_a_proposed_callback_ends_the_call(make_context):
    ctx = make_context("张三")
    state = CallState().apply(guidance.handle_objection("objection_busy", ctx, CallState()))
    reply = guidance.agrees(ctx, state)
    assert reply.script.key == "callback_agreed" and reply.phase == "ended" and not reply.confirm_deal


def test_do_not_call_apologises_and_ends_without_selling(make_context):
    ctx = make_context("赵敏")
    reply = guidance.do_not_call(ctx, CallState())
    assert reply.phase == "ended" and reply.objection == "objection_do_not_call"
    assert reply.used_point is None and reply.product is None
    assert any(word in reply.script.text for word in ("抱歉", "打扰"))
    assert not any(p.name in reply.script.text for p in ctx.catalogue)


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (datetime(2026, 11, 23, 7, 0), datetime(2026, 11, 23, 9, 30)),  # before office hours
        (datetime(2026, 11, 23, 12, 0), datetime(2026, 11, 23, 13, 0)),  # in an hour
        (datetime(2026, 11, 23, 23, 30), datetime(2026, 11, 24, 9, 30)),  # night: next morning
    ],
)
def test_busy_callback_at_any_hour(now, due):
    assert guidance.callback_due("objection_busy", now) == due


def test_a_decision_after_a_selling_point_is_the_deal(make_context):
    ctx = make_context("朱丽")
    state = CallState().apply(guidance.pitch(ctx, CallState(), "白金信用卡"))
    assert not guidance.agrees(ctx, state, said="客户说嗯嗯可以").confirm_deal  # only a buying signal
    deal = guidance.agrees(ctx, state, said="客户说行，辦吧")
    assert deal.confirm_deal and deal.product.code == "PLATINUM_CARD"
    assert not guidance.agrees(ctx, CallState(), said="客户说行，办吧").confirm_deal  # nothing pitched yet


def test_ok_after_a_referral_doubt_answer_continues_the_pitch(make_context):
    ctx = make_context("朱丽")
    state = CallState().apply(guidance.handle_objection("objection_referral_doubt", ctx, CallState()))
    assert "心急" in guidance.handle_objection("objection_referral_doubt", ctx, CallState()).script.text
    assert guidance.agrees(ctx, state, said="客户说那你说说").script.key == "pitch"


def test_objection_flags_and_placeholders_come_from_the_playbook():
    pb = playbook()
    assert set(pb.callback_objections) == {"objection_busy", "objection_think_it_over", "objection_send_materials",
                                           "objection_no_money"}  # no money: a call a month on (issue 19)
    assert pb.do_not_call == "objection_do_not_call"
    assert pb.refusals <= set(pb.objections) and pb.buying_signal_after <= pb.point_objections
    # Every placeholder a template uses is declared once, with its default, in placeholders.yml.
    for technique in [*pb.openings.values(), *pb.objections.values(), pb.closing, pb.interested]:
        for template in technique.templates:
            fields = {f for _lit, f, _spec, _conv in string.Formatter().parse(template) if f}
            assert fields <= set(pb.placeholders), template


def test_a_closing_line_promises_no_call_it_does_not_book(make_context):
    """"过一两个月我再给您打个电话" with nothing booked is a promise not kept (issue 19): a closing
    line, which books nothing, promises no later call."""
    ctx = make_context("张三")
    state = CallState(refusals=2)
    for seed in range(8):
        reply = guidance.handle_objection("objection_not_interested", ctx, state, random.Random(seed))
        assert reply.follow_up_at is None
        promise = re.search(r"再(给您)?打|再跟您(联系|问候)|回电|下个月|过段时间", reply.script.text)
        assert promise is None, reply.script.text
