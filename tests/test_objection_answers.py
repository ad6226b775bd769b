"""Objection answers that are right for the product and the client (issue 19): no money closes politely
and books a callback, the price answer speaks of the product discussed, a wrong number confirms
identity before anything else, the risk notice comes before the question with the client's own
level, clients aged 65 or more get extra care on wealth products, card and loan facts carry their
conditions. Every demo client, on the real SQLite CRM and the frozen clock."""

from __future__ import annotations

import random
import shutil
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
import yaml
from sqlalchemy import select

import bot.playbook
from bot import crm, guidance
from bot.contact_policy import in_calling_hours
from bot.demo_data import DemoDataError, _validate, read_demo_data
from bot.guidance import CallState, Context, ProductInfo, Profile
from bot.models import Client
from bot.playbook import PlaybookError, load_playbook, overstated_fact, playbook
from bot.timeparse import describe
from tests.actions_helper import Conversation

NOW = datetime(2026, 11, 23, 10, 0)
SEEDS = range(6)
DEMO_CLIENTS = ("张三", "李四", "朱丽", "王华", "赵敏", "陈刚", "刘洋", "孙丽")


@pytest.fixture()
def demo(session):
    catalogue = tuple(ProductInfo.from_row(p) for p in crm.catalogue(session))
    profiles = {c.name: Profile.from_row(c) for c in session.scalars(select(Client).order_by(Client.id)).unique()}
    assert set(DEMO_CLIENTS) <= set(profiles)
    return profiles, catalogue


def _ctx(profile: Profile | None, catalogue, now: datetime = NOW) -> Context:
    return Context("星海银行", "400-000-9595", "李明", now, profile, catalogue)


def _named(text: str, catalogue) -> set[str]:
    """The catalogue products ``text`` names, by name or by one of their selling points."""
    return {p.name for p in catalogue if p.name in text or any(point in text for point in p.selling_points)}


def _states(ctx: Context) -> list[CallState]:
    """A fresh call, and calls in which each product the client may hear of has been pitched."""
    states = [CallState()]
    for product in ctx.catalogue:
        if guidance.usable(ctx, product):
            states.append(CallState(products_pitched=(product.code,), current_product=product.code,
                                    used_points=(f"{product.code}:0",), phase="pitching"))
    return states


def _before_last_question(text: str, *parts: str) -> bool:
    last = max(text.rfind("？"), text.rfind("?"))
    return last > 0 and all(0 <= text.find(part) < last for part in parts)


# ---- 1. No money: respect it, sell nothing, book a callback ---------------------------------------

@pytest.mark.parametrize("name", DEMO_CLIENTS)
def test_no_money_names_no_product_and_books_a_callback_inside_calling_hours(demo, name):
    profiles, catalogue = demo
    ctx = _ctx(profiles[name], catalogue)
    for state in _states(ctx):
        for seed in SEEDS:
            reply = guidance.handle_objection("objection_no_money", ctx, state, random.Random(seed))
            text = reply.script.text
            assert _named(text, catalogue) == set(), (name, text)
            assert not any(_named(note, catalogue) for note in reply.script.notes), reply.script.notes
            assert reply.used_point is None and reply.product is None and reply.script.key == "objection_no_money"
            # A callback a month on, inside the calling hours, and the line names that time.
            assert reply.follow_up_at is not None and in_calling_hours(reply.follow_up_at)
            assert reply.follow_up_at - NOW >= timedelta(days=28)
            assert describe(reply.follow_up_at, NOW) in text and "问候" in text
            assert text.rstrip().endswith("？")


def test_no_money_late_in_the_day_and_on_the_third_no_still_books_a_callback_inside_hours(demo):
    profiles, catalogue = demo
    late = _ctx(profiles["李四"], catalogue, now=datetime(2026, 11, 23, 20, 45))
    reply = guidance.handle_objection("objection_no_money", late, CallState(refusals=2), random.Random(1))
    assert reply.follow_up_at is not None and in_calling_hours(reply.follow_up_at)
    assert reply.script.key == "objection_no_money" and describe(reply.follow_up_at, late.now) in reply.script.text


