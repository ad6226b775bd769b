"""Practice from real calls (issue 20, point 6): a supervisor turns a reviewed live conversation into
a rehearsal scenario. The customer's relayed objections become the persona's moves, in order, in the
customer's own words with numbers and names hidden; the persona is fictional; the scenario passes the
shipped scenarios' checks, is listed for trainees as 来自真实通话 and plays like any other (role-play,
chat payload). Refused for non-supervisors, rehearsal transcripts and calls without an objection.

A real SQLite CRM and tracker store (events written as Rasa's SQL tracker store writes them, as in
tests/test_review.py), then the real web app."""

from __future__ import annotations

import json
import os
import random
import re
from datetime import datetime

import pytest
import requests
from sqlalchemy import delete, select

from actions.training import ActionRehearsalTurn, ActionStartTraining
from bot import labels
from bot.auth import Identity
from bot.db import sessions
from bot.models import Call, Client, ConversationOwner, PracticeScenario, Rehearsal, User
from bot.profile import rank_openings
from bot.rehearsal import from_calls, roleplay, scenarios
from bot.rehearsal.scenarios import (
    REAL_CALL,
    ScenarioError,
    live_product,
    live_profile,
    load_scenarios,
    product,
    scenario,
)
from tests.actions_helper import Conversation
from tests.test_accounts import bearer, browser_login, live_app, token_for, web  # noqa: F401 - fixtures
from tests.test_review import Tracker

SUPERVISOR = Identity("super01", "supervisor", "郑主管")
AGENT = Identity("agent01", "agent", "李明")
TRAINEE = Identity("trainee01", "trainee", "吴昊")
BANK = "星海银行"
PHONE = "13800000001"  # 张三's, typed by the customer into the call
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture()
def loader(monkeypatch):
    """The scenarios' loader as the shells set it at start-up (actions/training.py, bot/web/app.py)."""
    monkeypatch.setattr(scenarios, "_stored_loader", None)  # put back as it was after the test
    scenarios.set_stored_loader(from_calls.stored)


@pytest.fixture()
def calls(crm_url, loader):
    """live-1 (agent01, 张三, large CD pitched, callback logged): the customer is busy, asks for
    material (saying his name and number), is busy again; the agent's own requests around it.
    live-2 (agent01, 李四): looked up and pitched, no objection relayed.
    rehearsal-1 (trainee01): a rehearsal of the busy official, with its record."""
    tracker = Tracker(os.environ["SALESBOT_TRACKER_URL"])
    with sessions(crm_url).begin() as session:
        ids = {c.name: c.id for c in session.scalars(select(Client))}
        users = {u.login: u.id for u in session.scalars(select(User))}
        for conversation, login in (("live-1", "agent01"), ("live-2", "agent01"), ("rehearsal-1", "trainee01")):
            session.add(ConversationOwner(conversation_id=conversation, user_id=users[login]))
        session.add(Call(conversation_id="live-1", client_id=ids["张三"], agent_id=users["agent01"],
                         disposition="callback", objections=["objection_busy", "objection_send_materials"],
                         products=["LARGE_CD"], started_at=datetime(2026, 11, 23, 9, 5)))
        session.add(Rehearsal(user_id=users["trainee01"], scenario_id="busy_official_callback",
                              conversation_id="rehearsal-1", outcome="hung_up", total=20))

    tracker.say("live-1", "agent01", "查一下张三")
    tracker.look_up("live-1", ids["张三"])
    tracker.say("live-1", "agent01", "这个客户开场白怎么说", "request_opening")
    tracker.say("live-1", "agent01", "客户说：我在开会，你晚点再打", "objection_busy")
    tracker.say("live-1", "agent01", f"客户说 我叫张三，张先生就是我，你把资料发到{PHONE}，我看看",
                "objection_send_materials")
    tracker.say("live-1", "agent01", "他说开会呢，没空", "objection_busy")  # the same objection: one move
    tracker.say("live-1", "agent01", "客户说好的你说", "customer_agrees")  # not an objection
    tracker.say("live-1", "agent01", '/objection_busy', "objection_busy")  # a button payload, no words
    tracker.say("live-1", "agent01", "记一下，客户约了回访", "log_outcome")

    tracker.say("live-2", "agent01", "查一下李四")
    tracker.look_up("live-2", ids["李四"])
    tracker.say("live-2", "agent01", "白金信用卡怎么介绍", "request_product_pitch")

    tracker.say("rehearsal-1", "trainee01", '/start_training{"scenario":"busy_official_callback"}', "start_training")
    tracker.say("rehearsal-1", "trainee01", "我在开会", "objection_busy")
    return ids


def _everything(data) -> str:
    return json.dumps(data, ensure_ascii=False)


# --- the scenario made from the call ---------------------------------------------------------------

