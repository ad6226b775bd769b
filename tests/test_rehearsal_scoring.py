"""Rehearsal scoring (issue 10, point 3): scripted trainee transcripts with asserted score ranges.

Pure logic: no Rasa, no database.
"""

from __future__ import annotations

import re

import pytest

from bot.guidance.filling import fill_template
from bot.playbook import find_forbidden, playbook
from bot.rehearsal.cues import invented_figures
from bot.rehearsal.model_lines import context, objection_model
from bot.rehearsal.rubric import rubric
from bot.rehearsal.scoring import line_functions, score
from bot.rehearsal.turns import CUSTOMER, TRAINEE, ItemScore, ScoreCard, Turn

WEIGHTS, DNC_FLAG, CAP = rubric().weights, rubric().dnc_flag, rubric().cap

BANK = "星海银行"
PRODUCT = "稳享理财"
# The demo catalogue's selling points of 稳享理财 (R2), bot/data/demo_data.yml.
POINTS = ("业绩比较基准年化百分之二点八到三点二，业绩比较基准不代表实际收益",
          "一百天封闭期，期间不能赎回，适合三个多月用不上的钱", "手机银行随时查看净值")


def T(text: str) -> Turn:  # noqa: N802 - reads like a transcript
    return Turn("trainee", text)


def C(text: str, objection: str | None = None) -> Turn:  # noqa: N802
    return Turn("customer", text, objection)


# A careful, compliant trainee: 30-second opening, one point at a time with a question, the
# busy / risk / price techniques from the playbook, the disclosure, a concrete next step.
CAREFUL = [
    T("张先生您好，我是星海银行的客户经理李明。为了保障您的权益，本次通话会全程录音。今天打电话是想跟您介绍一下我们的"
      "稳享理财，它最大的特点是一百天封闭期，期限短、流动性好。您现在方便听我简单说两句吗？"),
    C("我在开会呢，没空。", "objection_busy"),
    T("不好意思打扰您了！那我一个小时后，也就是下午三点再给您打过来，您看这个时间方便吗？"),
    C("行，三点吧。"),
    T("张先生您好，我是星海银行的李明，您上午说正在开会，我们约好三点再通电话，没耽误您吧？接着上次的话题，"
      "稳享理财的净值在手机银行随时可以查看，心里有数。您听着怎么样？"),
    C("听着还行，但是理财会不会亏啊？", "objection_risk"),
    T("您关心风险是对的。稳享理财的风险等级是R2，属于稳健型，净值会有小幅波动，不能排除亏损的可能。按规定也提醒您："
      "理财非存款、产品有风险、投资须谨慎。购买前需要先做风险测评，确认和您的承受能力匹配才能买。您看还有哪方面想了解？"),
    C("收益才三点几，比别的地方低多了吧。", "objection_price"),
    T("理解您很在意收益，我如实跟您说：稳享理财的业绩比较基准是年化百分之三点二，这只是比较基准，不代表实际收益，"
      "具体以我行公布为准。除了价格，它还有一点：一百天就到期，钱不会压太久。您觉得这样比较是不是更清楚？"),
    C("嗯，那怎么买？"),
    T("办理很简单：您可以在星海银行手机银行里先完成风险测评，再搜索“稳享理财”申请购买；也可以带上身份证到附近网点办理。"
      "您看是今天在手机银行办，还是我约您明天上午在网点见？谢谢您耐心听我介绍！"),
]

# A mediocre trainee: the opening says who and what but not why they call; selling points with no
# question after them; the trust objection answered with reassurance instead of the technique;
# only part of the disclosure; a vague ending.
MEDIOCRE = [
    T("喂，您好，我是星海银行的小王。我们的稳享理财业绩比较基准年化百分之三点二。您有兴趣吗？"),
    C("星海银行？现在骗子这么多，我怎么知道你是真的？", "objection_trust"),
    T("您放心好了，我们是正规银行，怎么会是骗子呢。稳享理财一百天封闭期，期限短，流动性好。"),
    C("那风险大不大？", "objection_risk"),
    T("风险不大的，风险等级是R2，净值会有一点波动，产品有风险。手机银行随时查看净值，很方便。"),
    C("我再考虑考虑吧。", "objection_think_it_over"),
    T("好的，那您考虑一下，有需要再联系我，谢谢。"),
]

