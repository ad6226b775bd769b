"""The rehearsal's web part (issue 10): the trainee's screen instead of the live widget, the
scenario, rehearsal, progress and coaching-comment API, and the supervisor's 陪练 review, on the
real web app and the real (SQLite) CRM, with rehearsals played and scored by bot.rehearsal."""

from __future__ import annotations

import json
import random
import re
from datetime import datetime, timedelta

import pytest
import requests
from sqlalchemy import select

from bot import labels
from bot.auth import Identity
from bot.db import sessions
from bot.demo_data import read_demo_data
from bot.models import Call, Client, CoachingComment, User
from bot.rehearsal import records, roleplay
from bot.rehearsal.scenarios import load_scenarios
from tests.conftest import DEMO_PASSWORDS, ROOT
from tests.test_accounts import browser_login, live_app, token_for, web  # noqa: F401 - fixtures
from tests.test_labels import _literals

BANK = "星海银行"
TRAINEE = Identity("trainee01", "trainee", "吴昊")
OTHER_TRAINEE = Identity("trainee02", "trainee", "陈学")
AGENT = Identity("agent01", "agent", "李明")
PASSWORDS = {**DEMO_PASSWORDS, "trainee02": "demo-trainee"}
DAY1, DAY2 = datetime(2026, 11, 23, 9, 0), datetime(2026, 11, 24, 15, 0)

# A careful trainee with the busy official: identity, purpose, benefit, then a callback.
CAREFUL = [
    "何先生您好，我是星海银行的客户经理李明。为了保障您的权益，本次通话会全程录音。今天打电话是想跟您介绍我们的"
    "大额存单，它的好处是利率高于普通定期。您现在方便听我说两句吗？",
    "不好意思打扰您了！那我一个小时后再给您打过来，您看下午三点方便吗？",
    "好的，大额存单的官方介绍您可以在星海银行手机银行或官网上看到。我下午三点再打给您，我们一起过一遍，您看行吗？谢谢您！",
]
# A pushy one who promises guaranteed returns.
PUSHY = [
    "喂，我是星海银行的，给你推荐代发工资，保本稳赚，今天就办吧！",
    "别想了，名额有限，马上办，错过就没了！",
    "你懂不懂，稳赚的，今天就办。",
]
MEDIOCRE = ["您好，我是星海银行的，想给您介绍一下白金信用卡。", "这张卡挺好的。"]


def rehearse(scenario_id: str, lines: list[str]):
    """Play ``lines`` to the scenario's customer (seed 0): the score card, outcome and turns to save."""
    rng = random.Random(0)
    session = roleplay.start(scenario_id)
    for line in lines:
        if session.ended:
            break
        session, _answer = roleplay.reply(session, line, rng)
    card = roleplay.finish(session, bank=BANK)
    turns = roleplay.transcript(session, bank=BANK)
    return card, session.outcome or roleplay.ABANDONED, turns


@pytest.fixture()
def saved(crm_url):
    """trainee01: a careful rehearsal (day 1) and a pushy one (day 2); trainee02 and agent01
    (practising) one each. Returns {name: (rehearsal id, conversation id, total)}."""
    plays = {
        "careful": (TRAINEE, "busy_official_callback", CAREFUL, DAY1, "rh-careful"),
        "pushy": (TRAINEE, "loyal_boss_payroll", PUSHY, DAY2, "rh-pushy"),
        "other": (OTHER_TRAINEE, "card_lover_platinum", MEDIOCRE, DAY1, "rh-other"),
        "agent": (AGENT, "busy_official_callback", CAREFUL[:1], DAY2, "rh-agent"),
    }
    found = {}
    with sessions(crm_url).begin() as session:
        session.add(User(login="trainee02", name="陈学", role="trainee",
                         password_hash=session.scalars(select(User.password_hash)
                                                       .where(User.login == "trainee01")).one()))
        session.flush()
        for name, (who, scenario_id, lines, when, conversation_id) in plays.items():
            card, outcome, turns = rehearse(scenario_id, lines)
            row = records.save_rehearsal(session, user=who, scenario_id=scenario_id, conversation_id=conversation_id,
                                         started_at=when, ended_at=when + timedelta(minutes=4), outcome=outcome,
                                         card=card, turns=turns)
            found[name] = (row.id, conversation_id, card.total)
    return found


