"""Openings that fit the product and the client, and relationship lines that are true (issue 19).

Every opening style, for every demo client and every product the opening could pitch, rendered as the
agent reads it: the style fits the product's category (no inflation worry for a corporate account, no
identity theft before a certificate of deposit, no 急用钱 towards a credit card, no herd claims about
other customers), no trade line without a known occupation, no invented referrer opinion, nothing a
tele-sales team cannot truthfully say about the account, no familiar health or personal line to
corporate contacts and executives. The playbook refuses such lines as a class when it loads.
"""

from __future__ import annotations

import random
import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from test_facts import demo  # noqa: F401 - the fixture

import bot.playbook
from bot import guidance
from bot.guidance import CallState, Context, Profile
from bot.models import CATEGORIES
from bot.playbook import OPENING_STYLES, OpeningLine, PlaybookError, load_playbook, playbook
from bot.profile import check_opening_lines, opening_lines, rank_openings

NOW = datetime(2026, 11, 23, 10, 0)
OPENINGS = Path(bot.playbook.__file__).resolve().parent / "openings.yml"

# The oracle, written apart from the playbook's own checks.
TRADE = re.compile("(?<!银)行业|同行|您这一?行|干这行")  # not 银行业务
NO_JOB = re.compile("未知|无固定|无业|待业|退休|离休|学生|在校")
OPINION = "觉得|认为|说|讲|推荐您|想到您|提起|提到|夸|建议"
UNTRUE_SERVICE = re.compile("一直是我们|一直由我们|一直在服务|一直为您服务|团队在服务|专门负责您的账户|您的专属")
# Claims about what other customers do or think: the CRM records none of it.
OTHERS_CLAIMS = re.compile("都在用|都办了|口碑|跟我们反馈|用了[^，。]*以后|很多上班族和企业主|"
                           "客户[^，。！？]{0,6}(都|觉得|看重|问起)")
PERSONAL = re.compile("注意身体|保重|身体|好呀|老朋友|咱们|聊聊天|家里人")
FORMAL_TITLES = re.compile("总监|总经理|董事|总裁|处长|局长|厅长|主任|经理|行长")
# What a line speaks of limits the products it may lead into.
TOPICS = [
    (re.compile("物价|通胀|购买力|活期|闲置|没打理"), {"wealth", "deposit"}),
    (re.compile("盗刷|信息泄露"), {"card", "channel"}),  # not "我不会问您密码和验证码", a safety assurance
    (re.compile("急用钱|周转|开支"), {"loan"}),
]


def _context(profile: Profile | None, catalogue) -> Context:
    return Context("星海银行", "400-000-9595", "李明", NOW, profile, catalogue)


def _formal(profile: Profile) -> bool:
    return bool({"corporate_contact", "business_owner", "civil_servant"} & set(profile.segments)
                or FORMAL_TITLES.search(profile.occupation or ""))


def _problems(profile: Profile, product, style: str, text: str) -> list[str]:
    """What is wrong with ``text``, an opening of ``style`` for ``product`` said to ``profile``."""
    said = text
    for fact in product.selling_points:  # the product's own facts are not the line's claims
        said = said.replace(fact, "")
    found = []
    if TRADE.search(said) and not (profile.occupation and not NO_JOB.search(profile.occupation)):
        found.append("trade line without a known occupation")
    if profile.referrer and re.search(f"{profile.referrer}[^，。！？；]*({OPINION})", said):
        found.append("the referrer's opinion, which the CRM does not record")
    if UNTRUE_SERVICE.search(said):
        found.append("a service relationship a tele-sales team cannot claim")
    if OTHERS_CLAIMS.search(said):
        found.append("a claim about other customers")
    if _formal(profile) and PERSONAL.search(said):
        found.append("a familiar personal line to a client addressed formally")
    for topic, categories in TOPICS:
        if topic.search(said) and product.category not in categories:
            found.append(f"topic {topic.pattern} before a {product.category} product")
    return [f"{profile.name} {style} {product.code}: {p}: {text}" for p in found]


