"""Learning from the floor (bot/floor.py, bot/web/api/floor.py): candidates kept with who and when,
phone numbers never kept, repeated choices counted once, supervisors alone decide, every decision in
the change log, accepted lines written as versioned training data; outcomes that contradict the
reading of a call; what the assistant offers when it is not sure (bot/clarify.py)."""

from __future__ import annotations

import requests
import yaml
from sqlalchemy import select

from bot import clarify, floor
from bot.db import sessions
from bot.models import Change, NluCandidate, User
from bot.playbook import customer_intents, intent_questions, intent_titles
from tests.conftest import ROOT, WORKDAY_MORNING
from tests.test_accounts import bearer, live_app, token_for, web  # noqa: F401 - fixtures
from tests.test_assignment_web import PASSWORDS


def _user(session, login):
    return session.scalars(select(User).where(User.login == login)).one()


def _record(session, text, intent="objection_busy", login="agent01", source="clarify"):
    return floor.record(session, text=text, intent=intent, source=source, user=_user(session, login),
                        conversation_id="c-1", predicted="objection_think_it_over", confidence=0.31,
                        at=WORKDAY_MORNING)


def test_a_choice_is_kept_with_who_and_when_and_without_the_phone_number(session):
    candidate = _record(session, "客户说  他换号了 13800000001 打这个")
    assert candidate.text == "客户说 他换号了 138****0001 打这个"
    assert (candidate.intent, candidate.user.login, candidate.at, candidate.status) == \
        ("objection_busy", "agent01", WORKDAY_MORNING, "pending")
    assert candidate.predicted == "objection_think_it_over"


def test_the_same_line_chosen_again_is_counted_not_repeated_and_payloads_are_not_lines(session):
    first = _record(session, "伊讲勿要")
    again = _record(session, "伊讲勿要", login="agent02")
    other = _record(session, "伊讲勿要", intent="objection_not_interested")
    assert again is first and first.times == 2 and other is not first
    assert _record(session, "/choose_reading{\"reading\": \"none\"}") is None
    assert _record(session, "   ") is None


def test_only_pending_lines_are_decided_and_each_decision_is_in_the_change_log(session):
    a, b = _record(session, "佢话唔得闲"), _record(session, "kehu shuo zai kaihui")
    boss = _user(session, "super01")
    decided = floor.decide(session, [a.id, b.id], "accept", boss)
    assert {c.id for c in decided} == {a.id, b.id} and a.status == "accepted" and a.decided_by == boss.id
    assert floor.decide(session, [a.id], "reject", boss) == []  # decided stays decided
    assert a.status == "accepted"
    c = _record(session, "他说咱不需要", intent="objection_busy")
    floor.decide(session, [c.id], "accept", boss, intent="objection_not_interested")
    assert c.intent == "objection_not_interested"
    logged = session.scalars(select(Change).where(Change.kind == "floor")).all()
    assert len(logged) == 3 and all(ch.user_id == boss.id for ch in logged)
    assert logged[-1].detail["intent"] == ["objection_busy", "objection_not_interested"]
    assert floor.counts(session) == {"pending": 0, "accepted": 3, "rejected": 0}


def test_accepted_lines_become_versioned_training_data_and_nothing_else_does(session, tmp_path):
    boss = _user(session, "super01")
    assert floor.write_training_data(session).examples == 0 and not floor.data_file().exists()
    kept, dropped = _record(session, "佢话唔得闲"), _record(session, "客户说不行了")
    _record(session, "伊讲晏点再打")  # still pending
    floor.decide(session, [kept.id], "accept", boss)
    floor.decide(session, [dropped.id], "reject", boss)
    first = floor.write_training_data(session)
    assert (first.version, first.examples, first.changed) == (1, 1, True)
    data = yaml.safe_load(first.path.read_text(encoding="utf-8"))
    assert data["nlu"] == [{"intent": "objection_busy", "examples": '- "佢话唔得闲"\n'}]
    assert kept.floor_version == 1 and dropped.floor_version is None
    assert floor.write_training_data(session).changed is False  # same accepted set, same version
    more = _record(session, "kehu shuo zai kai hui")
    floor.decide(session, [more.id], "accept", boss)
    second = floor.write_training_data(session)
    assert (second.version, second.examples) == (2, 2) and more.floor_version == 2 and kept.floor_version == 1
    assert (floor.floor_dir() / "history" / "v1.yml").exists() and (floor.floor_dir() / "history" / "v2.yml").exists()


