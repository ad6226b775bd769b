"""Request bodies are capped on every service: a client announcing a huge body gets 413 (with the
reason in Chinese where we write the answer) at once, before the service reads it or checks a token;
bodies of the size the services really get still pass."""

from __future__ import annotations

import http.client
import json
import sqlite3
from urllib.parse import urlsplit

import pytest
import requests

from bot.action_server import MAX_BODY_BYTES as ACTION_MAX_BODY_BYTES
from bot.rasa_ext.channels import MAX_BODY_BYTES as RASA_MAX_BODY_BYTES
from bot.web.app import MAX_BODY_BYTES as WEB_MAX_BODY_BYTES

pytestmark = pytest.mark.e2e

HUGE = 100_000_000  # Sanic's default limit: what an attacker could make each service read


def announce_body(base: str, path: str, length: int, content_type: str = "application/json",
                  ) -> tuple[int, str]:
    """POST ``path`` saying a ``length``-byte body follows, send one byte of it, and read the answer
    (status, body). A service that waits for the rest times out here."""
    url = urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.putrequest("POST", path)
        connection.putheader("Content-Type", content_type)
        connection.putheader("Content-Length", str(length))
        connection.endheaders(b"{")
        reply = connection.getresponse()
        return reply.status, reply.read().decode("utf-8", "replace")
    finally:
        connection.close()


@pytest.mark.parametrize("path, content_type", [
    ("/api/token", "application/json"),                  # before the password is checked
    ("/login", "application/x-www-form-urlencoded"),     # before the CSRF token is checked
    ("/api/conversations/x/comments", "application/json"),  # before the token is checked
])
def test_the_web_app_refuses_a_huge_body_at_once(servers, path, content_type):
    status, body = announce_body(servers["web"], path, HUGE, content_type)
    assert status == 413
    reason = json.loads(body)["error"] if path.startswith("/api/") else body
    assert "请求内容太大" in reason and "1 MB" in reason


def test_the_rasa_channel_refuses_a_huge_body_before_the_token(servers):
    status, body = announce_body(servers["rasa"], "/webhooks/rest/webhook", HUGE)
    assert status == 413
    assert "请求太大" in json.loads(body)["error"]


def test_the_action_server_refuses_a_huge_body_without_reading_it(servers):
    # Sanic runs the request middleware on the 413: a caller without Rasa's credentials hears 401
    # (nothing read, nothing told), Rasa itself would hear why (bot/action_server.py).
    status, body = announce_body(servers["actions"], "/webhook", HUGE)
    assert status in (401, 413)
    assert "未授权" in json.loads(body)["error"] or "请求内容太大" in json.loads(body)["error"]


def test_the_caps_sit_above_real_requests(servers):
    """A body just under each cap is read and refused for what it is (no token), not for its size."""
    padding = {"padding": "x" * (WEB_MAX_BODY_BYTES - 100)}
    web = requests.post(f"{servers['web']}/api/token", json={"login": "nobody", "password": "", **padding},
                        timeout=30)
    assert web.status_code in (400, 401)
    rasa = requests.post(f"{servers['rasa']}/webhooks/rest/webhook", timeout=30,
                         json={"sender": "limits-1", "message": "你好", "padding": "x" * (RASA_MAX_BODY_BYTES - 100)})
    assert rasa.status_code == 401
    actions = requests.post(f"{servers['actions']}/webhook", timeout=60,
                            json={"next_action": "action_lookup_client",
                                  "padding": "x" * (ACTION_MAX_BODY_BYTES - 100)})
    assert actions.status_code == 401


def test_a_long_day_of_calls_fits_the_action_servers_cap(servers):
    """The action server gets the whole tracker of the session: measure a real one, per message."""
    token = requests.post(f"{servers['web']}/api/token", timeout=30,
                          json={"login": "agent01", "password": "demo-agent"}).json()["token"]
    sender = "limits-tracker-size"
    lines = ["查一下张三", "客户说他在开会", "约他明天下午三点再打", "查一下李四", "客户说利率太低了", "还有别的卖点吗"]
    for line in lines:
        reply = requests.post(f"{servers['rasa']}/webhooks/rest/webhook", timeout=120,
                              headers={"Authorization": f"Bearer {token}"}, json={"sender": sender, "message": line})
        assert reply.status_code == 200
    with sqlite3.connect(servers["tracker"]) as db:
        size = db.execute("select sum(length(cast(data as blob))) from events where sender_id = ?",
                          (sender,)).fetchone()[0]
    per_message = size / len(lines)
    # An agent's busiest day in one session (messages less than 2 h apart): 1000 messages.
    assert per_message * 1000 * 1.2 < ACTION_MAX_BODY_BYTES, per_message