def test_a_live_call_becomes_a_validated_scenario_with_the_objections_in_order(calls, session):
    made = from_calls.make(session, SUPERVISOR, "live-1")
    s = made.scenario
    assert made.created and s.id == "call_1" and s.id.isascii() and s.source == REAL_CALL
    # One move per distinct objection, in the order the customer raised them.
    assert s.objections == ("objection_busy", "objection_send_materials")
    titles = labels.intent_titles()
    assert s.title == f"来自真实通话：{titles['objection_busy']}、{titles['objection_send_materials']}"
    # The customer's own words, relay prefix removed; topped up to two with the shipped lines.
    busy, materials = s.moves
    assert busy.says == ("我在开会，你晚点再打", "开会呢，没空")
    assert 2 <= len(materials.says) <= 3
    assert materials.says[0].startswith("我叫") and "你把资料发到" in materials.says[0]
    shipped = {line for sc in load_scenarios() for m in sc.moves for line in m.says}
    assert set(materials.says[1:]) <= shipped
    # The product discussed, medium, patience 2, the live bot's best opening for this persona.
    assert (s.product, s.difficulty, s.patience) == ("LARGE_CD", "medium", 2)
    ranked = [style for style, _why in rank_openings(live_profile(s.persona), live_product(product(s.product)))]
    assert s.opening_style == ranked[0]
    assert s.success == "callback_agreed"  # the last objection is answered by a callback
    # Stored as one entry of scenarios.yml's schema, passing the same checks as the shipped ones.
    row = session.scalars(select(PracticeScenario)).one()
    assert (row.scenario_id, row.conversation_id, row.author.login) == ("call_1", "live-1", "super01")
    assert scenarios.from_call(row.data) == s
    # Asked again: the same scenario, not a second one.
    again = from_calls.make(session, SUPERVISOR, "live-1")
    assert not again.created and again.scenario == s
    assert len(session.scalars(select(PracticeScenario)).all()) == 1


def test_the_persona_is_fictional_and_nothing_personal_is_copied(calls, session):
    s = from_calls.make(session, SUPERVISOR, "live-1").scenario
    p = s.persona
    real = session.get(Client, calls["张三"])
    crm_names = set(session.scalars(select(Client.name)))
    fictional = [n for names in from_calls.text()["names"].values() for n in names]
    assert p.name in fictional and p.name not in crm_names and p.name[0] != real.name[0]
    assert p.title == p.name[0] + "先生" and p.from_call and not p.modelled_on
    # Only the gender, the age rounded to five years, the risk tolerance and the contact source kind.
    assert (p.gender, p.age, p.risk_tolerance, p.contact_source) == ("男", 45, "C2", "payroll_employer")
    assert (p.company, p.referrer, p.contact_detail, p.holdings) == (None, None, "", ())
    stored = _everything(session.scalars(select(PracticeScenario.data)).one())
    for private in (real.name, "张先生", PHONE, PHONE[-4:], PHONE[:7], real.occupation, "李明"):
        assert private not in stored, private
    assert not re.search(r"\d{4,}", stored)  # no run of digits survives
    assert f"我叫{p.name}，{p.title}就是我" in s.moves[1].says[0]  # the name the customer said: the fictional one


def test_scenarios_from_calls_are_checked_like_the_shipped_ones(calls, session):
    from_calls.make(session, SUPERVISOR, "live-1")
    raw = session.scalars(select(PracticeScenario.data)).one()
    with pytest.raises(ScenarioError, match="risk_tolerance|tolerance"):
        scenarios.from_call({**raw, "product": "FUND_SIP"})  # an R3 fund for a C2 customer
    with pytest.raises(ScenarioError, match="opening_style"):
        scenarios.from_call({**raw, "opening_style": "referral"})  # no referrer: the live bot refuses it
    with pytest.raises(ScenarioError, match="call_"):
        scenarios.from_call({**raw, "persona": {**raw["persona"], "from_call": False}})
    with pytest.raises(ScenarioError, match="unknown objection"):
        scenarios.from_call({**raw, "moves": [{"objection": "customer_complaint", "says": ["你们乱扣费"]}]})


@pytest.mark.parametrize("who, conversation, refusal, message", [
    (AGENT, "live-1", PermissionError, "只有主管"),  # agents (the call's own agent too) may not
    (TRAINEE, "live-1", PermissionError, "只有主管"),
    (SUPERVISOR, "rehearsal-1", ValueError, "陪练记录"),  # a rehearsal transcript is no live call
    (SUPERVISOR, "live-2", ValueError, "没有坐席转述的客户异议"),
    (SUPERVISOR, "no-such-call", LookupError, "找不到"),
])
def test_refusals(calls, session, who, conversation, refusal, message):
    with pytest.raises(refusal, match=message):
        from_calls.make(session, who, conversation)
    assert session.scalars(select(PracticeScenario)).all() == []


def test_a_rehearsal_is_refused_even_without_its_record(calls, session):
    session.execute(delete(Rehearsal))  # an abandoned rehearsal that was never filed
    with pytest.raises(ValueError, match="陪练记录"):
        from_calls.make(session, SUPERVISOR, "rehearsal-1")