def test_the_training_report_says_how_each_held_out_set_moved(crm_url):
    assert floor.movement() is None
    floor.add_report(0, 0, {"clean": {"accuracy": 0.97}, "realistic": {"accuracy": 0.95}}, kind="baseline")
    floor.add_report(1, 12, {"clean": {"accuracy": 0.972}, "realistic": {"accuracy": 0.957}})
    moved = floor.movement()
    assert moved["version"] == 1 and moved["examples"] == 12
    assert moved["sets"] == {"clean": [0.97, 0.972], "realistic": [0.95, 0.957]}


# --- an outcome that contradicts the reading -------------------------------------------------------

def _turns(*pairs):
    return [floor.Turn(text, intent, 0.5) for text, intent in pairs]


def test_do_not_call_logged_without_a_line_read_so_keeps_the_last_relayed_line():
    turns = _turns(("查一下张三", "lookup_client"), ("开场白", "request_opening"),
                   ("客户说以后甭给我打了啊", "objection_hate_sales"),
                   ("/log_outcome{\"outcome\": \"do_not_call\"}", "log_outcome"))
    turn, intent = floor.missed_reading(turns, "do_not_call", customer_intents())
    assert (turn.text, intent) == ("客户说以后甭给我打了啊", "objection_do_not_call")


def test_no_candidate_when_the_call_was_read_right_or_the_outcome_implies_nothing():
    read_right = _turns(("客户说别再打了", "objection_do_not_call"), ("客户说烦死了", "objection_hate_sales"))
    assert floor.missed_reading(read_right, "do_not_call", customer_intents()) is None
    said = _turns(("客户说在开会", "objection_busy"))
    assert floor.missed_reading(said, "callback", customer_intents()) is None
    agent_only = _turns(("查一下张三", "lookup_client"), ("开场白", "request_opening"))
    assert floor.missed_reading(agent_only, "invalid_number", customer_intents()) is None


# --- what the assistant offers when it is not sure --------------------------------------------------

def _ranking(*pairs):
    return [{"name": n, "confidence": c} for n, c in pairs]


def test_two_or_three_readings_are_offered_never_the_fallback_itself():
    ranking = _ranking(("nlu_fallback", 0.45), ("objection_busy", 0.40), ("objection_think_it_over", 0.35),
                       ("objection_not_interested", 0.2), ("greet", 0.01))
    assert clarify.readings(ranking) == ["objection_busy", "objection_think_it_over", "objection_not_interested"]
    # A third reading the model hardly believes is no button; two are always offered.
    assert clarify.readings(_ranking(("objection_busy", 0.98), ("greet", 0.015), ("thank", 0.005))) == \
        ["objection_busy", "greet"]


def test_the_assistant_asks_when_the_top_reading_is_low_or_two_are_close():
    assert clarify.asks(_ranking(("objection_busy", 0.40), ("greet", 0.1)), threshold=0.5, margin=0.1)
    assert clarify.asks(_ranking(("objection_busy", 0.55), ("objection_think_it_over", 0.5)), 0.5, 0.1)
    assert not clarify.asks(_ranking(("objection_busy", 0.8), ("greet", 0.1)), 0.5, 0.1)


def test_the_tradeoff_counts_a_question_right_when_the_true_reading_is_a_button():
    lines = [clarify.Parsed("a", "objection_busy", _ranking(("objection_busy", 0.9), ("greet", 0.05))),
             clarify.Parsed("b", "objection_busy",
                            _ranking(("objection_think_it_over", 0.4), ("objection_busy", 0.35))),
             clarify.Parsed("c", "greet", _ranking(("thank", 0.95), ("greet", 0.04)))]
    t = clarify.tradeoff(lines, threshold=0.5, margin=0.1)
    assert (t.asked, t.exact) == (1 / 3, 1 / 3)
    assert t.answered_right == 0.5 and t.in_buttons == 2 / 3


