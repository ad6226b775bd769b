"""Rehearsal role-play (issue 10, point 2): the simulated customer answers in character to what the
trainee actually said, deterministically for a seed, and the finished transcript is scored.

Pure logic: no Rasa, no database.
"""

from __future__ import annotations

import dataclasses
import random

import pytest

from bot.playbook import find_forbidden, playbook
from bot.rehearsal.model_lines import context, model, objection_model, pitch_technique
from bot.rehearsal.roleplay import (
    ACKNOWLEDGEMENTS,
    DEFAULT_ACKNOWLEDGEMENTS,
    FORBIDDEN_REACTIONS,
    PUSHED_REACTIONS,
    RehearsalOver,
    Session,
    _product_facts_of,
    finish,
    reply,
    start,
)
from bot.rehearsal.rubric import rubric
from bot.rehearsal.scenarios import DIFFICULTIES, Scenario, load_scenarios, scenario
from bot.rehearsal.turns import CUSTOMER, TRAINEE, Turn

CAP, DNC_FLAG, DNC = rubric().cap, rubric().dnc_flag, playbook().do_not_call

BANK = "星海银行"

# Careful, compliant trainees: one line per step (the opening, then one answer per customer move).
GOOD: dict[str, list[str]] = {
    # easy: the busy official agrees to a callback
    "busy_official_callback": [
        "何先生您好，我是星海银行的客户经理李明。为了保障您的权益，本次通话会全程录音。今天打电话是想跟您介绍我们的"
        "大额存单，它的好处是利率高于普通定期。您现在方便听我说两句吗？",
        "不好意思打扰您了！那我一个小时后再给您打过来，您看下午三点方便吗？",
        "好的，大额存单的官方介绍您可以在星海银行手机银行或官网上看到。我下午三点再打给您，我们一起过一遍，您看行吗？谢谢您！",
    ],
    # medium: the wary stranger asks who calls, says wrong number, suspects fraud
    "wary_stranger_deposit": [
        "高女士您好，我是星海银行的客户经理李明，为了保障您的权益，本次通话会全程录音。您之前在我们网点咨询过业务，"
        "今天打给您是想介绍一下定期存款，它的好处是五十元起存，门槛低。您最近还好吗？",
        "不好意思没说清楚，我是星海银行的客户经理李明，打给您是想跟您介绍一下定期存款，它的好处是五十元起存，门槛低。"
        "您听着怎么样？",
        "不好意思，可能是我们的回访记录有误，我核对一下。请问您现在主要用的是哪家银行呢？",
        "您的警惕是对的。这个电话是您在我们网点咨询时留下的，您可以挂断后拨打星海银行官方客服热线核实，我们不会索要"
        "您的密码和验证码。核实后，您带上身份证到附近网点就能办理定期存款，五十元起存。您看这样可以吗？",
    ],
    # hard: the retiree ends by asking not to be called again; the right ending is to stop selling
    "retiree_do_not_call": [
        "宋老师您好，我是星海银行的客户经理李明，为了保障您的权益，本次通话会全程录音。现在存款利息越来越低，今天打给您"
        "是想介绍一下大额存单，它的好处是利率高于普通定期。您听着怎么样？",
        "您的警惕是对的。您的退休金是在我们星海银行代发的，您可以拨打星海银行官方客服热线或到任一网点核实，我们不会索要"
        "您的密码和验证码。您看这样可以吗？",
        "您问得好，我如实跟您说：大额存单是存款，不是理财产品，纳入存款保险保障，没有理财那样的净值波动。我不勉强您，"
        "您看适不适合您？",
        "非常抱歉打扰您了，我马上帮您登记，以后不会再给您打推销电话了。祝您身体健康，再见。",
    ],
}

# A pushy trainee: forbidden promises and pressure, to a patient easy customer.
PUSHY = [
    "喂，我是星海银行的，给你推荐代发工资，保本稳赚，今天就办吧！",
    "别想了，名额有限，马上办，错过就没了！",
    "你懂不懂，稳赚的，今天就办。",
]


def play(scenario_id: str, lines: list[str], seed: int = 7) -> tuple[Session, list[str], list[Session]]:
    """Say ``lines`` one by one; the final session, the customer's replies and every session on the way."""
    rng = random.Random(seed)
    session = start(scenario_id)
    sessions, replies = [session], []
    for line in lines:
        session, answer = reply(session, line, rng)
        sessions.append(session)
        replies.append(answer)
    return session, replies, sessions