def test_yes_to_the_no_money_callback_ends_the_call_without_a_pitch(demo):
    profiles, catalogue = demo
    ctx = _ctx(profiles["李四"], catalogue)
    state = CallState().apply(guidance.pitch(ctx, CallState()))
    state = state.apply(guidance.handle_objection("objection_no_money", ctx, state))
    reply = guidance.agrees(ctx, state, said="好的")
    assert reply.script.key == "callback_agreed" and reply.phase == "ended"
    assert _named(reply.script.text, catalogue) == set()


# ---- 2. Price: the product discussed --------------------------------------------------------------

@pytest.mark.parametrize("name", DEMO_CLIENTS)
@pytest.mark.parametrize(("said", "discussed"), [
    ("年费太贵了", "PLATINUM_CARD"),              # offered the card: its fee
    ("客户说年费太贵了", "MOBILE_BANKING"),        # the words name a card's fee, whatever was discussed
    ("年費太貴了", "LARGE_CD"),                    # ... in Traditional
    ("手续费太高了", "PLATINUM_CARD"),
    ("太贵了", "PLATINUM_CARD"),                  # no kind named: the product under discussion
])
def test_price_answer_about_a_card_states_the_cards_fee(demo, name, said, discussed):
    profiles, catalogue = demo
    ctx = _ctx(profiles[name], catalogue)
    card = ctx.product("PLATINUM_CARD")
    channel = ctx.product("MOBILE_BANKING")
    state = CallState(products_pitched=(discussed,), current_product=discussed, phase="pitching")
    for seed in SEEDS:
        reply = guidance.handle_objection("objection_price", ctx, state, random.Random(seed), said=said)
        text = reply.script.text
        assert reply.product.code == "PLATINUM_CARD", (said, text)
        assert card.pricing in text and card.name in text
        assert channel.pricing not in text and channel.name not in text
        # The selling point spent is the card's own, never another product's.
        assert reply.used_point is None or reply.used_point.startswith("PLATINUM_CARD:")


@pytest.mark.parametrize(("name", "said", "discussed", "expected"), [
    ("张三", "利息太低了", "MOBILE_BANKING", "LARGE_CD"),       # a rate: the deposit he can buy
    ("张三", "这收益也太低了吧", "LARGE_CD", "STEADY_WEALTH"),   # a return: a wealth product (C2)
    ("张三", "利率太低", "LARGE_CD", "LARGE_CD"),                 # the deposit discussed has a rate
    ("朱丽", "收益太低了", "MOBILE_BANKING", "MOBILE_BANKING"),  # never assessed: no wealth product
    ("张三", "太贵了", "CONSUMER_LOAN", "CONSUMER_LOAN"),         # the product under discussion
])
def test_price_answer_follows_the_kind_the_customer_names(demo, name, said, discussed, expected):
    profiles, catalogue = demo
    ctx = _ctx(profiles[name], catalogue)
    state = CallState(products_pitched=("LARGE_CD", discussed), current_product=discussed, phase="pitching")
    reply = guidance.handle_objection("objection_price", ctx, state, random.Random(0), said=said)
    product = ctx.product(expected)
    assert reply.product.code == expected
    assert product.pricing in reply.script.text


def test_the_product_under_discussion_wins_over_an_earlier_pitch(demo):
    profiles, catalogue = demo
    ctx = _ctx(profiles["李四"], catalogue)
    # The card, then mobile banking, then back to the card: the card is under discussion.
    state = CallState(products_pitched=("PLATINUM_CARD", "MOBILE_BANKING"), current_product="PLATINUM_CARD",
                      phase="pitching")
    reply = guidance.handle_objection("objection_price", ctx, state, random.Random(0))
    assert reply.product.code == "PLATINUM_CARD" and ctx.product("PLATINUM_CARD").pricing in reply.script.text