def bearer(web, login: str) -> dict:  # noqa: F811 - pytest fixture name
    return {"Authorization": f"Bearer {token_for(web, login, PASSWORDS[login]).json()['token']}"}


def get(web, path: str, login: str | None) -> requests.Response:  # noqa: F811
    return requests.get(f"{web}{path}", headers=bearer(web, login) if login else {}, timeout=30)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


# --- the trainee's screen ----------------------------------------------------------------------

def test_a_trainee_gets_the_rehearsal_screen_not_the_widget(web):  # noqa: F811
    browser, _reply = browser_login(web, "trainee01", "demo-trainee")
    page = browser.get(f"{web}/", timeout=30).text
    assert 'id="picker"' in page and 'id="progress-chart"' in page and 'id="history"' in page
    assert 'aria-live="polite"' in page and 'role="log"' in page
    assert 'id="outcome-bar"' not in page and "widget.js" not in page and 'id="followups"' not in page
    assert labels.rehearsal("rehearsal_buttons")["stop"] in page  # from labels.yml, not the template
    served = json.loads(re.search(r'<script type="application/json" id="labels">(.*?)</script>', page, re.S).group(1))
    for section in labels.REHEARSAL_SECTIONS:
        assert served[section] == labels.rehearsal(section)
    assert browser.get(f"{web}/rehearsal", timeout=30).status_code == 200


def test_agents_may_practise_and_supervisors_review_instead(web):  # noqa: F811
    agent, _reply = browser_login(web, "agent01", "demo-agent")
    assert 'href="/rehearsal"' in agent.get(f"{web}/", timeout=30).text  # the widget links to practice
    assert 'id="picker"' in agent.get(f"{web}/rehearsal", timeout=30).text
    supervisor, _reply = browser_login(web, "super01", "demo-super")
    moved = supervisor.get(f"{web}/rehearsal", allow_redirects=False, timeout=30)
    assert moved.status_code in (302, 303) and moved.headers["Location"] == "/#rehearsals"
    assert requests.get(f"{web}/rehearsal", allow_redirects=False, timeout=30).headers["Location"] == "/"


@pytest.mark.parametrize("path", ["/api/clients/1", "/api/clients/13800000001", "/api/calls", "/api/followups",
                                  "/api/conversations", "/api/dashboard", "/api/calls.csv"])
def test_a_trainee_never_reads_a_real_client(web, path):  # noqa: F811
    reply = get(web, path, "trainee01")
    assert reply.status_code == 403 and "练习" in reply.json()["error"]


# --- scenarios ---------------------------------------------------------------------------------

def test_the_scenarios_are_all_there_and_fictional(web, session):  # noqa: F811
    reply = get(web, "/api/scenarios", "trainee01")
    assert reply.status_code == 200
    scenarios = reply.json()
    assert [s["id"] for s in scenarios] == [s.id for s in load_scenarios()] and len(scenarios) == 9
    real = set(session.scalars(select(Client.name)))
    products = {p["code"]: p["name"] for p in read_demo_data()["products"]}
    for s in scenarios:
        assert s["persona"]["name"] not in real and "modelled_on" not in s["persona"]
        assert not any(name in json.dumps(s, ensure_ascii=False) for name in real), s["id"]
        assert s["difficulty_label"] == labels.rehearsal("difficulties")[s["difficulty"]]
        assert s["product"]["name"] == products[s["product"]["code"]]
        assert s["objections"] and all(o["title"] == labels.intent_titles()[o["intent"]] for o in s["objections"])
        assert {"title", "gender", "age", "occupation", "temperament", "needs"} <= set(s["persona"])
    assert get(web, "/api/scenarios", "super01").status_code == 200
    assert get(web, "/api/scenarios", None).status_code == 401


