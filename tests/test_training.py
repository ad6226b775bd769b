"""Rehearsal in the chat (issue 10, point 2): the training actions against a real SQLite CRM, and the
policy that reads every rehearsal message as a line to the customer.

The actions run like Rasa runs them (rasa_sdk Tracker + CollectingDispatcher, slots carried from
turn to turn); the policy is Rasa's own component on a real DialogueStateTracker.
"""

from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import func, select

from actions.training import ActionRehearsalTurn, ActionStartTraining, ActionStopTraining
from bot.db import sessions
from bot.labels import intent_titles
from bot.models import Call, Client, FollowUp, Holding, PhoneReveal, Rehearsal
from bot.rasa_ext.rehearsal_policy import RehearsalPolicy
from bot.rehearsal.scenarios import scenario
from tests.actions_helper import Conversation
from tests.test_rehearsal_roleplay import GOOD, PUSHY

pytestmark = pytest.mark.usefixtures("frozen_clock")


def crm_counts(url: str) -> dict[str, int]:
    """Rows of the real CRM a rehearsal must never touch."""
    with sessions(url).begin() as session:
        return {model.__name__: session.scalar(select(func.count()).select_from(model))
                for model in (Call, Client, FollowUp, Holding, PhoneReveal)}


def rehearsals(url: str) -> list[Rehearsal]:
    with sessions(url).begin() as session:
        rows = list(session.scalars(select(Rehearsal).order_by(Rehearsal.id)).unique())
        session.expunge_all()
        return rows


async def rehearse(conversation: Conversation, scenario_id: str, lines: list[str]) -> list[list[dict]]:
    """Start ``scenario_id`` from the picker and say ``lines``; the bot's messages per line."""
    await conversation.run(ActionStartTraining(), f'/start_training{{"scenario":"{scenario_id}"}}',
                           "start_training", scenario=scenario_id)
    replies = []
    for line in lines:
        # The NLU's reading does not matter in a rehearsal: give it a misleading staff intent.
        replies.append(await conversation.run(ActionRehearsalTurn(), line, "lookup_client"))
    return replies


async def test_the_picker_starts_the_scenario_with_a_brief_and_a_stop_button(crm_url):
    conversation = Conversation(login="trainee01", sender_id="rehearsal-1")
    messages = await conversation.run(ActionStartTraining(), '/start_training{"scenario":"busy_official_callback"}',
                                      "start_training", scenario="busy_official_callback")
    brief = messages[0]
    s = scenario("busy_official_callback")
    assert brief["custom"]["type"] == "rehearsal_started"
    assert brief["custom"]["scenario"]["id"] == s.id
    assert s.persona.title in brief["text"] and "大额存单" in brief["text"] and "开场白" in brief["text"]
    assert brief["buttons"] == [{"title": "结束并评分", "payload": "/stop_training"}]
    assert conversation.slots["rehearsal"]["scenario_id"] == s.id


async def test_a_careful_trainee_rehearses_to_the_end_gets_a_high_score_and_the_record_is_kept(crm_url):
    before = crm_counts(crm_url)
    conversation = Conversation(login="trainee01", sender_id="rehearsal-good")
    replies = await rehearse(conversation, "busy_official_callback", GOOD["busy_official_callback"])
    s = scenario("busy_official_callback")
    # In character, every turn: the opening reaction, then the next objection, then agreement.
    first = replies[0][0]["custom"]
    assert first["type"] == "customer_line" and first["line"] == s.opening_reaction
    assert replies[0][0]["text"] == f"{s.persona.title}：{s.opening_reaction}"
    # What the trainee's line did, shown beside it as it is said.
    assert {"identity", "purpose", "benefit", "question"} <= set(first["trainee_functions"])
    assert replies[1][0]["custom"]["trainee_functions"] == ["question", "technique"]
    assert any(line in replies[1][0]["custom"]["line"] for line in s.moves[1].says)
    last = replies[-1][0]["custom"]
    agreed = {line.replace("{time}", "下午三点") for line in s.agree_lines}  # the time the trainee proposed
    assert last["ended"] and last["outcome"] == "callback_agreed" and last["line"] in agreed
    card = replies[-1][1]
    assert card["custom"]["type"] == "score_card" and card["custom"]["saved"]
    total = card["custom"]["total"]
    assert total >= 80 and f"总分 {total} 分" in card["text"]
    assert conversation.slots["rehearsal"] is None  # back to live mode
    [row] = rehearsals(crm_url)
    assert (row.user.login, row.scenario_id, row.conversation_id, row.outcome, row.total) == (
        "trainee01", s.id, "rehearsal-good", "callback_agreed", total)
    assert [t["speaker"] for t in row.turns] == ["trainee", "customer"] * 3
    assert {"identity", "purpose", "benefit", "question"} <= set(row.turns[0]["functions"])
    assert "technique" in row.turns[2]["functions"]  # the busy answer: a time to call back
    assert crm_counts(crm_url) == before  # nothing written to the real CRM