# A pushy trainee: promises guaranteed returns, dumps every selling point, keeps selling after the
# customer asks not to be called again, and is rude.
PUSHY = [
    T("喂，我是星海银行的，给你推荐个好东西：稳享理财，保本的，稳赚，业绩比较基准年化百分之三点二高于同期存款，"
      "一百天封闭期流动性好，手机银行随时查看净值，比存款强多了！"),
    C("你们这种电话烦死了，以后别再给我打了！", "objection_do_not_call"),
    T("别急着挂啊，你懂不懂，这个产品稳赚，错过就没了，现在就买点吧。"),
    C("我说了别再打了！"),
    T("那我明天再打给你，到时候你再考虑。"),
]


def card(turns: list[Turn], wealth: bool = True) -> ScoreCard:
    return score(turns, bank=BANK, product_name=PRODUCT, product_is_wealth=wealth, selling_points=POINTS,
                 risk_level="R2" if wealth else None)


def items(result: ScoreCard) -> dict[str, ItemScore]:
    return {item.key: item for item in result.items}


def test_weights_sum_to_100_and_every_item_is_scored():
    assert sum(WEIGHTS.values()) == 100
    result = card(CAREFUL)
    assert [item.key for item in result.items] == list(WEIGHTS)
    assert all(item.max_points == WEIGHTS[item.key] for item in result.items)
    assert result.total == sum(item.points for item in result.items)


def test_careful_compliant_trainee_scores_at_least_80():
    result = card(CAREFUL)
    assert result.total >= 80, result.readable()
    assert result.flags == ()
    by_key = items(result)
    assert by_key["opening"].points == WEIGHTS["opening"]
    assert by_key["objections"].points == WEIGHTS["objections"], by_key["objections"].feedback
    assert by_key["compliance"].points == WEIGHTS["compliance"]
    assert by_key["next_step"].points == WEIGHTS["next_step"]


def test_mediocre_trainee_lands_between_45_and_75():
    result = card(MEDIOCRE)
    assert 45 <= result.total <= 75, result.readable()
    assert result.flags == ()
    by_key = items(result)
    opening = by_key["opening"]
    assert opening.points < opening.max_points and "缺少" in opening.feedback
    questions = by_key["questions"]
    assert questions.points < questions.max_points and "没有问客户感受" in questions.feedback
    objections = by_key["objections"]
    assert "不信任" in objections.feedback and "客服电话" in objections.model_line
    assert "不会向您索要密码和验证码" in objections.model_line
    assert by_key["compliance"].points < WEIGHTS["compliance"]
    assert "理财非存款" in by_key["compliance"].feedback


def test_pushy_trainee_scores_at_most_40_and_is_told_why():
    result = card(PUSHY)
    assert result.total <= 40, result.readable()
    assert "保本" in result.flags and "稳赚" in result.flags
    assert DNC_FLAG in result.flags
    by_key = items(result)
    assert by_key["compliance"].points == 0
    assert "保本" in by_key["compliance"].feedback and "稳赚" in by_key["compliance"].feedback
    assert by_key["objections"].points == 0
    assert by_key["courtesy"].points < WEIGHTS["courtesy"] and "你懂不懂" in by_key["courtesy"].feedback
    assert "一口气" in by_key["questions"].feedback
    assert "说出自己是谁" in by_key["opening"].feedback  # "我是星海银行的" names no one
    text = result.readable()
    assert "保本" in text and "稳赚" in text and f"最高{CAP}分" in text


def test_forbidden_phrase_caps_an_otherwise_perfect_call_at_40():
    turns = list(CAREFUL)
    turns[8] = T(turns[8].text.replace("这只是比较基准，不代表实际收益", "而且是保本的"))
    result = card(turns)
    assert result.flags == ("保本",)
    assert result.total == 40
    assert sum(item.points for item in result.items) > 40


def test_selling_after_do_not_call_is_flagged():
    opening = CAREFUL[0]
    stopped = [opening, C("请不要再给我打这种电话了。", "objection_do_not_call"),
               T("非常抱歉打扰您了！我这就把您的号码登记为不再联系，以后不会再给您打推销电话。祝您生活愉快，再见。")]
    kept_selling = [opening, C("请不要再给我打这种电话了。", "objection_do_not_call"),
                    T("非常抱歉打扰您了，我这就登记，以后不再给您打推销电话。"),
                    C("好。"),
                    T("不过稳享理财真的挺适合您，一百天封闭期，您要不要再考虑一下？")]
    good = card(stopped)
    assert DNC_FLAG not in good.flags
    assert items(good)["objections"].points == WEIGHTS["objections"]
    assert items(good)["next_step"].points == WEIGHTS["next_step"]
    bad = card(kept_selling)
    assert DNC_FLAG in bad.flags
    assert bad.total <= CAP
    objections = items(bad)["objections"]
    assert objections.points == 0 and "第5句" in objections.feedback and "严重违规" in objections.feedback
    assert "登记为不再联系" in objections.model_line