# --- rehearsals, detail, progress --------------------------------------------------------------

def test_each_sees_their_own_rehearsals_and_the_supervisor_all(web, saved):  # noqa: F811
    own = get(web, "/api/rehearsals", "trainee01").json()
    assert [r["id"] for r in own] == [saved["pushy"][0], saved["careful"][0]]  # newest first
    pushy = own[0]
    assert pushy["login"] == "trainee01" and pushy["name"] == "吴昊" and pushy["conversation_id"] == "rh-pushy"
    assert pushy["scenario_title"] == "老客户黄老板：给公司办代发工资" and pushy["total"] == saved["pushy"][2]
    assert pushy["outcome_label"] == labels.rehearsal("rehearsal_outcomes")[pushy["outcome"]]
    assert pushy["flags"] and pushy["comments"] == 0 and pushy["started_at"] == DAY2.isoformat()
    assert {r["id"] for r in get(web, "/api/rehearsals", "agent01").json()} == {saved["agent"][0]}
    assert {r["id"] for r in get(web, "/api/rehearsals", "super01").json()} == {v[0] for v in saved.values()}


def test_the_detail_is_for_its_trainee_and_supervisors(web, saved):  # noqa: F811
    rid = saved["careful"][0]
    mine = get(web, f"/api/rehearsals/{rid}", "trainee01")
    assert mine.status_code == 200
    detail = mine.json()
    assert detail["total"] == saved["careful"][2] and len(detail["items"]) == 6
    assert all({"key", "title", "points", "max_points", "feedback", "model_line"} <= set(i) for i in detail["items"])
    trainee_lines = [t for t in detail["turns"] if t["speaker"] == "trainee"]
    assert [t["text"] for t in trainee_lines] == CAREFUL
    assert "identity" in trainee_lines[0]["functions"]
    assert detail["scenario"]["persona"]["title"] == "何先生" and detail["comment_list"] == []
    refused = get(web, f"/api/rehearsals/{rid}", "trainee02")
    assert refused.status_code == 403 and "无权" in refused.json()["error"]
    assert get(web, f"/api/rehearsals/{rid}", "agent01").status_code == 403
    assert get(web, f"/api/rehearsals/{rid}", "super01").status_code == 200
    assert get(web, "/api/rehearsals/999999", "super01").status_code == 404


def test_the_rehearsal_page_shows_the_transcript_beside_the_rubric(web, saved):  # noqa: F811
    rid = saved["pushy"][0]
    supervisor, _reply = browser_login(web, "super01", "demo-super")
    page = supervisor.get(f"{web}/review/rehearsals/{rid}", timeout=30).text
    assert "练习记录：老客户黄老板：给公司办代发工资" in page and "吴昊" in page
    assert 'id="rehearsal-turns"' in page and 'id="rehearsal-card"' in page and "违规：" in page
    data = json.loads(re.search(r'<script type="application/json" id="rehearsal-data">(.*?)</script>', page, re.S)
                      .group(1))
    assert data["id"] == rid and data["items"] and data["turns"][0]["text"] == PUSHY[0]
    assert "promise" in data["turns"][0]["functions"]
    assert "data-comments-form" in page and 'data-conversation="rh-pushy"' in page
    own, _reply = browser_login(web, "trainee01", "demo-trainee")
    page = own.get(f"{web}/review/rehearsals/{rid}", timeout=30)
    assert page.status_code == 200 and 'data-conversation="rh-pushy"' in page.text
    assert "data-comments-form" not in page.text  # trainees read comments, supervisors write them
    other, _reply = browser_login(web, "trainee02", "demo-trainee")
    assert other.get(f"{web}/review/rehearsals/{rid}", timeout=30).status_code == 403


