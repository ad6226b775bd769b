"""Disputes on a rehearsal's score card (issue 20, point 5): the trainee disputes one item with a
sentence, a supervisor accepts it (the item gets its full points, the total is recomputed under the
card's caps and the change is recorded) or rejects it with a comment. The records logic on the real
(SQLite) CRM, then the three routes and the pages on the real web app."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select

from bot import labels
from bot.auth import Identity
from bot.db import sessions
from bot.models import DISPUTE_STATUSES, Rehearsal, RehearsalDispute, User
from bot.rehearsal import records
from bot.rehearsal.rubric import rubric
from bot.rehearsal.turns import ItemScore, ScoreCard
from tests.conftest import DEMO_PASSWORDS, ROOT, WORKDAY_MORNING
from tests.test_accounts import browser_login, live_app, token_for, web  # noqa: F401 - fixtures
from tests.test_labels import _literals

TRAINEE = Identity("trainee01", "trainee", "吴昊")
OTHER_TRAINEE = Identity("trainee02", "trainee", "陈学")
AGENT = Identity("agent01", "agent", "李明")
SUPERVISOR = Identity("super01", "supervisor", "郑主管")
PASSWORDS = {**DEMO_PASSWORDS, "trainee02": "demo-trainee"}
DAY = datetime(2026, 11, 20, 9, 0)
CHINESE = re.compile(r"[\u4e00-\u9fff]")
REASON = "我第二句已经约了下午三点回电，下一步是明确的。"


def card(points: dict[str, int] | None = None, flags: tuple[str, ...] = (), ending_cap: int | None = None,
         total: int | None = None) -> ScoreCard:
    """A six-item card (the rubric's weights); ``points`` overrides an item's points. The total is
    the sum, capped as the scorer caps it, unless given."""
    maxima = {"opening": 20, "questions": 15, "objections": 25, "next_step": 15, "courtesy": 5, "compliance": 20}
    given = {"opening": 20, "questions": 10, "objections": 10, "next_step": 0, "courtesy": 5, "compliance": 20,
             **(points or {})}
    items = tuple(ItemScore(key, f"{key}标题", given[key], top, f"{key}点评", f"{key}参考话术")
                  for key, top in maxima.items())
    if total is None:
        total = sum(given.values())
        if flags:
            total = min(total, rubric().cap)
        if ending_cap is not None:
            total = min(total, ending_cap)
    return ScoreCard(total=total, items=items, flags=flags,
                     ending="客户挂断了电话" if ending_cap is not None else None, ending_cap=ending_cap)


def save(session, who: Identity = TRAINEE, conversation_id: str = "rd-1", score: ScoreCard | None = None,
         when: datetime = DAY) -> Rehearsal:
    return records.save_rehearsal(session, user=who, scenario_id="busy_official_callback",
                                  conversation_id=conversation_id, started_at=when,
                                  ended_at=when + timedelta(minutes=4), outcome="callback_agreed",
                                  card=score or card())


def counts(session) -> tuple[int, ...]:
    return (session.scalar(select(func.count()).select_from(RehearsalDispute)),
            session.scalar(select(func.count()).where(RehearsalDispute.status != "open")))


@pytest.fixture()
def db(session):
    """The demo CRM plus a second trainee (the demo data has one)."""
    session.add(User(login="trainee02", name="陈学", role="trainee", password_hash="x"))
    session.flush()
    return session


# --- the record keeps the card's caps ----------------------------------------------------------

def test_the_record_keeps_why_and_how_far_the_total_is_capped(db):
    row = save(db, score=card(ending_cap=35))
    uncapped = save(db, conversation_id="rd-2")
    db.expire_all()
    assert (db.get(Rehearsal, row.id).ending, db.get(Rehearsal, row.id).ending_cap) == ("客户挂断了电话", 35)
    assert (db.get(Rehearsal, uncapped.id).ending, db.get(Rehearsal, uncapped.id).ending_cap) == (None, None)


# --- disputing ---------------------------------------------------------------------------------

def test_the_trainee_disputes_one_item_with_a_sentence(db):
    rehearsal = save(db)
    found = records.dispute(db, TRAINEE, rehearsal.id, "next_step", f"  {REASON}\n")
    db.expire_all()
    row = db.get(RehearsalDispute, found.id)
    assert (row.rehearsal_id, row.item_key, row.text, row.status) == (rehearsal.id, "next_step", REASON, "open")
    assert row.created_at == WORKDAY_MORNING  # the frozen clock
    assert (row.points_before, row.total_before) == (0, 65)  # what the trainee disputed
    assert (row.resolver_id, row.resolved_at, row.comment, row.points_after, row.total_after) == (None,) * 5


@pytest.mark.parametrize("who", [OTHER_TRAINEE, AGENT, SUPERVISOR, None, Identity("ghost", "trainee", "无名"),
                                 Identity("trainee01", "agent", "吴昊")])
def test_only_the_rehearsals_own_user_disputes_it(db, who):
    rehearsal = save(db)
    with pytest.raises(PermissionError) as refused:
        records.dispute(db, who, rehearsal.id, "next_step", REASON)
    assert CHINESE.search(str(refused.value))
    assert counts(db) == (0, 0)


def test_a_deactivated_trainee_disputes_nothing(db):
    rehearsal = save(db)
    db.scalars(select(User).where(User.login == "trainee01")).one().active = False
    db.flush()
    with pytest.raises(PermissionError):
        records.dispute(db, TRAINEE, rehearsal.id, "next_step", REASON)
    assert counts(db) == (0, 0)


def test_an_agent_disputes_their_own_practice(db):
    rehearsal = save(db, AGENT, "rd-agent")
    assert records.dispute(db, AGENT, rehearsal.id, "questions", REASON).status == "open"


def test_no_such_rehearsal(db):
    with pytest.raises(LookupError) as refused:
        records.dispute(db, TRAINEE, 999999, "next_step", REASON)
    assert CHINESE.search(str(refused.value))


@pytest.mark.parametrize("item_key, text", [
    ("no_such_item", REASON),  # not on the card
    ("opening", REASON),  # already at full points
    ("compliance", REASON),  # full too
    (None, REASON),
    (42, REASON),
    ("next_step", ""),
    ("next_step", "   \n"),
    ("next_step", "\u200b\ufeff "),  # only invisible characters
    ("next_step", None),
    ("next_step", ["理由"]),
    ("next_step", "好" * (records.MAX_DISPUTE_CHARS + 1)),
], ids=lambda value: repr(value)[:24])
def test_a_dispute_needs_a_missed_item_and_one_sentence(db, item_key, text):
    rehearsal = save(db)
    with pytest.raises(ValueError) as refused:
        records.dispute(db, TRAINEE, rehearsal.id, item_key, text)
    assert CHINESE.search(str(refused.value))
    assert counts(db) == (0, 0)


def test_a_sentence_of_exactly_the_limit_is_accepted(db):
    rehearsal = save(db)
    text = "好" * records.MAX_DISPUTE_CHARS
    assert records.dispute(db, TRAINEE, rehearsal.id, "next_step", text).text == text


def test_a_rehearsal_without_a_score_cannot_be_disputed(db):
    rehearsal = save(db)
    rehearsal.total, rehearsal.items = None, []
    db.flush()
    with pytest.raises(ValueError):
        records.dispute(db, TRAINEE, rehearsal.id, "next_step", REASON)


@pytest.mark.parametrize("resolution", [None, True, False])
def test_each_item_is_disputed_once(db, resolution):
    rehearsal = save(db)
    first = records.dispute(db, TRAINEE, rehearsal.id, "objections", REASON)
    if resolution is not None:
        records.resolve_dispute(db, SUPERVISOR, first.id, resolution, "看过了。")
    before = counts(db)
    with pytest.raises(ValueError) as refused:
        records.dispute(db, TRAINEE, rehearsal.id, "objections", "再申诉一次。")
    assert "已经申诉" in str(refused.value)
    assert counts(db) == before
    # Another missed item of the same card is still open to a dispute.
    assert records.dispute(db, TRAINEE, rehearsal.id, "questions", REASON).item_key == "questions"


# --- who sees which disputes -------------------------------------------------------------------

def test_supervisors_see_every_dispute_open_first_oldest_first_others_their_own(db, frozen_clock):
    mine, theirs = save(db), save(db, OTHER_TRAINEE, "rd-other")
    frozen_clock(WORKDAY_MORNING + timedelta(minutes=1))
    a = records.dispute(db, TRAINEE, mine.id, "objections", REASON)
    frozen_clock(WORKDAY_MORNING + timedelta(minutes=2))
    b = records.dispute(db, OTHER_TRAINEE, theirs.id, "next_step", REASON)
    frozen_clock(WORKDAY_MORNING + timedelta(minutes=3))
    c = records.dispute(db, TRAINEE, mine.id, "next_step", REASON)
    records.resolve_dispute(db, SUPERVISOR, a.id, False, "对异议没有给出具体的处理。")
    assert [d.id for d in records.disputes_for(db, SUPERVISOR)] == [b.id, c.id, a.id]
    assert [d.id for d in records.disputes_for(db, TRAINEE)] == [c.id, a.id]
    assert [d.id for d in records.disputes_for(db, OTHER_TRAINEE)] == [b.id]
    assert records.disputes_for(db, AGENT) == [] and records.disputes_for(db, None) == []
    assert records.disputes_for(db, Identity("ghost", "supervisor", "无名")) == []  # no such user


# --- resolving ---------------------------------------------------------------------------------

def test_accepting_gives_the_item_its_full_points_and_records_the_change(db, frozen_clock):
    rehearsal = save(db)
    found = records.dispute(db, TRAINEE, rehearsal.id, "next_step", REASON)
    frozen_clock(WORKDAY_MORNING + timedelta(hours=2))
    records.resolve_dispute(db, SUPERVISOR, found.id, True, "  确实约了具体时间。 ")
    db.expire_all()
    row, stored = db.get(RehearsalDispute, found.id), db.get(Rehearsal, rehearsal.id)
    assert row.status == "accepted" and row.comment == "确实约了具体时间。"
    assert row.resolver.login == "super01" and row.resolved_at == WORKDAY_MORNING + timedelta(hours=2)
    assert (row.points_before, row.points_after, row.total_before, row.total_after) == (0, 15, 65, 80)
    assert stored.total == 80 == sum(item["points"] for item in stored.items)
    step = next(item for item in stored.items if item["key"] == "next_step")
    assert step["points"] == step["max_points"] == 15
    others = {item["key"]: item["points"] for item in stored.items if item["key"] != "next_step"}
    assert others == {"opening": 20, "questions": 10, "objections": 10, "courtesy": 5, "compliance": 20}


def test_an_accepted_dispute_moves_the_progress_average(db):
    rehearsal = save(db)
    found = records.dispute(db, TRAINEE, rehearsal.id, "next_step", REASON)
    records.resolve_dispute(db, SUPERVISOR, found.id, True, "")  # accepting needs no comment
    assert records.average_by_trainee(db, TRAINEE)["trainee01"] == [(DAY.date(), 80.0)]


@pytest.mark.parametrize("score, item, before, after", [
    # A forbidden phrase caps the total at 40 (rubric cap): 35 + 15 would be 50.
    (card({"opening": 10, "compliance": 0}, flags=("保本保收益",)), "next_step", 35, 40),
    # A hung-up call capped at 35: 30 + 15 would be 45.
    (card({"opening": 10, "compliance": 0, "courtesy": 0}, ending_cap=35), "next_step", 30, 35),
    # The cap already binds: the item gets its points, the total stays at the cap.
    (card(ending_cap=30), "objections", 30, 30),
    # Both: the lower cap wins (ending 30 below the rubric's 40).
    (card({"compliance": 0}, flags=("保本保收益",), ending_cap=30), "next_step", 30, 30),
    (card({"opening": 0, "compliance": 0}, flags=("保本保收益",), ending_cap=50), "objections", 25, 40),
    # Below both caps the total is the sum.
    (card({"opening": 0, "questions": 0, "compliance": 0}, flags=("保本保收益",), ending_cap=45), "next_step",
     15, 30),
])
def test_accepting_recomputes_the_total_under_the_cards_caps(db, score, item, before, after):
    rehearsal = save(db, score=score)
    assert rehearsal.total == before
    found = records.dispute(db, TRAINEE, rehearsal.id, item, REASON)
    records.resolve_dispute(db, SUPERVISOR, found.id, True, "同意。")
    db.expire_all()
    row = db.get(RehearsalDispute, found.id)
    assert (row.total_before, row.total_after) == (before, after)
    assert db.get(Rehearsal, rehearsal.id).total == after


def test_a_card_kept_before_its_cap_was_stored_keeps_its_capped_total(db):
    """Rehearsals saved before 0011 have no ending_cap: a total below the sum stands as the cap."""
    rehearsal = save(db, score=card(total=28))  # the sum is 65: an unrecorded ending cap of 28
    found = records.dispute(db, TRAINEE, rehearsal.id, "next_step", REASON)
    records.resolve_dispute(db, SUPERVISOR, found.id, True, "同意。")
    assert db.get(Rehearsal, rehearsal.id).total == 28


def test_two_accepted_disputes_add_up(db):
    rehearsal = save(db)
    first = records.dispute(db, TRAINEE, rehearsal.id, "next_step", REASON)
    second = records.dispute(db, TRAINEE, rehearsal.id, "objections", REASON)
    records.resolve_dispute(db, SUPERVISOR, first.id, True, "")
    records.resolve_dispute(db, SUPERVISOR, second.id, True, "")
    db.expire_all()
    row = db.get(RehearsalDispute, second.id)
    assert (row.points_before, row.points_after, row.total_before, row.total_after) == (10, 25, 80, 95)
    assert db.get(Rehearsal, rehearsal.id).total == 95


def test_rejecting_needs_a_comment_and_changes_no_score(db):
    rehearsal = save(db)
    found = records.dispute(db, TRAINEE, rehearsal.id, "next_step", REASON)
    for empty in ("", "   ", "\u200b", None):
        with pytest.raises(ValueError) as refused:
            records.resolve_dispute(db, SUPERVISOR, found.id, False, empty)
        assert "驳回" in str(refused.value)
    assert db.get(RehearsalDispute, found.id).status == "open"
    records.resolve_dispute(db, SUPERVISOR, found.id, False, "“晚点再打”没有具体时间，不算明确的下一步。")
    db.expire_all()
    row = db.get(RehearsalDispute, found.id)
    assert row.status == "rejected" and row.comment == "“晚点再打”没有具体时间，不算明确的下一步。"
    assert (row.points_before, row.points_after, row.total_before, row.total_after) == (0, 0, 65, 65)
    assert row.resolver.login == "super01" and row.resolved_at == WORKDAY_MORNING
    stored = db.get(Rehearsal, rehearsal.id)
    assert stored.total == 65 and next(i for i in stored.items if i["key"] == "next_step")["points"] == 0


@pytest.mark.parametrize("who", [TRAINEE, OTHER_TRAINEE, AGENT, None, Identity("ghost", "supervisor", "无名")])
def test_only_supervisors_resolve(db, who):
    rehearsal = save(db)
    found = records.dispute(db, TRAINEE, rehearsal.id, "next_step", REASON)
    for accept in (True, False):
        with pytest.raises(PermissionError) as refused:
            records.resolve_dispute(db, who, found.id, accept, "我同意。")
        assert CHINESE.search(str(refused.value))
    db.expire_all()
    assert db.get(RehearsalDispute, found.id).status == "open" and db.get(Rehearsal, rehearsal.id).total == 65


def test_a_supervisor_does_not_resolve_a_dispute_on_their_own_practice(db):
    rehearsal = save(db, SUPERVISOR, "rd-super")
    found = records.dispute(db, SUPERVISOR, rehearsal.id, "next_step", REASON)
    with pytest.raises(PermissionError):
        records.resolve_dispute(db, SUPERVISOR, found.id, True, "")
    assert db.get(RehearsalDispute, found.id).status == "open"


def test_a_resolved_dispute_stays_resolved(db):
    rehearsal = save(db)
    found = records.dispute(db, TRAINEE, rehearsal.id, "next_step", REASON)
    records.resolve_dispute(db, SUPERVISOR, found.id, False, "不同意。")
    with pytest.raises(ValueError) as refused:
        records.resolve_dispute(db, SUPERVISOR, found.id, True, "")
    assert "已处理" in str(refused.value)
    assert db.get(Rehearsal, rehearsal.id).total == 65


@pytest.mark.parametrize("dispute_id, accept, comment, error", [
    (999999, True, "", LookupError),
    ("x", True, "", LookupError),
    ("own", None, "不同意。", ValueError),  # accept must be a yes or a no
    ("own", "yes", "", ValueError),
    ("own", 1, "", ValueError),
    ("own", False, "好" * (records.MAX_COMMENT_CHARS + 1), ValueError),
    ("own", True, 42, ValueError),
], ids=lambda value: repr(value)[:24])
def test_bad_resolutions_are_refused_before_anything_is_written(db, dispute_id, accept, comment, error):
    rehearsal = save(db)
    found = records.dispute(db, TRAINEE, rehearsal.id, "next_step", REASON)
    with pytest.raises(error) as refused:
        records.resolve_dispute(db, SUPERVISOR, found.id if dispute_id == "own" else dispute_id, accept, comment)
    assert CHINESE.search(str(refused.value))
    assert db.get(RehearsalDispute, found.id).status == "open" and db.get(Rehearsal, rehearsal.id).total == 65


# --- labels ------------------------------------------------------------------------------------

def test_every_dispute_status_has_exactly_one_label():
    assert tuple(labels.dispute("dispute_statuses")) == DISPUTE_STATUSES
    assert {"dispute", "disputed", "accept", "reject"} <= set(labels.dispute("dispute_buttons"))
    served = labels.for_pages()
    assert served["dispute_statuses"] == labels.dispute("dispute_statuses")
    assert served["dispute_buttons"] == labels.dispute("dispute_buttons")


WEB_FILES = sorted((ROOT / "bot" / "web" / "static").glob("*.js")) + \
    sorted((ROOT / "bot" / "web" / "templates").glob("*.html"))


@pytest.mark.parametrize("path", WEB_FILES, ids=lambda p: p.name)
def test_no_page_file_defines_a_dispute_label(path):
    texts = {text for section in labels.DISPUTE_SECTIONS for text in labels.dispute(section).values()}
    found = sorted({text for text in _literals(path) if text in texts})
    assert found == [], f"{path.name} hard-codes dispute labels {found}: take them from the served labels"


# --- HTTP --------------------------------------------------------------------------------------

@pytest.fixture()
def saved(crm_url):
    """trainee01's rehearsal (next_step and objections missed), trainee02's and agent01's."""
    with sessions(crm_url).begin() as session:
        session.add(User(login="trainee02", name="陈学", role="trainee",
                         password_hash=session.scalars(select(User.password_hash)
                                                       .where(User.login == "trainee01")).one()))
        session.flush()
        return {"mine": save(session).id, "other": save(session, OTHER_TRAINEE, "rd-other").id,
                "agent": save(session, AGENT, "rd-agent", card(flags=("保本保收益",))).id}


def bearer(web, login: str) -> dict:  # noqa: F811 - pytest fixture name
    return {"Authorization": f"Bearer {token_for(web, login, PASSWORDS[login]).json()['token']}"}


def get(web, path: str, login: str | None) -> requests.Response:  # noqa: F811
    return requests.get(f"{web}{path}", headers=bearer(web, login) if login else {}, timeout=30)


def post(web, path: str, login: str | None, body=None, data: str | None = None) -> requests.Response:  # noqa: F811
    headers = bearer(web, login) if login else {}
    if data is not None:
        return requests.post(f"{web}{path}", data=data, timeout=30,
                             headers={**headers, "Content-Type": "application/json"})
    return requests.post(f"{web}{path}", json=body, headers=headers, timeout=30)


def test_a_dispute_goes_from_the_trainee_to_the_supervisor_and_back(web, saved):  # noqa: F811
    rid = saved["mine"]
    reply = post(web, f"/api/rehearsals/{rid}/disputes", "trainee01", {"item": "next_step", "text": REASON})
    assert reply.status_code == 201
    made = reply.json()
    assert (made["rehearsal_id"], made["item"], made["text"], made["status"]) == (rid, "next_step", REASON, "open")
    assert made["status_label"] == labels.dispute("dispute_statuses")["open"]

    listed = get(web, "/api/disputes", "super01").json()
    assert [d["id"] for d in listed] == [made["id"]]
    entry = listed[0]
    assert entry["trainee_name"] == "吴昊" and entry["login"] == "trainee01"
    assert entry["scenario_title"] and entry["scenario_title"] != "busy_official_callback"
    assert entry["item_title"] == "next_step标题" and entry["max_points"] == 15
    assert (entry["points_before"], entry["points_after"], entry["comment"]) == (0, None, None)
    assert get(web, "/api/disputes", "trainee01").json()[0]["id"] == made["id"]
    assert get(web, "/api/disputes", "trainee02").json() == []
    assert get(web, "/api/disputes", "agent01").json() == []

    answered = post(web, f"/api/disputes/{made['id']}", "super01", {"accept": True, "comment": "约了具体时间。"})
    assert answered.status_code == 200
    done = answered.json()
    assert (done["status"], done["points_before"], done["points_after"]) == ("accepted", 0, 15)
    assert (done["total_before"], done["total_after"], done["resolver_name"]) == (65, 80, "郑主管")
    assert get(web, f"/api/rehearsals/{rid}", "trainee01").json()["total"] == 80
    mine = get(web, "/api/disputes", "trainee01").json()[0]
    assert mine["status_label"] == labels.dispute("dispute_statuses")["accepted"]
    assert mine["comment"] == "约了具体时间。"


def test_the_routes_need_a_token(web, saved):  # noqa: F811
    assert get(web, "/api/disputes", None).status_code == 401
    assert post(web, f"/api/rehearsals/{saved['mine']}/disputes", None, {"item": "next_step",
                                                                        "text": REASON}).status_code == 401
    assert post(web, "/api/disputes/1", None, {"accept": True}).status_code == 401


@pytest.mark.parametrize("login, rehearsal, body, data, status, message", [
    ("trainee02", "mine", {"item": "next_step", "text": REASON}, None, 403, "本人"),
    ("super01", "mine", {"item": "next_step", "text": REASON}, None, 403, "本人"),
    ("trainee01", "missing", {"item": "next_step", "text": REASON}, None, 404, "没有这条练习记录"),
    ("trainee01", "mine", {"item": "opening", "text": REASON}, None, 400, "满分"),
    ("trainee01", "mine", {"item": "nothing", "text": REASON}, None, 400, "没有这一项"),
    ("trainee01", "mine", {"text": REASON}, None, 400, "没有这一项"),
    ("trainee01", "mine", {"item": ["next_step"], "text": REASON}, None, 400, "没有这一项"),
    ("trainee01", "mine", {"item": "next_step"}, None, 400, "理由"),
    ("trainee01", "mine", {"item": "next_step", "text": 5}, None, 400, "理由"),
    ("trainee01", "mine", {"item": "next_step", "text": " \u200b "}, None, 400, "理由"),
    ("trainee01", "mine", {"item": "next_step", "text": "好" * 501}, None, 400, "500"),
    ("trainee01", "mine", None, "{not json", 400, "没有这一项"),
    ("trainee01", "mine", None, "[1, 2]", 400, "没有这一项"),
], ids=lambda value: repr(value)[:24])
def test_bad_disputes_are_refused_in_chinese(web, saved, login, rehearsal, body, data, status,  # noqa: F811
                                             message):
    rid = saved.get(rehearsal, 999999)
    reply = post(web, f"/api/rehearsals/{rid}/disputes", login, body, data)
    assert reply.status_code == status and message in reply.json()["error"]
    assert get(web, "/api/disputes", "super01").json() == []


def test_a_second_dispute_on_the_same_item_is_refused(web, saved):  # noqa: F811
    url = f"/api/rehearsals/{saved['mine']}/disputes"
    assert post(web, url, "trainee01", {"item": "next_step", "text": REASON}).status_code == 201
    again = post(web, url, "trainee01", {"item": "next_step", "text": "再说一次。"})
    assert again.status_code == 409 and "已经申诉" in again.json()["error"]


@pytest.mark.parametrize("login, body, data, status, message", [
    ("trainee01", {"accept": True, "comment": ""}, None, 403, "主管"),
    ("agent01", {"accept": True, "comment": ""}, None, 403, "主管"),
    ("super01", {"accept": False, "comment": "  "}, None, 400, "驳回"),
    ("super01", {"accept": False}, None, 400, "驳回"),
    ("super01", {"accept": "yes", "comment": ""}, None, 400, "接受还是驳回"),
    ("super01", {"comment": "好"}, None, 400, "接受还是驳回"),
    ("super01", {"accept": True, "comment": 7}, None, 400, "意见"),
    ("super01", {"accept": False, "comment": "好" * 2001}, None, 400, "2000"),
    ("super01", None, "{not json", 400, "接受还是驳回"),
], ids=lambda value: repr(value)[:24])
def test_bad_resolutions_are_refused_in_chinese(web, saved, crm_url, login, body, data, status,  # noqa: F811
                                                message):
    with sessions(crm_url).begin() as session:
        found = records.dispute(session, TRAINEE, saved["mine"], "next_step", REASON).id
    reply = post(web, f"/api/disputes/{found}", login, body, data)
    assert reply.status_code == status and message in reply.json()["error"]
    assert get(web, "/api/disputes", "super01").json()[0]["status"] == "open"
    assert get(web, f"/api/rehearsals/{saved['mine']}", "super01").json()["total"] == 65


def test_unknown_and_resolved_disputes(web, saved, crm_url):  # noqa: F811
    assert post(web, "/api/disputes/999999", "super01", {"accept": True}).status_code == 404
    with sessions(crm_url).begin() as session:
        found = records.dispute(session, TRAINEE, saved["mine"], "next_step", REASON).id
    assert post(web, f"/api/disputes/{found}", "super01", {"accept": False, "comment": "不同意。"}).status_code == 200
    again = post(web, f"/api/disputes/{found}", "super01", {"accept": True})
    assert again.status_code == 409 and "已处理" in again.json()["error"]
    assert get(web, f"/api/rehearsals/{saved['mine']}", "super01").json()["total"] == 65


def test_a_browser_session_needs_its_csrf_token(web, saved):  # noqa: F811
    trainee, _reply = browser_login(web, "trainee01", "demo-trainee")
    url = f"{web}/api/rehearsals/{saved['mine']}/disputes"
    assert trainee.post(url, json={"item": "next_step", "text": REASON}, timeout=30).status_code == 403
    page = trainee.get(f"{web}/review/rehearsals/{saved['mine']}", timeout=30).text
    csrf = re.search(r'data-csrf="([^"]+)"', page).group(1)
    made = trainee.post(url, json={"item": "next_step", "text": REASON}, headers={"X-CSRF-Token": csrf}, timeout=30)
    assert made.status_code == 201
    supervisor, _reply = browser_login(web, "super01", "demo-super")
    answer = f"{web}/api/disputes/{made.json()['id']}"
    assert supervisor.post(answer, json={"accept": True}, timeout=30).status_code == 403
    csrf = re.search(r'id="rehearsal-disputes"[^>]*data-csrf="([^"]+)"', supervisor.get(f"{web}/", timeout=30).text)
    assert supervisor.post(answer, json={"accept": True}, headers={"X-CSRF-Token": csrf.group(1)},
                           timeout=30).status_code == 200


# --- the pages ---------------------------------------------------------------------------------

def _rehearsal_data(page: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="rehearsal-data">(.*?)</script>', page, re.S)
                      .group(1))


def test_the_stored_card_tells_its_trainee_which_items_are_disputed(web, saved, crm_url):  # noqa: F811
    with sessions(crm_url).begin() as session:
        records.dispute(session, TRAINEE, saved["mine"], "next_step", REASON)
    trainee, _reply = browser_login(web, "trainee01", "demo-trainee")
    page = trainee.get(f"{web}/review/rehearsals/{saved['mine']}", timeout=30).text
    data = _rehearsal_data(page)
    assert data["may_dispute"] is True
    assert [(d["item"], d["status"]) for d in data["disputes"]] == [("next_step", "open")]
    assert 'id="rehearsal-card"' in page and "data-csrf=" in page
    supervisor, _reply = browser_login(web, "super01", "demo-super")
    data = _rehearsal_data(supervisor.get(f"{web}/review/rehearsals/{saved['mine']}", timeout=30).text)
    assert data["may_dispute"] is False and len(data["disputes"]) == 1


def test_the_review_page_has_the_dispute_section_in_the_rehearsal_tab(web):  # noqa: F811
    browser, _reply = browser_login(web, "super01", "demo-super")
    page = browser.get(f"{web}/", timeout=30).text
    panel = page[page.index('id="panel-rehearsals"'):page.index('id="panel-audit"')]
    assert 'id="rehearsal-disputes"' in panel and 'id="disputes-body"' in panel
    assert "review-disputes.js" in page
    served = json.loads(re.search(r'<script type="application/json" id="labels">(.*?)</script>', page, re.S).group(1))
    assert served["dispute_buttons"] == labels.dispute("dispute_buttons")