def test_every_miss_has_feedback_and_a_model_line():
    for turns in (CAREFUL, MEDIOCRE, PUSHY):
        for item in card(turns).items:
            assert item.feedback and re.search(r"[\u4e00-\u9fff]", item.feedback)
            if item.points < item.max_points:
                assert item.model_line, item
                assert "{" not in item.model_line and "}" not in item.model_line, item.model_line
                assert not find_forbidden(item.model_line), item.model_line
            else:
                assert item.model_line is None


def test_model_lines_render_the_playbook_with_this_rehearsal_values():
    by_key = items(card(MEDIOCRE))
    assert "星海银行" in by_key["opening"].model_line and "坐席" in by_key["opening"].model_line
    assert POINTS[0] in by_key["opening"].model_line
    assert playbook().recording_notice in by_key["opening"].model_line
    # A wealth product is never presented in a model line without its risk level and the disclosure.
    assert playbook().disclosure in by_key["opening"].model_line and "R2" in by_key["opening"].model_line


def test_same_transcript_gives_the_same_card():
    for turns in (CAREFUL, MEDIOCRE, PUSHY):
        first, second = card(turns), card(list(turns))
        assert first == second
        assert first.readable() == second.readable()


def test_readable_card_is_chinese_and_lists_every_item():
    for turns in (CAREFUL, MEDIOCRE, PUSHY):
        result = card(turns)
        text = result.readable()
        assert f"总分 {result.total} 分" in text
        for item in result.items:
            assert f"{item.title}：{item.points}/{item.max_points}" in text
            assert item.feedback in text
        assert len(re.findall(r"[\u4e00-\u9fff]", text)) > len(re.findall(r"[A-Za-z]", text))


@pytest.mark.parametrize("intent", sorted(rubric().objection_cues))
def test_every_objection_model_line_uses_its_own_technique(intent):
    """The model line shown for a missed objection passes the cue table (cues and playbook agree)."""
    result = card([CAREFUL[0], C("……", intent), T("嗯。")])
    objections = items(result)["objections"]
    assert objections.points == 0
    line = objections.model_line.split("】", 1)[1]
    again = card([CAREFUL[0], C("……", intent), T(line)])
    assert items(again)["objections"].points == WEIGHTS["objections"], (intent, line, items(again)["objections"])


def test_disparaging_another_bank_voids_the_has_provider_answer():
    base = [CAREFUL[0], C("我在别的银行买过理财了。", "objection_has_provider")]
    fair = card(base + [T("那挺好的，我也不是要您换掉原来的银行。我们不一样的地方是一百天封闭期，期限短。"
                          "您可以当作补充，您觉得呢？")])
    unfair = card(base + [T("那家银行不靠谱的，坑人，我们不一样，一百天封闭期，期限短。您觉得呢？")])
    assert items(fair)["objections"].points == WEIGHTS["objections"]
    assert items(unfair)["objections"].points == 0 and "贬低同业" in items(unfair)["objections"].feedback


def test_non_wealth_product_needs_no_disclosure_but_forbidden_phrases_still_count():
    turns = [T("您好，我是星海银行的李明，今天打电话是想给您推荐白金信用卡，亮点是全球机场贵宾厅免费使用。"
               "您听着怎么样？"),
             C("听起来不错。"),
             T("谢谢您！办理方式很简单，在手机银行申请就行，或者带上身份证到网点办理，您看哪种方便？")]
    result = score(turns, bank=BANK, product_name="白金信用卡", product_is_wealth=False,
                   selling_points=("全球机场贵宾厅免费使用",))
    assert items(result)["compliance"].points == WEIGHTS["compliance"]
    assert result.total == 100, result.readable()
    risky = score(turns[:2] + [T("这张卡绝对安全，谢谢您！在手机银行申请就行。")], bank=BANK, product_name="白金信用卡",
                  product_is_wealth=False)
    assert risky.flags == ("绝对安全",) and risky.total <= CAP