def test_progress_is_the_average_per_day(web, saved, crm_url):  # noqa: F811
    own = get(web, "/api/rehearsals/progress", "trainee01").json()
    assert own == [{"login": "trainee01", "name": "吴昊", "points": [
        {"day": "2026-11-23", "average": float(saved["careful"][2])},
        {"day": "2026-11-24", "average": float(saved["pushy"][2])}]}]
    assert [s["login"] for s in get(web, "/api/rehearsals/progress", "agent01").json()] == ["agent01"]
    everyone = {s["login"]: s for s in get(web, "/api/rehearsals/progress", "super01").json()}
    assert set(everyone) == {"trainee01", "trainee02", "agent01"}
    assert everyone["trainee01"]["points"] == own[0]["points"] and everyone["trainee02"]["name"] == "陈学"
    with sessions(crm_url).begin() as session:
        expected = records.average_by_trainee(session, Identity("super01", "supervisor", "郑主管"))
    assert {login: [(p["day"], p["average"]) for p in s["points"]] for login, s in everyone.items()} == \
        {login: [(d.isoformat(), a) for d, a in days] for login, days in expected.items()}


# --- coaching comments -------------------------------------------------------------------------

def post_comment(web, conversation_id: str, body, login: str) -> requests.Response:  # noqa: F811
    return requests.post(f"{web}/api/conversations/{conversation_id}/comments", json={"body": body},
                         headers=bearer(web, login), timeout=30)


def test_a_supervisor_comments_with_csrf_and_the_trainee_reads_it(web, saved, crm_url):  # noqa: F811
    supervisor, _reply = browser_login(web, "super01", "demo-super")
    url = f"{web}/api/conversations/rh-careful/comments"
    assert supervisor.post(url, json={"body": "开场很完整。"}, timeout=30).status_code == 403  # no CSRF token
    csrf = csrf_of(supervisor.get(f"{web}/", timeout=30).text)
    reply = supervisor.post(url, json={"body": "  开场很完整，下次约回电时把时间说得更具体。 "},
                            headers={"X-CSRF-Token": csrf}, timeout=30)
    assert reply.status_code == 201
    assert reply.json()["body"] == "开场很完整，下次约回电时把时间说得更具体。"  # trimmed
    assert reply.json()["author_name"] == "郑主管"
    with sessions(crm_url).begin() as session:
        stored = session.scalars(select(CoachingComment)).one()
        assert (stored.conversation_id, stored.author.login) == ("rh-careful", "super01")

    mine = get(web, "/api/comments/mine", "trainee01").json()
    assert [(c["body"], c["rehearsal_id"], c["kind"]) for c in mine] == \
        [("开场很完整，下次约回电时把时间说得更具体。", saved["careful"][0], "rehearsal")]
    assert mine[0]["url"] == f"/review/rehearsals/{saved['careful'][0]}" and mine[0]["about"]
    assert get(web, "/api/comments/mine", "trainee02").json() == []
    assert get(web, "/api/comments/mine", "agent01").json() == []
    thread = get(web, "/api/conversations/rh-careful/comments", "trainee01")
    assert [c["author"] for c in thread.json()] == ["super01"]
    assert get(web, "/api/conversations/rh-careful/comments", "trainee02").status_code == 403
    listed = {r["conversation_id"]: r["comments"] for r in get(web, "/api/rehearsals", "trainee01").json()}
    assert listed == {"rh-careful": 1, "rh-pushy": 0}
    assert get(web, f"/api/rehearsals/{saved['careful'][0]}", "trainee01").json()["comment_list"][0]["author"] \
        == "super01"


@pytest.mark.parametrize("login", ["trainee01", "trainee02", "agent01"])
def test_only_supervisors_comment(web, saved, login):  # noqa: F811
    reply = post_comment(web, "rh-careful", "我觉得不错。", login)
    assert reply.status_code == 403 and reply.json()["error"] == "只有主管可以写辅导点评。"