async def test_a_pushy_trainee_promising_returns_is_hung_up_on_and_told_why(crm_url):
    before = crm_counts(crm_url)
    conversation = Conversation(login="trainee01", sender_id="rehearsal-pushy")
    replies = await rehearse(conversation, "loyal_boss_payroll", PUSHY)
    said = [r[0]["custom"] for r in replies]
    assert said[0]["mood"] in ("neutral", "annoyed")  # cooler after a forbidden promise
    assert said[-1]["ended"] and said[-1]["outcome"] == "hung_up"
    card = replies[-1][1]
    assert card["custom"]["total"] <= 40
    assert "保本" in card["text"] and "稳赚" in card["text"] and "违规" in card["text"]
    assert rehearsals(crm_url)[0].flags
    assert crm_counts(crm_url) == before


async def test_staff_looking_lines_are_said_to_the_customer(crm_url):
    """查一下张三 or booking a callback are lines to the customer in a rehearsal, never CRM requests."""
    before = crm_counts(crm_url)
    conversation = Conversation(login="agent01", sender_id="rehearsal-staffish")
    replies = await rehearse(conversation, "busy_official_callback", ["查一下张三", "约他明天下午三点再打"])
    assert all(r[0]["custom"]["type"] == "customer_line" for r in replies)
    assert "张三" not in "".join(r[0]["text"] for r in replies)
    assert crm_counts(crm_url) == before


async def test_stop_midway_scores_what_was_said_as_abandoned(crm_url):
    conversation = Conversation(login="trainee01", sender_id="rehearsal-stop")
    await rehearse(conversation, "cfo_group_accounts", ["罗总您好，我是星海银行的李明，打扰您一分钟可以吗？"])
    messages = await conversation.run(ActionStopTraining(), "结束练习", "stop_training")
    card = messages[-1]["custom"]
    assert card["type"] == "score_card" and card["outcome"] == "abandoned" and 0 <= card["total"] <= 100
    assert "总分" in messages[-1]["text"]
    assert conversation.slots["rehearsal"] is None
    assert rehearsals(crm_url)[0].outcome == "abandoned"
    again = await conversation.run(ActionStopTraining(), "结束练习", "stop_training")
    assert "没有进行中的陪练" in again[0]["text"]


async def test_stopping_before_saying_anything_keeps_no_record(crm_url):
    conversation = Conversation(login="trainee01", sender_id="rehearsal-empty")
    await rehearse(conversation, "cfo_group_accounts", [])
    messages = await conversation.run(ActionStopTraining(), "不练了", "stop_training")
    assert "不评分" in messages[0]["text"] and conversation.slots["rehearsal"] is None
    assert rehearsals(crm_url) == []