async def test_the_action_passes_the_customers_words(crm_url):
    from actions.guidance import ActionHandleObjection, ActionProductPitch
    from actions.lookup import ActionLookupClient

    conversation = Conversation()
    await conversation.run(ActionLookupClient(), "查一下李四", "lookup_client", client_name="李四")
    await conversation.run(ActionProductPitch(), "手机银行怎么介绍", "request_product_pitch", product="手机银行")
    messages = await conversation.run(ActionHandleObjection(), "客户说年费太贵了", "objection_price")
    assert messages[0]["custom"]["key"] == "objection_price"
    assert "首年免年费" in messages[0]["custom"]["text"] and "白金信用卡" in messages[0]["custom"]["text"]


# ---- 3. Wrong number: confirm identity and correct the record first -------------------------------

@pytest.mark.parametrize("name", DEMO_CLIENTS)
def test_wrong_number_confirms_identity_and_names_no_product(demo, name):
    profiles, catalogue = demo
    profile = profiles[name]
    ctx = _ctx(profile, catalogue)
    states = _states(ctx)
    for style in ("find_fault", "familiar", "direct", "self_intro"):
        # Right after an opening whose seed follow-up to "wrong number" was a pitch.
        states.append(CallState(opening_style=style, opening_styles=(style,), phase="opening"))
    for state in states:
        for seed in SEEDS:
            reply = guidance.handle_objection("objection_wrong_number", ctx, state, random.Random(seed))
            text = reply.script.text
            assert _named(text, catalogue) == set(), (name, state.opening_style, text)
            assert reply.product is None and reply.used_point is None and reply.follow_up_at is None
            # "Are you 张三?", or after an opening the seed's follow-up: "is this number yours (本人)?".
            assert profile.name in text or "本人" in text, text
            assert "更正" in text and "哪家" not in text
            # No CRM fact beyond the name the agent asks about.
            for fact in (profile.phone, profile.occupation, profile.company, profile.referrer, profile.note):
                assert not fact or fact not in text, fact
            assert any("空号/错号" in note and profile.name in note for note in reply.script.notes)


async def test_wrong_number_offers_the_invalid_number_button(crm_url):
    from actions.guidance import ActionHandleObjection
    from actions.lookup import ActionLookupClient

    conversation = Conversation()
    await conversation.run(ActionLookupClient(), "查一下张三", "lookup_client", client_name="张三")
    messages = await conversation.run(ActionHandleObjection(), "客户说你打错了", "objection_wrong_number")
    payloads = [b["payload"] for m in messages for b in m.get("buttons", [])]
    assert '/log_outcome{"outcome": "invalid_number"}' in payloads


# ---- 4. The risk notice before the question, with the client's level -----------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_wealth_risk_answer_states_the_c_level_and_r_level_before_the_last_question(demo, seed):
    profiles, catalogue = demo
    zhang = profiles["张三"]  # C2, assessed this year
    ctx = _ctx(zhang, catalogue)
    state = CallState(products_pitched=("STEADY_WEALTH",), current_product="STEADY_WEALTH", phase="pitching")
    text = guidance.handle_objection("objection_risk", ctx, state, random.Random(seed)).script.text
    assert _before_last_question(text, "C2", "R2", playbook().disclosure), text
    assert "是匹配的" in text


@pytest.mark.parametrize("intent", ["objection_price", "objection_not_interested", "objection_hate_sales"])
def test_every_wealth_line_says_the_disclosure_and_the_match_before_its_question(demo, intent):
    profiles, catalogue = demo
    for name in ("张三", "王华"):
        ctx = _ctx(profiles[name], catalogue)
        state = CallState(products_pitched=("STEADY_WEALTH",), current_product="STEADY_WEALTH", phase="pitching")
        for seed in SEEDS:
            reply = guidance.handle_objection(intent, ctx, state, random.Random(seed))
            if reply.product is None or not reply.product.is_wealth:
                continue
            text = reply.script.text
            assert _before_last_question(text, profiles[name].risk_tolerance, reply.product.risk_level,
                                         playbook().disclosure), text
            assert not text.rstrip().endswith(playbook().disclosure + "。")
    pitched = guidance.pitch(_ctx(profiles["张三"], catalogue), CallState(), "稳享理财")
    assert _before_last_question(pitched.script.text, "C2", "R2", playbook().disclosure), pitched.script.text
    assert any("C2" in note and "R2" in note for note in pitched.script.notes)