def test_unknown_placeholders_render_empty_and_unknown_speakers_are_refused():
    assert fill_template("{title}好，{nobody}我是{bank}", {"title": "您", "bank": BANK}) == "您好，我是星海银行"
    assert fill_template("坏模板{", {}) == "坏模板{"
    with pytest.raises(ValueError, match="speaker"):
        score([Turn("bot", "您好")], bank=BANK, product_name=PRODUCT, product_is_wealth=True)


def test_no_trainee_line_scores_zero_with_model_lines():
    result = card([C("喂？")])
    assert result.total == 0
    assert all(item.model_line for item in result.items)


def test_traditional_chinese_and_full_width_lines_are_read_like_simplified():
    traditional = T("您好，我是星海銀行的李明，今天打電話是想給您介紹穩享理財，它可以在手機銀行隨時查看淨值。"
                    "您聽著怎麼樣？")
    simplified = T("您好，我是星海银行的李明，今天打电话是想给您介绍稳享理财，它可以在手机银行随时查看净值。"
                   "您听着怎么样？")
    assert card([traditional]).items == card([simplified]).items
    assert items(card([traditional]))["opening"].points >= WEIGHTS["opening"] - 5  # who, bank, why, a question


@pytest.mark.parametrize(("objection", "line", "expected"), [
    # a full 30-second opening
    (None, "张先生您好，我是星海银行的客户经理李明，今天打给您是想介绍大额存单，它的好处是利率高于普通定期，"
           "您方便听一分钟吗？", ("identity", "purpose", "benefit", "question")),
    # a forbidden promise is flagged, whatever else the line does
    ("objection_risk", "这个理财保本保收益，稳赚不赔。", ("promise",)),
    # the right technique for "I'm busy": a concrete time to call back
    ("objection_busy", "不好意思打扰了，我下午三点再打给您，可以吗？", ("question", "technique")),
    # a staff-looking line is still only a line to the customer, one that says nothing to them
    ("objection_busy", "查一下张三", ("hollow",)),
])
def test_each_trainee_line_is_classified_by_what_it_does(objection, line, expected):
    turns = [Turn(CUSTOMER, "喂？什么事？", objection), Turn(TRAINEE, line)]
    functions = line_functions(turns, bank="星海银行", product_name="大额存单", product_is_wealth=False,
                               selling_points=("利率高于普通定期",))
    assert functions == [(), expected]


def test_a_wrong_risk_level_loses_the_compliance_points_and_the_model_states_the_right_one():
    line = ("唐处长您好，我是星海银行的客户经理李明，稳享理财的好处是业绩比较基准年化百分之三点二，您听着怎么样？"
            "风险等级R5，理财非存款、产品有风险、投资须谨慎。")
    turns = [Turn(TRAINEE, line)]
    facts = dict(bank="星海银行", product_name="稳享理财", product_is_wealth=True,
                 selling_points=("业绩比较基准年化百分之三点二，高于同期存款",))
    wrong = next(i for i in score(turns, risk_level="R2", **facts).items if i.key == "compliance")
    assert wrong.points == 16 and "R2" in wrong.feedback and "R5" in wrong.feedback
    assert "R2" in wrong.model_line and "R5" not in wrong.model_line
    right = score([Turn(TRAINEE, line.replace("R5", "R2"))], risk_level="R2", **facts)
    assert next(i for i in right.items if i.key == "compliance").points == 20


def test_the_rubric_is_validated_when_it_is_loaded(tmp_path):
    from bot.rehearsal.rubric import RUBRIC_FILE, RubricError, load_rubric

    text = RUBRIC_FILE.read_text(encoding="utf-8")
    broken = tmp_path / "rubric.yml"
    broken.write_text(text.replace("  courtesy: 10\n", "  courtesy: 11\n", 1), encoding="utf-8")
    with pytest.raises(RubricError, match="100"):
        load_rubric(broken)
    broken.write_text(text.replace("check: no_secrets", "check: nobody_knows", 1), encoding="utf-8")
    with pytest.raises(RubricError, match="unknown check"):
        load_rubric(broken)


def test_model_lines_name_the_callback_time_their_objection_books():
    """The score card's model line for 手头紧 offers a call in a month (what live guidance books), not in an hour."""
    ctx = context("星海银行", "大额存单", False, ("二十万起存，利率高于普通定期",))
    assert "一个月后" in objection_model("objection_no_money", ctx)
    assert "一个小时后" in objection_model("objection_busy", ctx)
    assert "后天" in objection_model("objection_think_it_over", ctx)