def test_every_opening_for_every_client_and_product_fits(demo):  # noqa: F811 - the fixture
    profiles, catalogue = demo
    problems, checked = [], 0
    for profile in profiles:
        ctx = _context(profile, catalogue)
        for product in (p for p in catalogue if guidance.usable(ctx, p)):
            ranked = rank_openings(profile, product)
            assert "direct" in dict(ranked), (profile.name, product.code)  # always an opening
            for style, _why in ranked:
                lines = opening_lines(style, profile, product)
                assert lines, (profile.name, style, product.code)
                for line in lines:
                    assert product.category in line.fits, (style, product.code, line.text)
                    checked += 1
                    problems += _problems(profile, product, style, guidance.render(line.text, ctx, product))
    assert checked > 300
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize("name", ["张三", "李四", "朱丽", "王华", "赵敏", "陈刚", "刘洋", "孙丽"])
def test_the_opening_given_fits_the_product_it_pitches(demo, name):  # noqa: F811 - the fixture
    """Asking again and again, past the end of the list: every style given fits the product pitched."""
    profiles, catalogue = demo
    profile = next(p for p in profiles if p.name == name)
    ctx = _context(profile, catalogue)
    for seed in range(3):
        state, rng = CallState(), random.Random(seed)
        for _ in range(len(OPENING_STYLES) + 2):
            reply = guidance.opening(ctx, state, rng)
            state = state.apply(reply)
            assert reply.opening_style in dict(rank_openings(profile, reply.product)), reply.opening_style
            assert not _problems(profile, reply.product, reply.opening_style, reply.script.text)


def test_the_reviewers_cases(demo):  # noqa: F811 - the fixture
    profiles, catalogue = demo
    by_name = {p.name: p for p in profiles}
    product = {p.code: p for p in catalogue}
    chen, zhang, li, sun, zhu = (by_name[n] for n in ("陈刚", "张三", "李四", "孙丽", "朱丽"))
    # No worry and no herd line for a corporate settlement account.
    assert not {"worry", "herd"} & set(dict(rank_openings(chen, product["CORP_ACCOUNT"])))
    # No identity theft before a certificate of deposit; no 急用钱 towards a card.
    assert not any("盗刷" in line.text for line in opening_lines("worry", zhang, product["LARGE_CD"]))
    assert not any("急用钱" in line.text for line in opening_lines("worry", li, product["PLATINUM_CARD"]))
    # A retiree hears no trade line; the referral names the referrer and nothing he thinks.
    assert not any("行业" in line.text for line in opening_lines("peer_reference", sun, product["TIME_DEPOSIT"]))
    ctx = _context(zhu, catalogue)
    for seed in range(6):
        text = guidance.opening(ctx, CallState(), random.Random(seed)).script.text
        assert "王华介绍" in text or "是王华" in text, text
        assert not re.search(f"王华[^，。！？]*({OPINION})", text), text
    # The group CFO: addressed as 陈先生, no health line, no "your account has always been ours".
    ctx = _context(chen, catalogue)
    for seed in range(6):
        reply = guidance.opening(ctx, CallState(), random.Random(seed), requested_style="familiar")
        assert reply.opening_style == "familiar" and "陈先生" in reply.script.text
        assert not PERSONAL.search(reply.script.text) and not UNTRUE_SERVICE.search(reply.script.text)