def acks(objection: str) -> tuple[str, ...]:
    return ACKNOWLEDGEMENTS.get(objection, DEFAULT_ACKNOWLEDGEMENTS)


def expected_replies(s: Scenario, step: int, time: str = "晚点") -> set[str]:
    """What the customer may say after the trainee's line ``step`` when every objection is handled
    (an agreeing customer repeats ``time``, the callback time the trainee proposed)."""
    if step == 0:
        return {s.opening_reaction}
    if step < len(s.moves):
        return {ack + says for ack in acks(s.moves[step - 1].objection) for says in s.moves[step].says}
    return {line.replace("{time}", time) for line in s.agree_lines}


# The callback time each good script proposes last (what the agreeing customer repeats).
GOOD_TIMES = {"busy_official_callback": "下午三点"}


def test_the_good_scripts_cover_easy_medium_and_do_not_call():
    assert {scenario(sid).difficulty for sid in GOOD} == set(DIFFICULTIES)
    assert "retiree_do_not_call" in GOOD
    for sid, lines in GOOD.items():
        assert len(lines) == len(scenario(sid).moves) + 1


@pytest.mark.parametrize("scenario_id", sorted(GOOD))
@pytest.mark.parametrize("seed", [1, 7, 2024])
def test_good_trainee_reaches_the_success_outcome_in_character(scenario_id, seed):
    s = scenario(scenario_id)
    session, replies, sessions = play(scenario_id, GOOD[scenario_id], seed)
    for step, answer in enumerate(replies):
        assert answer in expected_replies(s, step, GOOD_TIMES.get(scenario_id, "晚点")), (step, answer)
        after = sessions[step + 1]
        assert after.turns[-1] == Turn(CUSTOMER, answer, after.turns[-1].objection)
        if step < len(s.moves):
            # The customer turn carries the objection it raises; the move is the one the customer is on.
            assert after.turns[-1].objection == s.moves[step].objection
            assert after.move_index == step and after.status == "in_call"
            assert after.patience == s.patience  # never a poor reply
            assert after.current_move == s.moves[step]
        assert after.mood != "annoyed"
    assert session.status == "ended" and session.ended
    assert session.outcome == s.success and session.succeeded
    assert session.turns[-1].objection is None
    assert [t.speaker for t in session.turns] == [TRAINEE, CUSTOMER] * len(GOOD[scenario_id])
    assert [t.text for t in session.turns[::2]] == GOOD[scenario_id]


@pytest.mark.parametrize("scenario_id", sorted(GOOD))
def test_good_rehearsal_scores_at_least_80(scenario_id):
    session, _replies, _sessions = play(scenario_id, GOOD[scenario_id])
    card = finish(session, bank=BANK)
    assert card.total >= 80, card.readable()
    assert card.flags == ()


def test_retiree_polite_end_and_busy_callback_outcomes():
    assert play("retiree_do_not_call", GOOD["retiree_do_not_call"])[0].outcome == "polite_end"
    assert play("busy_official_callback", GOOD["busy_official_callback"])[0].outcome == "callback_agreed"
    assert play("wary_stranger_deposit", GOOD["wary_stranger_deposit"])[0].outcome == "deal_step"


@pytest.mark.parametrize("s", load_scenarios(), ids=lambda s: s.id)
def test_the_playbooks_own_answers_win_every_scenario(s):
    """A trainee who says the playbook's opening and then its model answer to each objection (the
    lines the score card teaches) wins every shipped scenario: the data is playable, and the
    customer is won over by meaning, not by the scenario's wording."""
    facts = _product_facts_of(s.product)
    ctx = context(BANK, facts["product_name"], facts["product_is_wealth"], facts["selling_points"],
                  facts["risk_level"])
    lines = [model(playbook().openings["direct"], ctx)]
    if not s.opening_raises:  # the customer asks to hear the offer first
        lines.append(model(pitch_technique(), ctx))
    lines += [objection_model(move.objection, ctx).split("】", 1)[1] for move in s.moves]
    for line in lines:
        assert not find_forbidden(line)
    session, _replies, _sessions = play(s.id, lines)
    assert session.outcome == s.success or (s.moves[-1].objection == DNC and session.outcome == "polite_end"), (
        [(t.speaker, t.text) for t in session.turns])


