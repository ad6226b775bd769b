"""The 话术效果 page's API (bot/web/api/learning.py) on a real SQLite CRM: supervisors alone read how each
opening style does per segment and set the controls; a rate is shown only from enough recent reached
calls, with an interval around it; a pin moves the recommendation and lands in the change log; a refused
or malformed control is a Chinese 400 and writes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

from bot.db import sessions
from bot.labels import for_pages
from bot.learning import MIN_CALLS
from bot.models import ALL_SEGMENTS, Call, Change, LearningControl
from bot.playbook import playbook
from tests.conftest import WORKDAY_MORNING
from tests.test_accounts import bearer, browser_login, live_app, token_for, web  # noqa: F401 - fixtures
from tests.test_assignment_web import PASSWORDS

CIVIL = "civil_servant"
OPENINGS, CONTROLS = "/api/learning/openings", "/api/learning/controls"
TEXTS = playbook().messages.learning_texts
FEW = MIN_CALLS - 5  # reached calls of a style too few to show its rate


def seed_calls() -> None:
    """Civil servants in the last weeks: 30 reached calls opened with 制造忧虑 (half of them 有意向),
    30 with 同类借故 (mostly refused), a few with 直截了当."""
    plan = ([("worry", "interested")] * 15 + [("worry", "refused")] * 15
            + [("peer_reference", "interested")] * 3 + [("peer_reference", "refused")] * 27
            + [("direct", "interested")] * 2 + [("direct", "refused")] * (FEW - 2))
    with sessions().begin() as session:
        for n, (style, disposition) in enumerate(plan):
            session.add(Call(conversation_id=f"learning-web-{n}", segment=CIVIL, opening_style=style,
                             disposition=disposition, started_at=WORKDAY_MORNING - timedelta(days=1 + n % 40)))


def _token(web, login: str) -> dict:  # noqa: F811 - pytest fixture name
    return bearer(token_for(web, login, PASSWORDS[login]).json()["token"])


def _segment(page: dict, code: str = CIVIL) -> dict:
    return next(entry for entry in page["segments"] if entry["segment"] == code)


def _style(entry: dict, style: str) -> dict:
    return next(s for s in entry["styles"] if s["style"] == style)


def _written() -> tuple[int, int]:
    """(learning changes in the change log, control rows)."""
    with sessions().begin() as session:
        return (session.scalar(select(func.count()).select_from(Change).where(Change.kind == "learning")),
                session.scalar(select(func.count()).select_from(LearningControl)))


@pytest.mark.parametrize("login", ["agent01", "trainee01"])
def test_agents_and_trainees_are_refused_both_routes(web, login):  # noqa: F811
    headers = _token(web, login)
    read = requests.get(f"{web}{OPENINGS}", headers=headers, timeout=30)
    write = requests.post(f"{web}{CONTROLS}", json={"segment": CIVIL, "pinned": "worry", "excluded": [],
                                                    "learning": True}, headers=headers, timeout=30)
    assert read.status_code == write.status_code == 403
    assert read.json()["error"] == write.json()["error"] == TEXTS["supervisors_only"]
    assert _written() == (0, 0)


def test_without_a_login_nothing_is_read_or_written(web):  # noqa: F811
    assert requests.get(f"{web}{OPENINGS}", timeout=30).status_code == 401
    assert requests.post(f"{web}{CONTROLS}", json={"segment": CIVIL, "learning": False}, timeout=30).status_code == 401
    assert _written() == (0, 0)


def test_a_supervisor_sees_each_styles_rate_with_its_interval_and_the_preferred_style(web):  # noqa: F811
    seed_calls()
    reply = requests.get(f"{web}{OPENINGS}", headers=_token(web, "super01"), timeout=30)
    assert reply.status_code == 200
    page = reply.json()
    entry = _segment(page)
    assert entry["preferred"] == "worry" and entry["preferred_name"] == page["styles"]["worry"]
    worry = _style(entry, "worry")
    assert (worry["recent_calls"], worry["recent_good"], worry["rate"]) == (30, 15, 0.5)
    low, high = worry["interval"]
    assert low < worry["rate"] < high and low <= worry["estimate"] <= high
    assert _style(entry, "peer_reference")["rate"] == 0.1
    direct = _style(entry, "direct")
    assert direct["recent_calls"] == FEW and direct["rate"] is None and direct["interval"] is None
    assert entry["reason"] and page["styles"]["worry"] in entry["reason"]
    assert len(entry["trend"]) == 13 and entry["trend"][-1]["style"] == "worry"
    # Segments with calls first; nothing pinned, excluded or switched off yet.
    calls = [segment["calls"] for segment in page["segments"]]
    assert calls == sorted(calls, reverse=True) and page["segments"][0]["segment"] == CIVIL
    assert entry["control"]["own"] == {"pinned": None, "excluded": [], "learning": True}
    assert entry["control"]["changed_by"] is None and page["team"]["learning"] is True
    assert page["settings"]["min_calls"] == MIN_CALLS


def test_a_pin_moves_the_recommendation_and_is_in_the_change_log(web):  # noqa: F811
    seed_calls()
    headers = _token(web, "super01")
    reply = requests.post(f"{web}{CONTROLS}", json={"segment": CIVIL, "pinned": "peer_reference",
                                                    "excluded": ["herd"], "learning": True},
                          headers=headers, timeout=30)
    assert reply.status_code == 200
    entry = _segment(reply.json())
    assert entry["preferred"] == "peer_reference" and _style(entry, "peer_reference")["pinned"]
    assert _style(entry, "herd")["excluded"] and not _style(entry, "worry")["pinned"]
    assert entry["control"]["changed_by"] == "super01"
    assert entry["control"]["own"] == {"pinned": "peer_reference", "excluded": ["herd"], "learning": True}
    # The page read afresh says the same (the evidence kept in memory was dropped by the write).
    assert _segment(requests.get(f"{web}{OPENINGS}", headers=headers, timeout=30).json())["preferred"] == \
        "peer_reference"
    changes = requests.get(f"{web}/api/changes", params={"kind": "learning"}, headers=headers, timeout=30).json()
    assert len(changes) == 1 and changes[0]["kind"] == "learning"
    assert _written() == (1, 1)


def test_the_team_switch_turns_learning_off_everywhere_and_keeps_each_segments_own(web):  # noqa: F811
    headers = _token(web, "super01")
    reply = requests.post(f"{web}{CONTROLS}", json={"segment": ALL_SEGMENTS, "pinned": None, "excluded": [],
                                                    "learning": False}, headers=headers, timeout=30)
    assert reply.status_code == 200
    page = reply.json()
    assert page["team"]["learning"] is False and page["team"]["changed_by"] == "super01"
    assert page["team"]["own"]["learning"] is False
    assert all(not entry["control"]["learning"] for entry in page["segments"])
    assert all(entry["control"]["own"]["learning"] for entry in page["segments"])


def test_a_pinned_style_that_is_also_excluded_is_refused_in_chinese(web):  # noqa: F811
    reply = requests.post(f"{web}{CONTROLS}", json={"segment": CIVIL, "pinned": "worry", "excluded": ["worry"],
                                                    "learning": True}, headers=_token(web, "super01"), timeout=30)
    assert (reply.status_code, reply.json()["error"]) == (400, TEXTS["pinned_excluded"])
    assert _written() == (0, 0)


@pytest.mark.parametrize("body, error", [
    ({"segment": CIVIL, "pinned": None, "excluded": "worry", "learning": True}, "bad_control"),  # not a list
    ({"segment": CIVIL, "pinned": None, "excluded": [3], "learning": True}, "bad_control"),
    ({"segment": CIVIL, "pinned": 5, "excluded": [], "learning": True}, "bad_control"),
    ({"segment": CIVIL, "pinned": None, "excluded": [], "learning": "no"}, "bad_control"),
    ({"segment": CIVIL, "pinned": None, "excluded": [], "learning": 0}, "bad_control"),  # a number is no bool
    ({"segment": CIVIL, "pinned": None, "excluded": []}, "bad_control"),  # learning left out
    ({"segment": ["civil_servant"], "learning": True}, "bad_control"),
    ({"pinned": "worry", "learning": True}, "bad_control"),  # no segment
    ({"segment": "astronaut", "pinned": None, "excluded": [], "learning": True}, "bad_segment"),
    ({"segment": CIVIL, "pinned": "shouting", "excluded": [], "learning": True}, "bad_style"),
    ({"segment": CIVIL, "pinned": None, "excluded": ["worry", "nonsense"], "learning": True}, "bad_style"),
    ([CIVIL, "worry"], "bad_control"),  # not an object
])
def test_malformed_controls_are_a_chinese_400_and_write_nothing(web, body, error):  # noqa: F811
    reply = requests.post(f"{web}{CONTROLS}", json=body, headers=_token(web, "super01"), timeout=30)
    assert (reply.status_code, reply.json()["error"]) == (400, TEXTS[error])
    assert _written() == (0, 0)


def test_a_browser_session_needs_its_csrf_token(web):  # noqa: F811
    browser, _ = browser_login(web, "super01", PASSWORDS["super01"])
    reply = browser.post(f"{web}{CONTROLS}", json={"segment": CIVIL, "pinned": None, "excluded": [],
                                                   "learning": False}, timeout=30)
    assert reply.status_code == 403 and reply.json()["error"] == playbook().messages["api_page_expired"]
    assert _written() == (0, 0)


def test_the_page_receives_its_texts_with_the_labels():
    served = for_pages()["learning_page"]
    assert served["page_tab"] == "话术效果" and "样本不足" in served["page_too_few"]
    assert all(key.startswith("page_") for key in served) and "supervisors_only" not in served