def test_a_style_asked_for_that_does_not_fit_the_product_is_refused_with_the_reason(demo):  # noqa: F811
    profiles, catalogue = demo
    chen = next(p for p in profiles if p.name == "陈刚")
    reply = guidance.opening(_context(chen, catalogue), CallState(), requested_style="worry")
    assert reply.product.code == "CORP_ACCOUNT" and reply.opening_style != "worry"
    note = next(n for n in reply.script.notes if "制造忧虑" in n)
    assert "不成立" in note and "对公结算账户" in note and "比如" not in note  # the reason, not an example
    # Not true for the client (a retiree): the client's reason, whatever the product.
    sun = next(p for p in profiles if p.name == "孙丽")
    reply = guidance.opening(_context(sun, catalogue), CallState(), requested_style="herd")
    note = next(n for n in reply.script.notes if "从众心理" in n)
    assert reply.opening_style != "herd" and "退休" in note and reply.product.name not in note


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_category_has_an_opening_for_a_client_nobody_knows(category):
    class Product:  # only the category matters to the fit
        pass

    product = Product()
    product.category = category
    styles = dict(rank_openings(None, product))
    assert "direct" in styles and all(opening_lines(s, None, product) for s in styles)


# ---- the playbook refuses these lines as a class when it loads -------------------------------------

def _style(raw: dict, key: str) -> dict:
    return next(s for s in raw["styles"] if s["id"] == key)


def _add(key: str, text: str, **spec):
    def change(raw: dict) -> None:
        _style(raw, key)["templates"].append({"text": text, **spec} if spec else text)
    return change


START = "{title}好，我是{bank}的{agent}。{recording}"


@pytest.mark.parametrize(("change", "reason"), [
    (_add("referral", START + "是{referrer}介绍的，{referrer}觉得{product}挺适合您：{advantage}。方便吗？"), "引荐人"),
    (_add("referral", START + "{referrer}跟我说您可能需要{product}：{advantage}。方便吗？"), "引荐人"),
    (_add("familiar", START + "您的账户一直是我们团队在服务。{product}，{advantage}。方便吗？"), "一直"),
    (_add("familiar", START + "工作再忙也要注意身体呀。{product}，{advantage}。方便吗？"), "formal_address"),
    (_add("peer_reference", START + "和您行业相近的客户在问{product}：{advantage}。方便吗？"), "has_occupation"),
    (_add("herd", START + "很多上班族和企业主都在用{product}，主要是看中{advantage}。方便吗？"), "其他客户"),
    (_add("worry", START + "盗刷时有发生。{product}：{advantage}。方便吗？", fits=["deposit"]), "deposit"),
    (_add("worry", START + "物价在涨。{product}：{advantage}。方便吗？", fits=["corporate"]), "corporate"),
    (_add("worry", START + "急用钱的时候。{product}：{advantage}。方便吗？", fits=["card"]), "card"),
    (lambda raw: _style(raw, "direct").pop("fits"), "fits"),
    (lambda raw: _style(raw, "herd").pop("unfit"), "unfit"),
])
def test_the_playbook_refuses_untrue_or_unfit_openings_when_it_loads(tmp_path, monkeypatch, change, reason):
    broken = tmp_path / "playbook"
    shutil.copytree(OPENINGS.parent, broken, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    raw = yaml.safe_load(OPENINGS.read_text(encoding="utf-8"))
    change(raw)
    (broken / "openings.yml").write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    monkeypatch.setattr(bot.playbook, "HERE", broken)
    with pytest.raises(PlaybookError, match=reason):
        load_playbook()


def test_the_shipped_openings_load_and_declare_their_fit():
    lines = playbook().opening_lines
    assert set(lines) == set(OPENING_STYLES)
    for style, style_lines in lines.items():
        assert style_lines and all(line.fits and line.fits <= set(CATEGORIES) for line in style_lines), style
    # Templates and lines are the same texts, in the same order.
    assert all(tuple(line.text for line in lines[s]) == playbook().openings[s].templates for s in lines)


@pytest.mark.parametrize(("line", "reason"), [
    (OpeningLine("x", frozenset({"insurance"})), "insurance"),
    (OpeningLine("x", frozenset({"card"}), needs=("no_such_condition",)), "no_such_condition"),
    (OpeningLine("x", frozenset({"card"}), unless=("no_such_either",)), "no_such_either"),
])
def test_an_opening_line_naming_an_unknown_category_or_condition_fails_at_start_up(line, reason):
    with pytest.raises(PlaybookError, match=reason):
        check_opening_lines({"direct": (line,)})