def test_each_item_lists_its_yes_no_checks_with_the_line_or_the_reason():
    """A half-met criterion is visible: every check of the opening says which line met it or that it
    was not said, and each objection raised is its own check."""
    result = card(MEDIOCRE)
    opening = items(result)["opening"]
    assert len(opening.checks) == len(rubric().opening_checks)
    met = [c for c in opening.checks if c["ok"]]
    missed = [c for c in opening.checks if not c["ok"]]
    assert met and missed and all(c["where"] == "第1句" for c in met)
    objections = items(result)["objections"]
    raised = [t for t in MEDIOCRE if t.speaker == CUSTOMER and t.objection]
    assert len(objections.checks) == len(raised)
    text = result.readable()
    for check in opening.checks:
        assert check["label"] in text


CARD_POINTS = ("机场贵宾厅权益，按权益规则达标后免费使用", "境外消费返现，最高百分之三，以活动规则为准",
               "最长五十六天免息期，额度以审批结果为准")


def _card_call(pitch: str) -> ScoreCard:
    turns = [T("林女士您好，我是星海银行的客户经理李明，今天打电话想给您介绍白金信用卡，您现在方便吗？"),
             C("是吗？我现在用的是别家的信用卡，还挺好用的。", "objection_has_provider"),
             T(pitch)]
    return score(turns, bank=BANK, product_name="白金信用卡", product_is_wealth=False, selling_points=CARD_POINTS)


@pytest.mark.parametrize(("pitch", "false"), [
    ("那挺好的，我也不是要您换卡。我们不一样的地方是境外消费返现，最高百分之三，以活动规则为准，您可以当作补充，您觉得呢？",
     False),
    ("那挺好的，我也不是要您换卡。我们不一样的地方是境外消费返现百分之八，全国最高，您可以当作补充，您觉得呢？", True),
    ("那挺好的，我也不是要您换卡。我们不一样的地方是境外消费返现8%，您可以当作补充，您觉得呢？", True),
    ("那挺好的，我也不是要您换卡。我们不一样的地方是境外消费返现，最高3%，以活动规则为准，您可以当作补充，"
     "您觉得呢？", False),
])
def test_a_figure_the_products_facts_do_not_bear_out_is_a_false_fact(pitch, false):
    """返现百分之八 where the CRM's selling point says 最高百分之三 costs the compliance points and caps
    the call like a forbidden promise; the true figure, in words or digits, costs nothing."""
    result = _card_call(pitch)
    compliance = items(result)["compliance"]
    assert (compliance.points < WEIGHTS["compliance"]) == false, result.readable()
    # Flagged by its words and capped like a forbidden promise.
    assert any(flag.startswith("虚构数字") for flag in result.flags) == false
    assert (result.total <= CAP) if false else result.total > CAP
    # The transcript tags a false fact with the promises (what a compliance officer reads first).
    assert ("promise" in line_functions(
        [Turn(TRAINEE, pitch)], bank=BANK, product_name="白金信用卡", product_is_wealth=False,
        selling_points=CARD_POINTS)[0]) == false


@pytest.mark.parametrize(("line", "invented"), [
    ("返现百分之八", ("百分之八",)),
    ("境外返现8%，很划算", ("8%",)),
    ("百分之五的返现", ("百分之五",)),
    ("返现最高百分之三，以活动规则为准", ()),
    ("返现大概百分之二三吧", ()),  # "two or three per cent"
    ("返现百分之三到十二月底", ()),  # the range's other end is a date, not a percentage
    ("首付百分之三十就行", ()),  # not a rate of this product
    ("我们百分之九十的客户都办了", ()),
    ("不满意100%退款", ()),
])
def test_only_a_rate_above_the_products_facts_is_an_invented_figure(line, invented):
    assert invented_figures(line, CARD_POINTS) == invented


def test_a_call_that_ended_before_any_objection_earns_nothing_for_objections():
    """No objection was answered because the customer hung up first: not 25 free points."""
    turns = [T("唐科长，星海银行的，有款理财特别好，您一定要买。"), C("你们这种话我听多了，不聊了。")]
    hung_up = score(turns, bank=BANK, product_name=PRODUCT, product_is_wealth=True, selling_points=POINTS,
                    risk_level="R2", outcome="hung_up")
    assert items(hung_up)["objections"].points == 0
    assert "还没说出顾虑" in items(hung_up)["objections"].feedback
    finished = card([T("您好，我是星海银行的李明，想介绍稳享理财，您方便吗？"), C("好的，你说。")])
    assert items(finished)["objections"].points == WEIGHTS["objections"]