@pytest.mark.parametrize("body, status, message", [
    ("", 400, "点评内容不能为空。"),
    ("   ", 400, "点评内容不能为空。"),
    (None, 400, "点评内容不能为空。"),
    (42, 400, "点评内容不能为空。"),
    ("好" * (records.MAX_COMMENT_CHARS + 1), 400, "点评内容太长"),
])
def test_bad_comment_bodies_are_refused_in_chinese(web, saved, body, status, message):  # noqa: F811
    reply = post_comment(web, "rh-careful", body, "super01")
    assert reply.status_code == status and reply.json()["error"].startswith(message)


def test_malformed_json_and_unknown_transcripts(web, saved):  # noqa: F811
    headers = {**bearer(web, "super01"), "Content-Type": "application/json"}
    reply = requests.post(f"{web}/api/conversations/rh-careful/comments", data="{not json", headers=headers,
                          timeout=30)
    assert reply.status_code == 400 and reply.json()["error"] == "点评内容不能为空。"
    missing = post_comment(web, "no-such-conversation", "好的。", "super01")
    assert missing.status_code == 404 and "找不到" in missing.json()["error"]


def test_a_comment_on_a_live_call_reaches_its_agent_only(web, crm_url):  # noqa: F811
    with sessions(crm_url).begin() as session:
        agent = session.scalars(select(User).where(User.login == "agent01")).one()
        client = session.scalars(select(Client).where(Client.agent_id == agent.id)).first()
        session.add(Call(conversation_id="live-1", agent_id=agent.id, client_id=client.id, started_at=DAY1))
        client_name = client.name
    assert post_comment(web, "live-1", "客户说在开会时，先约时间再挂电话。", "super01").status_code == 201
    mine = get(web, "/api/comments/mine", "agent01").json()
    assert [(c["kind"], c["about"], c["url"]) for c in mine] == [("call", client_name, "/review/conversations/live-1")]
    assert get(web, "/api/comments/mine", "agent02").json() == []
    assert get(web, "/api/conversations/live-1/comments", "agent02").status_code == 403


# --- the pages ---------------------------------------------------------------------------------

def test_the_review_page_has_the_rehearsal_section(web):  # noqa: F811
    browser, _reply = browser_login(web, "super01", "demo-super")
    page = browser.get(f"{web}/", timeout=30).text
    assert re.search(r'role="tab"[^>]*data-tab="rehearsals"[^>]*>陪练</button>', page)
    assert 'id="panel-rehearsals"' in page and 'id="chart-rehearsals"' in page and 'id="rehearsals-body"' in page
    assert "review-rehearsals.js" in page and "charts.js" in page


def test_the_live_transcript_page_carries_the_comments(web, crm_url):  # noqa: F811
    with sessions(crm_url).begin() as session:
        agent = session.scalars(select(User).where(User.login == "agent01")).one()
        client = session.scalars(select(Client).where(Client.agent_id == agent.id)).first()
        session.add(Call(conversation_id="live-2", agent_id=agent.id, client_id=client.id, started_at=DAY1,
                         disposition="interested"))
    supervisor, _reply = browser_login(web, "super01", "demo-super")
    page = supervisor.get(f"{web}/review/conversations/live-2", timeout=30).text
    assert 'data-conversation="live-2"' in page and "data-comments-form" in page and "comments.js" in page
    agent, _reply = browser_login(web, "agent01", "demo-agent")
    page = agent.get(f"{web}/review/conversations/live-2", timeout=30).text
    assert 'data-conversation="live-2"' in page and "data-comments-form" not in page
    assert 'id="comments-mine"' in agent.get(f"{web}/", timeout=30).text  # the widget's 主管点评 panel


WEB_FILES = sorted((ROOT / "bot" / "web" / "static").glob("*.js")) + \
    sorted((ROOT / "bot" / "web" / "templates").glob("*.html"))


@pytest.mark.parametrize("path", WEB_FILES, ids=lambda p: p.name)
def test_no_page_file_defines_a_rehearsal_label(path):
    texts = {text for section in labels.REHEARSAL_SECTIONS for text in labels.rehearsal(section).values()}
    found = sorted({text for text in _literals(path) if text in texts})
    assert found == [], f"{path.name} hard-codes rehearsal labels {found}: take them from the served labels"
