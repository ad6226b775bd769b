"""End to end: the trained model, real Rasa and action servers on free ports, the REST channel,
a real SQLite CRM and tracker store."""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path

import pytest
import requests

from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def servers(trained_model, tmp_path_factory):
    from bot import migrate
    from bot.cli import start_services, stop
    from bot.db import sessions
    from bot.demo_data import load_demo_data

    tmp = tmp_path_factory.mktemp("e2e")
    crm, tracker = tmp / "crm.sqlite3", tmp / "tracker.sqlite3"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SALESBOT_DB_URL", f"sqlite:///{crm}")
        mp.setenv("SALESBOT_TRACKER_URL", f"sqlite:///{tracker}")
        mp.setenv("SALESBOT_SECRET", "e2e-secret")
        migrate.upgrade(f"sqlite:///{crm}")
        with sessions(f"sqlite:///{crm}").begin() as session:
            load_demo_data(session)
        ports = {"rasa_port": _free_port(), "actions_port": _free_port(), "web_port": _free_port()}
        processes = start_services(**ports, model=trained_model, log_dir=ARTIFACTS / "e2e-logs")
        try:
            yield {"rasa": f"http://127.0.0.1:{ports['rasa_port']}",
                   "web": f"http://127.0.0.1:{ports['web_port']}", "crm": crm, "tracker": tracker}
        finally:
            stop(processes)


def say(servers, sender: str, text: str, login: str = "agent01") -> list[dict]:
    response = requests.post(f"{servers['rasa']}/webhooks/rest/webhook", timeout=60,
                             json={"sender": sender, "message": text, "metadata": {"login": login}})
    response.raise_for_status()
    replies = response.json()
    assert replies, f"no reply to {text!r}"
    # A readable text is always present; rich payloads come as separate "custom" items.
    assert any(r.get("text") for r in replies), replies
    return replies


def _query(db: Path, sql: str, *args):
    with sqlite3.connect(db) as connection:
        return connection.execute(sql, args).fetchall()


def test_a_whole_call_over_rest(servers):
    sender = "e2e-call-1"
    transcript = []

    def turn(text):
        replies = say(servers, sender, text)
        transcript.append({"user": text, "bot": [r.get("text") or r.get("custom") for r in replies]})
        return replies

    lookup = turn("查一下张三的资料")
    card = next(r["custom"] for r in lookup if r.get("custom", {}).get("type") == "client_card")
    assert card["client"]["name"] == "张三"

    opening = turn("这个客户开场白怎么说")
    script = next(r["custom"] for r in opening if r.get("custom", {}).get("type") == "script")
    assert "张先生" in script["text"] and "星海银行" in script["text"]

    busy = turn("客户说他在开会")
    assert any("创建回访" in r.get("text", "") for r in busy)

    pitch = turn("还有别的卖点吗")
    assert any("卖点" in r.get("text", "") for r in pitch)

    logged = turn("记一下，客户同意办理了")
    assert any("成交" in r.get("text", "") for r in logged)

    (ARTIFACTS / "e2e-transcript.json").write_text(json.dumps(transcript, ensure_ascii=False, indent=1))
    calls = _query(servers["crm"], "select disposition, objections from calls where conversation_id = ?", sender)
    assert len(calls) == 1 and calls[0][0] == "deal" and "objection_busy" in calls[0][1]
    assert _query(servers["crm"], "select count(*) from followups")[0][0] == 1
    # The SQL tracker store holds the transcript.
    events = _query(servers["tracker"], "select count(*) from events where sender_id = ?", sender)[0][0]
    assert events > 10


def test_traditional_input_finds_the_client(servers):
    replies = say(servers, "e2e-call-2", "查一下張三的資料")
    assert any(r.get("custom", {}).get("client", {}).get("name") == "张三" for r in replies)


def test_do_not_call_client_over_rest(servers):
    replies = say(servers, "e2e-call-3", "查一下孙丽")
    assert any("勿扰" in r.get("text", "") for r in replies)


def test_web_app_is_up(servers):
    page = requests.get(servers["web"], timeout=10)
    assert page.status_code == 200 and "电话销售助手" in page.text