def test_pushy_trainee_gets_a_cooler_customer_and_a_hang_up_before_the_end():
    s = scenario("loyal_boss_payroll")
    assert s.difficulty == "easy" and s.patience == 3
    session, replies, sessions = play(s.id, PUSHY)
    opening, pushed = sessions[1], sessions[2]
    # 保本 in the opening: still the opening reaction, but after a cool remark; patience and mood drop.
    assert replies[0] in {r.format(phrase="保本") + s.opening_reaction for r in FORBIDDEN_REACTIONS}
    assert (opening.mood, opening.patience, opening.status) == ("neutral", 2, "in_call")
    # Pressure (名额有限, 马上办): annoyed, and the objection comes back.
    assert replies[1] in {r + says for r in PUSHED_REACTIONS for says in s.moves[0].says}
    assert (pushed.mood, pushed.patience, pushed.move_index) == ("annoyed", 1, 0)
    assert pushed.turns[-1].objection == s.moves[0].objection
    # 稳赚 again: patience runs out, the customer hangs up before the last move.
    assert replies[2] in s.hang_up_lines
    assert session.status == "ended" and session.outcome == "hung_up" and not session.succeeded
    assert session.move_index < len(s.moves) and session.mood == "annoyed"
    assert session.turns[-1] == Turn(CUSTOMER, replies[2])
    with pytest.raises(RehearsalOver):
        reply(session, "喂？喂？", random.Random(7))

    card = finish(session, bank=BANK)
    assert card.total <= 40 and card.total <= CAP, card.readable()
    assert "保本" in card.flags and "稳赚" in card.flags
    assert "保本" in card.readable()


def test_a_forbidden_promise_to_the_cautious_customer_is_a_hang_up():
    s = scenario("official_wealth_risk")
    assert s.persona.alarmed_by_exaggeration and s.patience > 1
    opening = "唐先生您好，我是星海银行的客户经理李明，今天打给您是想介绍稳享理财。您方便听我说两句吗？"
    session, replies, sessions = play(s.id, [opening, "您放心，这个产品是保本的，稳赚不亏。"])
    assert sessions[1].status == "in_call"
    assert replies[1] in s.hang_up_lines and session.outcome == "hung_up"
    card = finish(session, bank=BANK)
    assert card.total <= 40 and "保本" in card.flags
    compliance = next(item for item in card.items if item.key == "compliance")
    assert compliance.points == 0 and "保本" in compliance.feedback


def test_selling_after_do_not_call_is_an_immediate_hang_up():
    s = scenario("retiree_do_not_call")
    lines = GOOD[s.id][:3] + ["非常抱歉打扰您了，我给您登记。不过大额存单利率高于普通定期，您要不要再了解一下？"]
    session, replies, sessions = play(s.id, lines)
    assert sessions[3].current_move.objection == DNC
    assert replies[3] in s.hang_up_lines
    assert session.outcome == "hung_up"
    card = finish(session, bank=BANK)
    assert DNC_FLAG in card.flags and card.total <= CAP


def test_a_line_that_neither_calms_nor_pushes_costs_patience_and_rephrases_the_objection():
    s = scenario("loyal_boss_payroll")
    opening = GOOD["busy_official_callback"][0].replace("何先生", "黄先生")
    session, replies, sessions = play(s.id, [opening, "嗯嗯。", "嗯嗯。", "嗯嗯。"])
    first_move = s.moves[0]
    for step in (1, 2):
        assert any(replies[step].endswith(says) for says in first_move.says), replies[step]
        assert sessions[step + 1].turns[-1].objection == first_move.objection
        assert sessions[step + 1].patience == s.patience - step
        assert sessions[step + 1].mood == sessions[1].mood  # not pushy, only unconvincing
    assert replies[1][-8:] != replies[2][-8:]  # rephrased, not repeated word for word
    assert replies[3] in s.hang_up_lines and session.outcome == "hung_up"


def test_settling_an_objection_restores_patience():
    s = scenario("busy_official_callback")
    lines = [GOOD[s.id][0], "嗯。", GOOD[s.id][1]]
    _session, _replies, sessions = play(s.id, lines)
    assert sessions[2].patience == s.patience - 1
    assert sessions[3].patience == s.patience and sessions[3].move_index == 1


