"""Rehearsal end to end (issue 10): the trained model, real Rasa and action servers, the token-protected
REST channel, a real SQLite CRM. A trainee asks for a rehearsal in their own words, says their lines,
the customer answers in character, the score card comes at the end and the record is kept; the real
CRM is untouched."""

from __future__ import annotations

import pytest

from bot.rehearsal.scenarios import scenario
from tests.conftest import ARTIFACTS
from tests.test_e2e import _query
from tests.test_e2e import say as send
from tests.test_rehearsal_roleplay import GOOD, PUSHY

pytestmark = pytest.mark.e2e

CRM_TABLES = ("calls", "followups", "clients", "holdings", "phone_reveals")


def crm_counts(servers) -> dict[str, int]:
    return {t: _query(servers["crm"], f"select count(*) from {t}")[0][0] for t in CRM_TABLES}  # noqa: S608


TRANSCRIPTS: dict[str, list[str]] = {}


def say(servers, sender: str, text: str, login: str) -> list[dict]:
    """Send a line and keep the exchange, written to test-artifacts/rehearsal-<sender>.md for review."""
    replies = send(servers, sender, text, login=login)
    lines = TRANSCRIPTS.setdefault(sender, [])
    lines.append(f"**{login}**: {text}")
    lines += [f"> {r['text']}".replace("\n", "\n> ") for r in replies if r.get("text")]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"rehearsal-{sender}.md").write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    return replies


def customs(replies: list[dict], kind: str) -> list[dict]:
    return [r["custom"] for r in replies if isinstance(r.get("custom"), dict) and r["custom"].get("type") == kind]


def test_a_trainee_rehearses_in_their_own_words_to_a_score_card(servers):
    before = crm_counts(servers)
    sender = "e2e-rehearsal-good"
    started = say(servers, sender, "我想练一下，模拟一个在开会的客户", login="trainee01")
    [brief] = customs(started, "rehearsal_started")
    assert brief["scenario"]["id"] == "busy_official_callback"
    s = scenario("busy_official_callback")
    lines = GOOD["busy_official_callback"]
    first = say(servers, sender, lines[0], login="trainee01")
    assert customs(first, "customer_line")[0]["line"] == s.opening_reaction
    # A line that looks like a staff request is said to the customer, not run against the CRM.
    staffish = say(servers, sender, "查一下张三", login="trainee01")
    assert customs(staffish, "customer_line") and not customs(staffish, "client_card")
    for line in lines[1:]:
        replies = say(servers, sender, line, login="trainee01")
    [card] = customs(replies, "score_card")
    assert customs(replies, "customer_line")[0]["outcome"] == "callback_agreed"
    assert card["saved"] and 0 <= card["total"] <= 100
    assert any(f"总分 {card['total']} 分" in r.get("text", "") for r in replies)
    rows = _query(servers["crm"], "select r.scenario_id, r.outcome, r.total, u.login from rehearsals r "
                                  "join users u on u.id = r.user_id where r.conversation_id = ?", sender)
    assert rows == [("busy_official_callback", "callback_agreed", card["total"], "trainee01")]
    assert crm_counts(servers) == before
    # Back in live mode: a trainee asking for a real client is refused, as always.
    after = say(servers, sender, "查一下张三的资料", login="trainee01")
    assert not customs(after, "client_card") and any("练习账号" in r.get("text", "") for r in after)


def test_a_pushy_trainee_is_hung_up_on_and_scores_at_most_40(servers):
    sender = "e2e-rehearsal-pushy"
    say(servers, sender, '/start_training{"scenario":"loyal_boss_payroll"}', login="trainee01")
    for line in PUSHY:
        replies = say(servers, sender, line, login="trainee01")
    assert customs(replies, "customer_line")[0]["outcome"] == "hung_up"
    [card] = customs(replies, "score_card")
    assert card["total"] <= 40 and "保本" in card["flags"]


def test_stop_training_always_works_mid_rehearsal(servers):
    sender = "e2e-rehearsal-stop"
    say(servers, sender, '/start_training{"scenario":"cfo_group_accounts"}', login="agent01")
    say(servers, sender, "罗总您好，我是星海银行的客户经理李明，想介绍一下对公结算账户，您方便吗？", login="agent01")
    replies = say(servers, sender, "结束练习", login="agent01")
    [card] = customs(replies, "score_card")
    assert card["outcome"] == "abandoned"
    again = say(servers, sender, "结束练习", login="agent01")
    assert any("没有进行中的陪练" in r.get("text", "") for r in again)