async def test_picking_another_scenario_midway_keeps_the_first_as_abandoned(crm_url):
    conversation = Conversation(login="trainee01", sender_id="rehearsal-switch")
    await rehearse(conversation, "cfo_group_accounts", ["罗总您好，我是星海银行的李明。"])
    messages = await conversation.run(ActionStartTraining(), '/start_training{"scenario":"card_lover_platinum"}',
                                      "start_training", scenario="card_lover_platinum")
    assert "没有练完" in messages[0]["text"]
    assert messages[-1]["custom"]["scenario"]["id"] == "card_lover_platinum"
    assert [(r.scenario_id, r.outcome) for r in rehearsals(crm_url)] == [("cfo_group_accounts", "abandoned")]


@pytest.mark.parametrize(("text", "entities", "expected"), [
    ("模拟一个在开会的客户", {}, "busy_official_callback"),  # an objection named in words
    ("来个难缠的客户考考我", {}, "cfo_group_accounts"),  # a difficulty
    ("练一下推白金信用卡", {"product": "白金信用卡"}, "card_lover_platinum"),  # a product
    ("练一下宋淑芬这个客户", {}, "retiree_do_not_call"),  # a persona by its (fictional) name
    ("来一個嫌貴的客戶", {}, "card_lover_platinum"),  # Traditional Chinese
])
async def test_start_training_in_the_trainees_own_words(crm_url, text, entities, expected):
    conversation = Conversation(login="trainee01")
    messages = await conversation.run(ActionStartTraining(), text, "start_training", **entities)
    assert messages[-1]["custom"]["scenario"]["id"] == expected


async def test_a_wish_no_scenario_meets_is_said_and_the_closest_is_started(crm_url):
    conversation = Conversation(login="trainee01")
    messages = await conversation.run(ActionStartTraining(), "练一下推个人消费贷", "start_training",
                                      product="个人消费贷")
    assert "没有推个人消费贷的练习场景" in messages[-1]["text"]
    assert conversation.slots["rehearsal"]


async def test_a_real_client_never_picks_the_persona_modelled_on_them(crm_url):
    """A trainee learns nothing about a real client from the persona that comes back."""
    chosen = set()
    for name in ("孙丽", "王华", "张三"):
        conversation = Conversation(login="trainee01")
        messages = await conversation.run(ActionStartTraining(), f"练一下像{name}这样的客户", "start_training",
                                          client_name=name)
        chosen.add(messages[-1]["custom"]["scenario"]["id"])
        assert name not in messages[-1]["text"]
    assert len(chosen) == 1  # the same default scenario, whoever is named


async def test_unmet_wishes_are_said_in_chinese(crm_url):
    conversation = Conversation(login="trainee01")
    messages = await conversation.run(ActionStartTraining(), "来个简单的要求勿扰的客户", "start_training")
    text = messages[-1]["text"]
    title = intent_titles()["objection_do_not_call"]
    assert f"没有客户会说“{title}”的练习场景" in text  # easy scenarios exist; none with 勿扰
    assert "objection_" not in text and "easy" not in text


async def test_an_agent_typing_practice_mid_call_stays_in_live_mode(crm_url):
    conversation = Conversation(login="agent01")
    messages = await conversation.run(ActionStartTraining(), "我想练一下开场白", "start_training")
    assert "陪练页面" in messages[0]["text"] and not conversation.slots.get("rehearsal")


async def test_again_repeats_the_last_scenario(crm_url):
    conversation = Conversation(login="trainee01")
    await rehearse(conversation, "official_wealth_risk", ["唐处长您好"])
    await conversation.run(ActionStopTraining(), "结束练习", "stop_training")
    messages = await conversation.run(ActionStartTraining(), "再练一次", "start_training")
    assert messages[-1]["custom"]["scenario"]["id"] == "official_wealth_risk"


async def test_an_unknown_user_cannot_rehearse(crm_url):
    conversation = Conversation(login=None)
    messages = await conversation.run(ActionStartTraining(), "我想练一下", "start_training")
    assert "登录" in messages[0]["text"] and "rehearsal" not in conversation.slots