# --- it plays like any scenario ---------------------------------------------------------------------

def _made(crm_url) -> str:
    with sessions(crm_url).begin() as db:
        return from_calls.make(db, SUPERVISOR, "live-1").scenario.id


def _lines(s) -> list[str]:
    p = s.persona
    return [
        f"{p.title}您好，我是{BANK}的客户经理李明。为了保障您的权益，本次通话会全程录音。今天打电话是想跟您介绍我们的"
        "大额存单，它的好处是利率高于普通定期。您现在方便听我说两句吗？",
        "不好意思打扰您了！那我一个小时后再给您打过来，您看下午三点方便吗？",
        f"好的，大额存单的官方介绍您可以在{BANK}手机银行或官网上看到。我下午三点再打给您，我们一起过一遍，您看行吗？谢谢您！",
    ]


def test_the_scenario_plays_through_the_role_play_to_a_score_card(calls, crm_url):
    scenario_id = _made(crm_url)
    s = scenario(scenario_id)  # found by id like a shipped one
    session, rng = roleplay.start(scenario_id), random.Random(0)
    answers = []
    for line in _lines(s):
        session, answer = roleplay.reply(session, line, rng, bank=BANK)
        answers.append(answer)
    assert answers[0] == s.opening_reaction
    assert any(line in answers[1] for line in s.moves[1].says)  # the customer's next objection
    assert session.ended and session.outcome == "callback_agreed"
    card = roleplay.finish(session, bank=BANK)
    assert 0 <= card.total <= 100 and card.items and f"总分 {card.total} 分" in card.readable()


async def test_the_chat_payload_starts_it(calls, crm_url):
    scenario_id = _made(crm_url)
    s = scenario(scenario_id)
    conversation = Conversation(login="trainee01", sender_id="rehearsal-from-call")
    started = await conversation.run(ActionStartTraining(), f'/start_training{{"scenario":"{scenario_id}"}}',
                                     "start_training", scenario=scenario_id)
    assert started[0]["custom"]["scenario"]["id"] == scenario_id
    assert conversation.slots["rehearsal"]["scenario_id"] == scenario_id
    replies = [await conversation.run(ActionRehearsalTurn(), line, "lookup_client") for line in _lines(s)]
    assert replies[0][0]["custom"]["line"] == s.opening_reaction
    assert replies[-1][0]["custom"]["outcome"] == "callback_agreed"
    assert replies[-1][1]["custom"]["type"] == "score_card" and replies[-1][1]["custom"]["saved"]


# --- over HTTP: the supervisor's button, the trainee's picker ---------------------------------------

def _token(web: str, login: str, password: str) -> dict:  # noqa: F811 - ``web`` is the URL here
    return bearer(token_for(web, login, password).json()["token"])


def test_supervisors_make_it_over_http_and_trainees_see_it_in_the_picker(calls, web):  # noqa: F811
    url = f"{web}/api/conversations/live-1/practice"
    refused = requests.post(url, headers=_token(web, "agent01", "demo-agent"), timeout=30)
    assert refused.status_code == 403 and CJK.search(refused.json()["error"])
    reply = requests.post(url, headers=_token(web, "super01", "demo-super"), timeout=30)
    assert reply.status_code == 201, reply.text
    made = reply.json()
    assert made["id"] == "call_1" and made["title"].startswith("来自真实通话：") and made["source"] == "real_call"
    assert requests.post(url, headers=_token(web, "super01", "demo-super"), timeout=30).status_code == 200
    rehearsal = requests.post(f"{web}/api/conversations/rehearsal-1/practice",
                              headers=_token(web, "super01", "demo-super"), timeout=30)
    assert rehearsal.status_code == 400 and "陪练记录" in rehearsal.json()["error"]

    listed = requests.get(f"{web}/api/scenarios", headers=_token(web, "trainee01", "demo-trainee"), timeout=30)
    assert listed.status_code == 200
    entries = {s["id"]: s for s in listed.json()}
    assert list(entries)[:9] == [s.id for s in load_scenarios()]
    assert {entries[s.id]["source"] for s in load_scenarios()} == {"playbook"}
    mine = entries["call_1"]
    assert (mine["source"], mine["source_label"], mine["title"]) == ("real_call", "来自真实通话", made["title"])
    assert mine["difficulty"] == "medium" and "张三" not in _everything(mine)


def test_the_transcript_page_offers_the_button_to_supervisors_only(calls, web):  # noqa: F811
    button = labels.rehearsal("rehearsal_buttons")["make_practice"]
    assert button == "做成陪练场景"
    browser, _reply = browser_login(web, "super01", "demo-super")
    page = browser.get(f"{web}/review/conversations/live-1", timeout=30).text
    assert button in page and "data-make-practice" in page and "/static/practice.js" in page
    agent, _reply = browser_login(web, "agent01", "demo-agent")
    assert "data-make-practice" not in agent.get(f"{web}/review/conversations/live-1", timeout=30).text