def test_every_intent_has_a_question_and_the_customer_intents_are_the_relayed_ones():
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    assert set(domain["intents"]) <= set(intent_questions()) | {"choose_reading"}
    assert set(domain["intents"]) == set(intent_titles())
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    gate = next(c for c in config["pipeline"] if c["name"].endswith("SpeakerGate"))
    assert not set(gate["agent_only"]) & customer_intents()
    assert set(gate["agent_only"]) | customer_intents() | {"log_outcome", "schedule_callback", "choose_reading",
                                                          "out_of_scope"} == set(domain["intents"])


def test_the_page_names_each_status_and_source_once():
    from bot import labels
    from bot.models import CANDIDATE_SOURCES, CANDIDATE_STATUSES

    served = labels.for_pages()
    assert tuple(served["floor_status_order"]) == CANDIDATE_STATUSES == (floor.PENDING, floor.ACCEPTED, floor.REJECTED)
    assert set(served["floor_statuses"]) == set(CANDIDATE_STATUSES)
    assert tuple(served["floor_sources"]) == CANDIDATE_SOURCES


# --- the page's API -----------------------------------------------------------------------------------

def _seed(crm_url):
    with sessions().begin() as session:
        ids = [_record(session, text).id for text in ("佢话唔得闲", "伊讲晏点再打 13800000001")]
        _record(session, "客户说咱不要", intent="objection_not_interested")
    return ids


def test_agents_and_trainees_are_refused_the_floor(web, crm_url):  # noqa: F811
    _seed(crm_url)
    for login in ("agent01", "trainee01"):
        token = token_for(web, login, PASSWORDS[login]).json()["token"]
        listed = requests.get(f"{web}/api/floor/candidates", headers=bearer(token), timeout=30)
        decided = requests.post(f"{web}/api/floor/candidates/decide", json={"ids": [1], "decision": "accept"},
                                headers=bearer(token), timeout=30)
        assert listed.status_code == decided.status_code == 403
        assert "主管" in listed.json()["error"]


def test_a_supervisor_sees_candidates_grouped_by_intent_and_accepts_them_in_bulk(web, crm_url):  # noqa: F811
    ids = _seed(crm_url)
    token = token_for(web, "super01", PASSWORDS["super01"]).json()["token"]
    listed = requests.get(f"{web}/api/floor/candidates", headers=bearer(token), timeout=30).json()
    groups = {g["intent"]: g for g in listed["groups"]}
    assert set(groups) == {"objection_busy", "objection_not_interested"}
    assert groups["objection_busy"]["title"] == intent_titles()["objection_busy"]
    texts = [c["text"] for c in groups["objection_busy"]["candidates"]]
    assert "伊讲晏点再打 138****0001" in texts and all("13800000001" not in t for t in texts)
    assert listed["counts"]["pending"] == 3 and listed["report"] is None
    bad = requests.post(f"{web}/api/floor/candidates/decide", json={"ids": ids, "decision": "maybe"},
                        headers=bearer(token), timeout=30)
    wrong = requests.post(f"{web}/api/floor/candidates/decide",
                          json={"ids": ids, "decision": "accept", "intent": "no_such_intent"},
                          headers=bearer(token), timeout=30)
    assert bad.status_code == wrong.status_code == 400 and "没有这个意思类别" in wrong.json()["error"]
    done = requests.post(f"{web}/api/floor/candidates/decide", json={"ids": ids, "decision": "accept"},
                         headers=bearer(token), timeout=30)
    assert done.status_code == 200 and done.json()["message"] == "已处理 2 条。"
    accepted = requests.get(f"{web}/api/floor/candidates", params={"status": "accepted"}, headers=bearer(token),
                            timeout=30).json()
    assert [c["decided_by"] for g in accepted["groups"] for c in g["candidates"]] == ["super01", "super01"]
    with sessions().begin() as session:
        assert session.scalars(select(NluCandidate.status).where(NluCandidate.id.in_(ids))).all() == ["accepted"] * 2
