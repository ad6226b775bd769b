"""Trust between the services and the browser: signed action-server requests (no replay, short
validity), a strong SALESBOT_SECRET, tokens with one purpose each, Rasa's CORS and banner, and
refusals (never 500s) for odd credentials. Against the running services where it is about them."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time

import pytest
import requests

from bot import signing
from tests.conftest import ROOT, SERVICES_SECRET, api_token, free_port
from tests.test_access import _client_id, _crm_state, _forged_call

SHORT_SECRET = "only-twenty-chars-xx"


def _signed_write(servers, sender: str, timestamp: float | None = None) -> tuple[bytes, dict[str, str]]:
    """A call outcome for agent02's own client 王华, signed as Rasa signs it (exact bytes + headers)."""
    wang = _client_id(f"sqlite:///{servers['crm']}", "王华")
    body = json.dumps(_forged_call(sender, "agent02", "log_outcome", {"outcome": "no_answer"},
                                   {"current_client_id": str(wang)})).encode()
    headers = signing.sign(body, signing.signing_key(SERVICES_SECRET), now=timestamp)
    return body, {"Content-Type": "application/json", **headers}


def _post_action(servers, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(f"{servers['actions']}/webhook", data=body, headers=headers, timeout=60)


# --- the action server: signed requests, once, fresh ---------------------------------------------

@pytest.mark.e2e
def test_a_signed_request_runs_once_and_its_replay_gets_401(servers):
    body, headers = _signed_write(servers, "trust-signed-1")
    before = _crm_state(servers["crm"])
    first = _post_action(servers, body, headers)
    assert first.status_code == 200, first.text
    after = _crm_state(servers["crm"])
    assert after[0] == before[0] + 1  # the call was logged
    replay = _post_action(servers, body, headers)
    assert replay.status_code == 401 and "未授权" in replay.json()["error"]
    assert _crm_state(servers["crm"]) == after


@pytest.mark.e2e
def test_a_stale_or_future_signature_gets_401(servers):
    before = _crm_state(servers["crm"])
    for moment in (time.time() - 120, time.time() + 120):
        body, headers = _signed_write(servers, f"trust-stale-{int(moment)}", timestamp=moment)
        reply = _post_action(servers, body, headers)
        assert reply.status_code == 401, reply.text
    assert _crm_state(servers["crm"]) == before


@pytest.mark.e2e
def test_a_signature_does_not_cover_other_bytes(servers):
    body, headers = _signed_write(servers, "trust-tampered")
    tampered = body.replace(b"agent02", b"agent01")
    before = _crm_state(servers["crm"])
    assert _post_action(servers, tampered, headers).status_code == 401
    # Signed with SALESBOT_SECRET itself (not the derived key), or with the old static header: refused.
    wrong_key = signing.sign(body, SERVICES_SECRET.encode())
    assert _post_action(servers, body, {"Content-Type": "application/json", **wrong_key}).status_code == 401
    # The static header the action server used to take (the same derived value every time).
    old_secret = hmac.new(SERVICES_SECRET.encode(), b"salesbot action server", hashlib.sha256).hexdigest()
    static = {"Content-Type": "application/json", "X-Salesbot-Action-Secret": old_secret}
    assert _post_action(servers, body, static).status_code == 401
    assert _crm_state(servers["crm"]) == before


@pytest.mark.e2e
@pytest.mark.parametrize("header", ["X-Salesbot-Action-Secret", signing.SIGNATURE_HEADER, signing.TIMESTAMP_HEADER,
                                    signing.NONCE_HEADER])
def test_non_ascii_action_credentials_get_401_not_500(servers, header):
    body, headers = _signed_write(servers, "trust-non-ascii")
    if header == "X-Salesbot-Action-Secret":  # the old static secret header, alone
        headers = {"Content-Type": "application/json"}
    headers[header] = "é"
    reply = requests.post(f"{servers['actions']}/webhook", data=body, timeout=30,
                          headers={k: v.encode("utf-8") for k, v in headers.items()})
    assert reply.status_code == 401, reply.text


@pytest.mark.e2e
def test_the_chat_still_reaches_the_action_server(servers):
    """Rasa signs its real requests: a lookup through the chat shows the owner the client card."""
    token = api_token(servers, "agent02")
    reply = requests.post(f"{servers['rasa']}/webhooks/rest/webhook", headers={"Authorization": f"Bearer {token}"},
                          json={"sender": "trust-chat-ok", "message": "查一下王华"}, timeout=60)
    assert reply.status_code == 200
    assert any((r.get("custom") or {}).get("client", {}).get("phone") == "13800000004" for r in reply.json())


# --- tokens: one purpose each ---------------------------------------------------------------------

def _browser(servers, login: str, password: str) -> requests.Session:
    browser = requests.Session()
    page = browser.get(servers["web"], timeout=10)
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    logged_in = browser.post(f"{servers['web']}/login", data={"login": login, "password": password, "csrf": csrf},
                             timeout=30, allow_redirects=False)
    assert logged_in.status_code in (302, 303), logged_in.text
    return browser


@pytest.mark.e2e
def test_the_chat_token_opens_the_chat_but_not_the_json_api(servers):
    chat_token = _browser(servers, "agent02", "demo-agent").get(f"{servers['web']}/api/chat-token",
                                                                timeout=10).json()["token"]
    bearer = {"Authorization": f"Bearer {chat_token}"}
    refused = requests.get(f"{servers['web']}/api/calls", headers=bearer, timeout=10)
    assert refused.status_code == 401 and "未登录" in refused.json()["error"]
    assert requests.get(f"{servers['web']}/api/clients/13800000004", headers=bearer, timeout=10).status_code == 401
    # The same token talks to Rasa (the widget), and an API token still does both.
    chat = requests.post(f"{servers['rasa']}/webhooks/rest/webhook", headers=bearer, timeout=60,
                         json={"sender": "trust-chat-token", "message": "你好"})
    assert chat.status_code == 200 and chat.json()
    api = {"Authorization": f"Bearer {api_token(servers, 'agent02')}"}
    assert requests.get(f"{servers['web']}/api/calls", headers=api, timeout=10).status_code == 200


# --- Rasa: CORS for our pages only, no banner -----------------------------------------------------

@pytest.mark.e2e
def test_rasa_cors_names_the_web_apps_origin_only(servers):
    web_port = servers["web"].rsplit(":", 1)[1]

    def preflight(origin: str) -> requests.Response:
        return requests.options(f"{servers['rasa']}/webhooks/rest/webhook", timeout=10, headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type"})

    for evil in (f"http://evil.example:{web_port}", f"https://evil.example:{web_port}", "http://evil.example"):
        assert preflight(evil).headers.get("Access-Control-Allow-Origin") in (None, ""), evil
    for own in (servers["web"], f"http://localhost:{web_port}"):
        assert preflight(own).headers.get("Access-Control-Allow-Origin") == own


@pytest.mark.e2e
def test_rasa_does_not_announce_its_version(servers):
    import rasa

    root = requests.get(f"{servers['rasa']}/", timeout=10)
    assert root.status_code == 200
    assert "rasa" not in root.text.lower() and rasa.__version__ not in root.text
    assert requests.get(f"{servers['rasa']}/version", timeout=10).status_code == 404


def test_cors_origins_follow_the_listen_address(monkeypatch):
    from sanic_cors.core import try_match_any

    from bot.services import web_origins
    from tests.test_scaleout import _public_address

    monkeypatch.delenv("SALESBOT_PUBLIC_ORIGIN", raising=False)
    monkeypatch.delenv("SALESBOT_LISTEN", raising=False)
    loopback = web_origins(8000)
    assert try_match_any("http://127.0.0.1:8000", loopback) and try_match_any("http://localhost:8000", loopback)
    for evil in ("http://evil.example:8000", "http://192.0.2.7:8000", "http://127.0.0.1:8001"):
        assert not try_match_any(evil, loopback), evil
    # Serving other computers: this host's own names and addresses, and what the operator names.
    monkeypatch.setenv("SALESBOT_LISTEN", "0.0.0.0")
    monkeypatch.setenv("SALESBOT_PUBLIC_ORIGIN", "https://crm.bank.example/")
    public = web_origins(8000)
    assert try_match_any(f"http://{_public_address()}:8000", public)
    assert try_match_any("https://crm.bank.example", public)
    assert not try_match_any("http://evil.example:8000", public)
    assert not try_match_any("https://crm.bank.example.evil.example", public)


# --- CSRF: refusals, never crashes; the empty Bearer --------------------------------------------

@pytest.mark.e2e
def test_a_non_ascii_login_csrf_gets_403_not_500(servers):
    browser = requests.Session()
    browser.get(servers["web"], timeout=10)  # the login CSRF cookie
    reply = browser.post(f"{servers['web']}/login", timeout=10, allow_redirects=False,
                         data={"login": "agent01", "password": "demo-agent", "csrf": "é"})
    assert reply.status_code == 403 and "页面已过期" in reply.text
    browser.cookies.set("salesbot_login_csrf", "é")
    reply = browser.post(f"{servers['web']}/login", timeout=10, allow_redirects=False,
                         data={"login": "agent01", "password": "demo-agent", "csrf": "é"})
    assert reply.status_code == 403


def _reveals(servers) -> int:
    import sqlite3

    with sqlite3.connect(servers["crm"]) as db:
        return db.execute("select count(*) from phone_reveals").fetchone()[0]


@pytest.mark.e2e
@pytest.mark.parametrize("headers", [
    {"X-CSRF-Token": "é".encode()},  # a non-ASCII CSRF header: refused, not a crash
    {"Authorization": "Bearer "},  # an empty Bearer is no credential: the cookie still needs CSRF
    {"Authorization": "Bearer   "},
    {"Authorization": "bearer"},
], ids=["non-ascii-csrf", "empty-bearer", "blank-bearer", "bare-bearer"])
def test_show_number_from_a_session_without_its_csrf_gets_403(servers, headers):
    browser = _browser(servers, "super01", "demo-super")
    client_id = _client_id(f"sqlite:///{servers['crm']}", "陈刚")
    before = _reveals(servers)
    reply = browser.post(f"{servers['web']}/api/clients/{client_id}/phone", headers=headers, timeout=30)
    assert reply.status_code == 403 and "13800000" not in reply.text
    assert _reveals(servers) == before


# --- SALESBOT_SECRET: long enough, or nothing starts -----------------------------------------------

def _start(cmd: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def _refuses(process: subprocess.CompletedProcess) -> None:
    assert process.returncode != 0
    assert "SALESBOT_SECRET" in process.stderr and "32" in process.stderr, process.stderr[-2000:]
    assert "Traceback" not in process.stderr, process.stderr[-2000:]


@pytest.fixture()
def short_secret_env(tmp_path) -> dict[str, str]:
    return dict(os.environ, SALESBOT_SECRET=SHORT_SECRET, SALESBOT_VAR_DIR=str(tmp_path / "var"),
                SALESBOT_DB_URL=f"sqlite:///{tmp_path / 'crm.sqlite3'}",
                SALESBOT_TRACKER_URL=f"sqlite:///{tmp_path / 'tracker.sqlite3'}",
                SALESBOT_ACTION_URL="http://127.0.0.1:9/webhook", RASA_TELEMETRY_ENABLED="false")


@pytest.mark.parametrize("service", ["actions", "web", "prepare", "run"])
def test_a_short_secret_stops_every_service_at_start_up(short_secret_env, service):
    commands = {
        "actions": [sys.executable, "-m", "bot.action_server", "--port", str(free_port())],
        "web": [sys.executable, "-m", "bot.web", "--port", str(free_port())],
        "prepare": [sys.executable, "-m", "bot.cli", "prepare"],
        "run": [sys.executable, "-m", "bot.cli", "run", "--web-port", str(free_port())],
    }
    _refuses(_start(commands[service], short_secret_env, timeout=60))


def test_a_short_secret_stops_the_rasa_server(short_secret_env, trained_model):
    from bot.services import rasa_command

    _refuses(_start(rasa_command(free_port(), trained_model, free_port()), short_secret_env, timeout=300))


@pytest.mark.parametrize("secret", ["x" * 40, "ab" * 20, "é" * 10])
def test_a_repetitive_or_short_secret_is_refused(monkeypatch, secret):
    from bot.settings import SecretError, get_settings

    monkeypatch.setenv("SALESBOT_SECRET", secret)
    with pytest.raises(SecretError, match="SALESBOT_SECRET"):
        get_settings()


# --- the replay guard keeps bounded memory ---------------------------------------------------------

def test_the_replay_guard_forgets_what_has_expired_and_stays_bounded():
    key = signing.signing_key("k" + "0123456789abcdefghijklmnopqrstuvwxyz")
    guard = signing.ReplayGuard(max_entries=3)
    now = 1_800_000_000.0
    signed = [(body, signing.sign(body, key, now=now)) for body in (b"1", b"2", b"3", b"4")]
    for body, headers in signed[:3]:
        assert guard.check(headers.get, body, key, now=now) is None
    assert guard.check(signed[0][1].get, signed[0][0], key, now=now) == "replayed"
    # Full of requests still inside the window: a fourth is refused rather than forgetting one.
    assert guard.check(signed[3][1].get, signed[3][0], key, now=now) == "busy"
    later = now + signing.MAX_AGE_SECONDS + 1
    fresh = signing.sign(b"4", key, now=later)
    assert guard.check(fresh.get, b"4", key, now=later) is None
    assert len(guard) == 1