@pytest.mark.parametrize(("said", "repeated"), [
    ("好的，介绍在手机银行上就能看到，我明天下午三点再打给您，您看可以吗？", "明天下午三点"),
    ("好的，官网上有介绍，那我一个小时后再给您打过来，行吗？", "一个小时后"),
    ("好的，官网上能看到介绍，我周五上午10:30再打给您，可以吗？", "周五上午10:30"),
])
def test_an_agreeing_customer_repeats_the_time_the_trainee_proposed(said, repeated):
    s = scenario("busy_official_callback")
    session, replies, _sessions = play(s.id, [GOOD[s.id][0], GOOD[s.id][1], said])
    assert session.outcome == "callback_agreed"
    assert repeated in replies[-1] and "{time}" not in replies[-1]


def test_traditional_chinese_input_is_understood():
    s = scenario("busy_official_callback")
    traditional = [
        "何先生您好，我是星海銀行的客戶經理李明。今天打電話是想跟您介紹我們的大額存單，它的好處是利率高於普通定期。您現在方便嗎？",
        "不好意思打擾您了！那我一個小時後再給您打過來，您看下午三點方便嗎？",
        "好的，資料您可以在星海銀行手機銀行或官網上看到。我下午三點再打給您，我們一起過一遍，您看行嗎？",
    ]
    session, replies, _sessions = play(s.id, traditional)
    assert session.outcome == "callback_agreed"
    for step, answer in enumerate(replies):
        assert answer in expected_replies(s, step, "下午三点")
    assert session.turns[0].text == traditional[0]  # the transcript keeps what the trainee said
    assert finish(session, bank=BANK).total >= 80
    # A forbidden promise in Traditional characters is caught as well.
    pushed, replies, _ = play("official_wealth_risk", [GOOD["busy_official_callback"][0], "這個保本，穩賺！"])
    assert pushed.outcome == "hung_up"


@pytest.mark.parametrize(("sid", "lines"), [
    ("wary_stranger_deposit", GOOD["wary_stranger_deposit"]),
    ("loyal_boss_payroll", PUSHY),
    ("wary_stranger_deposit", ["你好。", "嗯。", "对对。"]),
])
def test_same_lines_and_seed_give_the_same_transcript(sid, lines):
    first, first_replies, _ = play(sid, lines, seed=42)
    second, second_replies, _ = play(sid, lines, seed=42)
    assert first == second and first_replies == second_replies
    assert finish(first, bank=BANK) == finish(second, bank=BANK)


def test_the_seed_only_picks_among_equivalent_lines():
    outcomes = {play("wary_stranger_deposit", GOOD["wary_stranger_deposit"], seed)[0].outcome for seed in range(20)}
    assert outcomes == {"deal_step"}
    transcripts = {play("wary_stranger_deposit", GOOD["wary_stranger_deposit"], seed)[0].turns for seed in range(20)}
    assert len(transcripts) > 1  # the wording varies with the seed


def test_session_is_immutable():
    first, second = start("busy_official_callback"), start("busy_official_callback")
    assert first == second
    s = scenario("busy_official_callback")
    assert (first.turns, first.move_index, first.patience, first.status, first.outcome) == ((), 0, s.patience,
                                                                                           "opening", None)
    assert first.mood == "calm"  # an easy customer starts calm
    assert start("retiree_do_not_call").mood == "neutral"
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.patience = 0  # type: ignore[misc]
    after, _answer = reply(first, GOOD["busy_official_callback"][0], random.Random(1))
    assert after is not first and after != first
    assert first == second  # the old session is untouched
    assert len(after.turns) == 2 and after.status == "in_call"
    hash(after)  # frozen all the way down: usable as a key, safe to share


def test_unknown_scenario_is_a_key_error():
    with pytest.raises(KeyError):
        start("no_such_scenario")


def test_finish_scores_the_scenario_product():
    session, _replies, _ = play("busy_official_callback", GOOD["busy_official_callback"])
    card = finish(session, bank=BANK)
    # 大额存单 is a deposit: no wealth disclosure required.
    compliance = next(item for item in card.items if item.key == "compliance")
    assert compliance.points == compliance.max_points and "不是理财产品" in compliance.feedback
    # A wealth scenario stopped mid-call is scored too, and misses the disclosure.
    wealth, _replies, _ = play("official_wealth_risk", ["唐先生您好，我是星海银行的客户经理李明。"])
    assert wealth.status == "in_call"
    assert "理财非存款" in next(item for item in finish(wealth, bank=BANK).items if item.key == "compliance").feedback