@pytest.mark.parametrize("damaged", [
    {"scenario_id": "nope", "turns": "x"},
    {"scenario_id": "cfo_group_accounts", "turns": [], "move_index": 99, "patience": 2, "mood": "calm",
     "status": "in_call", "outcome": None, "started_at": "2026-11-26T10:00:00"},
    {"scenario_id": "cfo_group_accounts", "turns": [], "move_index": 0, "patience": 2, "mood": "calm",
     "status": "ended", "outcome": "hung_up", "started_at": "2026-11-26T10:00:00"},
])
async def test_a_damaged_rehearsal_state_ends_with_a_message_not_a_crash(crm_url, damaged):
    conversation = Conversation(login="trainee01", slots={"rehearsal": damaged})
    messages = await conversation.run(ActionRehearsalTurn(), "您好", "greet")
    assert "重新开始" in messages[0]["text"] and conversation.slots["rehearsal"] is None


# --- the policy ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load("domain.yml")


@pytest.fixture()
def policy(tmp_path) -> RehearsalPolicy:
    return RehearsalPolicy.create(RehearsalPolicy.get_default_config(), LocalModelStorage(tmp_path),
                                  Resource("rehearsal_policy"), ExecutionContext(GraphSchema({}), "test"))


def tracker(domain: Domain, text: str, intent: str, confidence: float = 0.99, rehearsing: bool = True,
            after: str | None = None) -> DialogueStateTracker:
    events = [ActionExecuted(ACTION_LISTEN_NAME)]
    if rehearsing:
        events.append(SlotSet("rehearsal", {"scenario_id": "busy_official_callback"}))
    events.append(UserUttered(text, {"name": intent, "confidence": confidence}))
    if after:
        events.append(ActionExecuted(after))
    return DialogueStateTracker.from_events("t", events, domain.slots)


def predicted(policy: RehearsalPolicy, domain: Domain, t: DialogueStateTracker) -> str | None:
    prediction = policy.predict_action_probabilities(t, domain)
    if prediction.max_confidence == 0:
        return None
    return domain.action_names_or_texts[prediction.max_confidence_index]


@pytest.mark.parametrize(("text", "intent"), [
    ("查一下张三", "lookup_client"),
    ("我一个小时后再打给您", "schedule_callback"),
    ("您好，我是星海银行的李明", "greet"),
    ("您在开会啊", "objection_busy"),
    ("我想练一下开场白", "start_training"),  # typed, not the picker's payload
    ("嗯", "nlu_fallback"),
    ("那我就不打扰您了", "stop_training"),  # an unsure reading does not end the rehearsal
])
def test_every_rehearsal_message_is_a_line_to_the_customer(policy, domain, text, intent):
    confidence = 0.5 if intent == "stop_training" else 0.99
    assert predicted(policy, domain, tracker(domain, text, intent, confidence)) == "action_rehearsal_turn"


def test_a_less_sure_stop_counts_when_it_names_the_rehearsal(policy, domain):
    assert predicted(policy, domain, tracker(domain, "结束练习吧", "stop_training", 0.5)) == "action_stop_training"
    assert predicted(policy, domain, tracker(domain, "那先这样吧", "stop_training", 0.5)) == "action_rehearsal_turn"


def test_stop_and_the_picker_leave_the_role_play(policy, domain):
    assert predicted(policy, domain, tracker(domain, "结束练习", "stop_training")) == "action_stop_training"
    assert predicted(policy, domain, tracker(domain, "/stop_training", "stop_training", 1.0)) == "action_stop_training"
    start = tracker(domain, '/start_training{"scenario":"cfo_group_accounts"}', "start_training", 1.0)
    assert predicted(policy, domain, start) == "action_start_training"


def test_after_a_rehearsal_action_the_bot_listens_and_outside_it_says_nothing(policy, domain):
    for action in ("action_rehearsal_turn", "action_stop_training", "action_start_training"):
        assert predicted(policy, domain, tracker(domain, "x", "greet", after=action)) == ACTION_LISTEN_NAME
    assert predicted(policy, domain, tracker(domain, "查一下张三", "lookup_client", rehearsing=False)) is None