def test_a_client_without_a_valid_assessment_hears_no_wealth_product(demo):
    profiles, catalogue = demo
    ctx = _ctx(profiles["朱丽"], catalogue)  # never assessed
    reply = guidance.handle_objection("objection_risk", ctx, CallState(), random.Random(0),
                                      requested_product="稳享理财")
    assert not reply.product.is_wealth and "R2" not in reply.script.text
    assert any("风险测评" in note for note in reply.script.notes)


# ---- 5. Clients aged 65 or more: extra care on wealth products ------------------------------------

def test_a_client_aged_65_or_more_gets_the_care_note_on_wealth_products(demo):
    profiles, catalogue = demo
    care = playbook().messages["care_spoken"]
    for age, expected in ((64, False), (65, True), (78, True)):
        ctx = _ctx(replace(profiles["张三"], age=age), catalogue)
        pitched = guidance.pitch(ctx, CallState(), "稳享理财")
        assert pitched.product.code == "STEADY_WEALTH"
        assert (care in pitched.script.text) is expected, (age, pitched.script.text)
        assert any(f"{age}岁" in note and "家人" in note for note in pitched.script.notes) is expected
        if expected:
            assert _before_last_question(pitched.script.text, care)
        state = CallState(products_pitched=("STEADY_WEALTH",), current_product="STEADY_WEALTH", phase="pitching")
        risk = guidance.handle_objection("objection_risk", ctx, state, random.Random(1))
        assert (care in risk.script.text) is expected
        # Not on a product that is no investment.
        deposit = guidance.pitch(ctx, CallState(), "大额存单")
        assert care not in deposit.script.text and not any("家人" in n for n in deposit.script.notes)


# ---- 6. Card and loan facts with their conditions ------------------------------------------------

@pytest.mark.parametrize(("text", "overstated"), [
    ("全球机场贵宾厅免费使用", True),
    ("高额度，最长五十六天免息期", True),
    ("额度高，审批快", True),
    ("机场贵宾厅权益，按权益规则达标后免费使用", False),
    ("最长五十六天免息期，额度以审批结果为准", False),
    ("线上申请，额度和利率以审批为准", False),
    ("手机银行下载和使用免费", False),              # not a card perk
    ("免费代发，到账快", False),
])
def test_card_and_loan_facts_are_judged(text, overstated):
    assert bool(overstated_fact(text)) is overstated


def test_no_catalogue_fact_or_playbook_line_overstates_a_card_or_loan(demo):
    _profiles, catalogue = demo
    facts = [fact for p in catalogue for fact in (*p.selling_points, p.pricing, p.eligibility, p.comparison, p.target)
             if fact]
    lines = facts + playbook().all_lines()
    assert [line for line in lines if overstated_fact(line)] == []


def test_an_overstated_perk_is_refused_when_loading(tmp_path, monkeypatch):
    broken = tmp_path / "playbook"
    shutil.copytree(bot.playbook.HERE, broken, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    raw = yaml.safe_load((broken / "objections.yml").read_text(encoding="utf-8"))
    raw["objections"]["objection_price"]["replies"].append("白金卡全球机场贵宾厅免费使用，{product}您看怎么样？")
    (broken / "objections.yml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(bot.playbook, "HERE", broken)
    with pytest.raises(PlaybookError, match="贵宾厅"):
        load_playbook()


def test_demo_data_with_an_unconditional_limit_is_refused():
    data = read_demo_data()
    card = next(p for p in data["products"] if p["code"] == "PLATINUM_CARD")
    card["advantages"] = ["高额度，最长五十六天免息期", *card["advantages"][1:]]
    with pytest.raises(DemoDataError, match="高额度"):
        _validate(data)