# --- a customer who responds to meaning (issue 20, point 3) ---------------------------------------

def test_a_forbidden_promise_to_any_risk_question_makes_the_customer_cooler():
    for s in load_scenarios():
        for index, move in enumerate(s.moves):
            if move.objection != "objection_risk":
                continue
            session = dataclasses.replace(start(s.id), status="in_call", move_index=index,
                                          turns=(Turn(TRAINEE, "您好"), Turn(CUSTOMER, move.says[0], move.objection)))
            after, _answer = reply(session, "您放心，这款本金一分都不会少，稳赚的。", random.Random(1))
            cooler = after.mood != session.mood and after.patience < session.patience
            assert after.outcome == "hung_up" or cooler, s.id


def test_a_repeated_line_is_noticed():
    s = scenario("loyal_boss_payroll")
    pitch = "黄先生，我们的代发工资是免费的，工资当天到账，您看公司有没有这个需要？"
    opening = GOOD["busy_official_callback"][0].replace("何先生", "黄先生")
    session, replies, sessions = play(s.id, [opening, pitch, pitch])
    assert replies[2].startswith(("这话你刚才说过了", "你怎么老说这几句"))
    assert sessions[3].patience < sessions[2].patience


def test_a_goodbye_ends_the_call_and_an_unfinished_call_cannot_pass():
    s = scenario("card_lover_platinum")
    session, replies, _sessions = play(s.id, [
        "林女士您好，我是星海银行的客户经理李明，今天打给您是想介绍白金信用卡，它可以免费使用机场贵宾厅，您经常出差吗？",
        "好的，那不打扰您了，再见。",
    ])
    assert session.ended and session.outcome == "abandoned" and not session.succeeded
    card = finish(session, bank=BANK)
    assert card.ending and card.total < 60


def test_nobody_agrees_to_a_callback_that_was_not_offered():
    s = scenario("busy_official_callback")
    session, replies, _sessions = play(s.id, [GOOD[s.id][0], GOOD[s.id][1][:0] + "不好意思打扰您了，您先忙。",
                                              "好的，资料您可以在手机银行上看到，有空再说。"])
    assert session.outcome != "callback_agreed"
    assert not any("{time}" in r or "晚点" in r for r in replies)


def test_a_neutral_first_reply_is_not_an_objection():
    s = scenario("official_wealth_risk")
    assert not s.opening_raises
    session, replies, sessions = play(s.id, [
        "唐先生您好，我是星海银行的客户经理李明，今天打给您是想介绍稳享理财。您方便听我说两句吗？"])
    assert sessions[1].turns[-1].objection is None and replies[0] == s.opening_reaction
    # A plain pitch then brings the first objection, with patience untouched.
    pitch = "稳享理财可以在手机银行随时查看净值，风险等级R2，理财非存款、产品有风险、投资须谨慎。您听着怎么样？"
    after, answer = reply(session, pitch, random.Random(3))
    assert after.turns[-1].objection == s.moves[0].objection and answer in s.moves[0].says
    assert after.patience == s.patience


def test_saying_the_customers_words_back_answers_nothing():
    s = scenario("busy_official_callback")
    session, replies, sessions = play(s.id, [GOOD[s.id][0], "您正在开会，什么事，快点说，明白，快点说。"])
    assert sessions[2].move_index == 0 and sessions[2].patience == s.patience - 1
    assert replies[1].startswith(("你说什么", "啊？"))


def test_the_customer_doubts_an_invented_figure_by_its_words():
    """返现百分之八 where the card's facts say at most 百分之三: the customer cools and says which claim."""
    session, replies, sessions = play("card_lover_platinum", [
        "林女士您好，我是星海银行的客户经理李明，想给您介绍白金信用卡，您现在方便吗？",
        "别家的卡好用就先用着。我们这张境外消费返现百分之八，您可以当个补充，您觉得呢？",
    ])
    assert "百分之八" in replies[-1]
    assert session.patience < sessions[1].patience and not session.ended
