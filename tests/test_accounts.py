"""Accounts and sessions: revocation, login throttling, password strength, the user CLI,
demo data only where it belongs, private files, secure cookies and no caching.

Most tests run the real web app in this process (so the frozen clock and the per-test
SQLite CRM apply to it) and talk to it over HTTP; the Rasa channels are tested against
the real services of the ``servers`` fixture.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
import requests

from tests.conftest import ARTIFACTS, ROOT, TEST_SECRET, WORKDAY_MORNING, api_token, socketio_client

LOGIN_PAGE = 'name="password"'


# ---------- the web app, in this process ----------


class LiveApp:
    """The real Sanic web app served from a background thread on a free port."""

    def __init__(self) -> None:
        from sanic import Sanic

        from bot.web.app import create_app

        Sanic.test_mode = True  # several start-ups per process (Sanic's own test client does the same)
        self.app = create_app(name=f"accounts_{uuid.uuid4().hex[:8]}")
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.loop = asyncio.new_event_loop()
        self.server = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            self.app.create_server(sock=self.sock, return_asyncio_server=True, access_log=False))
        self.loop.run_until_complete(self.server.startup())
        self.loop.run_until_complete(self.server.before_start())
        self.loop.run_until_complete(self.server.after_start())
        self.ready.set()
        self.loop.run_forever()

    def start(self) -> LiveApp:
        self.thread.start()
        assert self.ready.wait(30), "web app did not start"
        return self

    def stop(self) -> None:
        async def shutdown():
            await self.server.before_stop()
            self.server.close()
            await self.server.after_stop()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def live_app():
    from sanic import Sanic

    previous = Sanic.test_mode
    app = LiveApp().start()
    try:
        yield app
    finally:
        app.stop()
        Sanic.test_mode = previous


@pytest.fixture()
def web(live_app, crm_url, monkeypatch) -> str:
    """The web app's base URL, serving this test's CRM (the app reads the settings per request)."""
    monkeypatch.delenv("SALESBOT_TRUST_PROXY", raising=False)
    return live_app.url


def browser_login(web: str, login: str, password: str, headers: dict | None = None):
    """Log in through the login form like a browser: (session with cookies, response of POST /login)."""
    browser = requests.Session()
    page = browser.get(f"{web}/", timeout=10)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    reply = browser.post(f"{web}/login", data={"login": login, "password": password, "csrf": csrf},
                         headers=headers or {}, allow_redirects=False, timeout=30)
    return browser, reply


def token_for(web: str, login: str, password: str, headers: dict | None = None) -> requests.Response:
    return requests.post(f"{web}/api/token", json={"login": login, "password": password},
                         headers=headers or {}, timeout=30)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def logout(web: str, browser: requests.Session) -> requests.Response:
    page = browser.get(f"{web}/", timeout=10)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return browser.post(f"{web}/logout", data={"csrf": csrf}, allow_redirects=False, timeout=10)


def salesbot(*args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real command line, in a child process with this test's environment."""
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, input=stdin, text=True,
                          capture_output=True, env=dict(os.environ, **(env or {})), timeout=300)


def query(url: str, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        return connection.execute(sql, args).fetchall()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---------- revocation ----------


def test_logout_ends_every_session_and_token_of_the_user(web):
    first, reply = browser_login(web, "agent01", "demo-agent")
    assert reply.status_code in (302, 303)
    second, _ = browser_login(web, "agent01", "demo-agent")  # another browser
    api = token_for(web, "agent01", "demo-agent").json()["token"]
    old_cookie = first.cookies.get("salesbot_session")
    assert "data-chat-token" in first.get(f"{web}/", timeout=10).text  # the widget

    assert logout(web, first).status_code in (302, 303)

    # The old cookie, replayed: the login page, not the widget; and no data.
    replayed = requests.get(f"{web}/", cookies={"salesbot_session": old_cookie}, timeout=10)
    assert LOGIN_PAGE in replayed.text and "data-chat-token" not in replayed.text
    assert requests.get(f"{web}/api/calls", cookies={"salesbot_session": old_cookie}, timeout=10).status_code == 401
    # Logged out everywhere: the other browser and the API token too.
    assert LOGIN_PAGE in second.get(f"{web}/", timeout=10).text
    assert second.get(f"{web}/api/chat-token", timeout=10).status_code == 401
    assert requests.get(f"{web}/api/calls", headers=bearer(api), timeout=10).status_code == 401
    # Logging in again works.
    again, reply = browser_login(web, "agent01", "demo-agent")
    assert reply.status_code in (302, 303) and "data-chat-token" in again.get(f"{web}/", timeout=10).text


@pytest.mark.slow  # 5 s or more: make test only
def test_a_disabled_user_is_refused_at_once_and_can_be_enabled_again(web):
    browser, _ = browser_login(web, "agent01", "demo-agent")
    api = token_for(web, "agent01", "demo-agent").json()["token"]
    assert requests.get(f"{web}/api/calls", headers=bearer(api), timeout=10).status_code == 200

    done = salesbot("user", "disable", "agent01")
    assert done.returncode == 0 and "已停用 agent01" in done.stdout

    assert requests.get(f"{web}/api/calls", headers=bearer(api), timeout=10).status_code == 401
    assert requests.get(f"{web}/api/followups", headers=bearer(api), timeout=10).status_code == 401
    page = browser.get(f"{web}/", timeout=10)
    assert LOGIN_PAGE in page.text and "data-chat-token" not in page.text  # no chat token for them
    assert browser.get(f"{web}/api/chat-token", timeout=10).status_code == 401
    refused = token_for(web, "agent01", "demo-agent")
    assert refused.status_code == 401 and "token" not in refused.json()
    _, form = browser_login(web, "agent01", "demo-agent")
    assert form.status_code == 401 and "用户名或密码错误" in form.text

    assert salesbot("user", "enable", "agent01").returncode == 0
    assert token_for(web, "agent01", "demo-agent").status_code == 200
    # Tokens from before the deactivation stay revoked.
    assert requests.get(f"{web}/api/calls", headers=bearer(api), timeout=10).status_code == 401


def test_chat_tokens_come_from_the_session_and_live_fifteen_minutes(web):
    assert requests.get(f"{web}/api/chat-token", timeout=10).status_code == 401
    api = token_for(web, "agent01", "demo-agent").json()["token"]
    # An API token is not a browser session.
    assert requests.get(f"{web}/api/chat-token", headers=bearer(api), timeout=10).status_code == 401
    browser, _ = browser_login(web, "agent01", "demo-agent")
    reply = browser.get(f"{web}/api/chat-token", timeout=10)
    assert reply.status_code == 200 and reply.headers["Cache-Control"] == "no-store"
    chat = reply.json()["token"]
    claims = jwt.decode(chat, options={"verify_signature": False})
    assert claims["sub"] == "agent01" and claims["exp"] - claims["iat"] == 15 * 60
    api_claims = jwt.decode(api, options={"verify_signature": False})
    assert api_claims["exp"] - api_claims["iat"] == 8 * 3600
    # The chat token is for the chat only: the JSON API takes API tokens and the session.
    assert claims["purpose"] == "chat"
    assert requests.get(f"{web}/api/calls", headers=bearer(chat), timeout=10).status_code == 401
    # The page embeds a fresh one too.
    page = browser.get(f"{web}/", timeout=10).text
    embedded = re.search(r'data-chat-token="([^"]+)"', page).group(1)
    assert jwt.decode(embedded, options={"verify_signature": False})["sub"] == "agent01"


# ---------- the login throttle ----------


@pytest.mark.slow  # 5 s or more: make test only
def test_five_wrong_passwords_lock_the_login_for_a_growing_while(web, frozen_clock):
    for _ in range(5):
        reply = token_for(web, "agent01", "wrong-password")
        assert reply.status_code == 401 and reply.json()["error"] == "用户名或密码错误。"

    locked = token_for(web, "agent01", "wrong-password")
    assert locked.status_code == 429 and locked.json()["error"] == "登录失败次数过多，请 30 秒后再试。"
    assert locked.headers["Retry-After"] == "30"
    # Even the right password waits, in the API and on the login page.
    right = token_for(web, "agent01", "demo-agent")
    assert right.status_code == 429 and "token" not in right.json()
    _, form = browser_login(web, "agent01", "demo-agent")
    assert form.status_code == 429 and "登录失败次数过多，请 30 秒后再试。" in form.text
    assert "salesbot_session" not in form.cookies
    # Other users are not affected.
    assert token_for(web, "agent02", "demo-agent").status_code == 200

    frozen_clock(WORKDAY_MORNING + timedelta(seconds=20))
    assert "请 10 秒后再试" in token_for(web, "agent01", "demo-agent").json()["error"]

    # The lock expires; one more failure locks it again, for twice as long.
    frozen_clock(WORKDAY_MORNING + timedelta(seconds=31))
    assert token_for(web, "agent01", "wrong-password").status_code == 401
    again = token_for(web, "agent01", "demo-agent")
    assert again.status_code == 429 and "请 60 秒后再试" in again.json()["error"]

    # After that, the right password gets in, and the counter starts from zero.
    frozen_clock(WORKDAY_MORNING + timedelta(seconds=92))
    assert token_for(web, "agent01", "demo-agent").status_code == 200
    for _ in range(4):
        assert token_for(web, "agent01", "wrong-password").status_code == 401
    assert token_for(web, "agent01", "demo-agent").status_code == 200


def test_the_lock_survives_a_restart(web, frozen_clock, crm_url):
    for _ in range(5):
        token_for(web, "agent02", "nope-nope")
    # Kept in the CRM database, not in the web app's memory: a freshly started web app
    # (or another process serving the same CRM) refuses too.
    rows = query(crm_url, "SELECT failures, locked_until FROM login_throttle WHERE key = 'acct:agent02|127.0.0.1'")
    assert rows and rows[0][0] == 5 and rows[0][1]
    restarted = LiveApp().start()
    try:
        assert token_for(restarted.url, "agent02", "demo-agent").status_code == 429
    finally:
        restarted.stop()


def test_successful_logins_are_never_throttled(web, frozen_clock):
    for _ in range(7):
        assert token_for(web, "super01", "demo-super").status_code == 200


def test_a_forged_forwarded_address_does_not_escape_the_lock(web, frozen_clock):
    for _ in range(5):
        assert token_for(web, "agent02", "guess-1234").status_code == 401
    refused = token_for(web, "agent02", "demo-agent")
    assert refused.status_code == 429 and "秒后再试" in refused.json()["error"]
    # X-Forwarded-For is only believed behind a trusted proxy: a forged one does not help.
    forged = token_for(web, "agent02", "demo-agent", headers={"X-Forwarded-For": "203.0.113.9"})
    assert forged.status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_address_counts(web, frozen_clock, monkeypatch):
    monkeypatch.setenv("SALESBOT_TRUST_PROXY", "1")
    office = {"X-Forwarded-For": "198.51.100.7"}
    for _ in range(5):
        assert token_for(web, "agent02", "guess-1234", headers=office).status_code == 401
    assert token_for(web, "agent02", "demo-agent", headers=office).status_code == 429
    # Another client of the same proxy is not locked out; the proxy appends the real address last.
    home = {"X-Forwarded-For": "198.51.100.7, 192.0.2.44"}
    assert token_for(web, "agent02", "demo-agent", headers=home).status_code == 200


def test_an_unknown_login_and_a_wrong_password_look_the_same(web):
    unknown, wrong = token_for(web, "no-such-user", "demo-agent"), token_for(web, "agent01", "demo-agent-x")
    assert (unknown.status_code, unknown.json()) == (wrong.status_code, wrong.json()) == (
        401, {"error": "用户名或密码错误。"})


# ---------- passwords ----------


def test_a_weak_stored_hash_is_upgraded_at_the_next_login(web, crm_url):
    import base64

    salt = b"0123456789abcdef"
    weak = hashlib.scrypt(b"demo-agent", salt=salt, n=2**14, r=8, p=1, dklen=32)
    stored = f"scrypt$16384$8$1${base64.b64encode(salt).decode()}${base64.b64encode(weak).decode()}"
    with sqlite3.connect(crm_url.removeprefix("sqlite:///")) as connection:
        connection.execute("UPDATE users SET password_hash = ? WHERE login = 'agent02'", (stored,))

    assert token_for(web, "agent02", "demo-agent").status_code == 200
    upgraded = query(crm_url, "SELECT password_hash FROM users WHERE login = 'agent02'")[0][0]
    assert upgraded.startswith("scrypt$131072$8$1$") and upgraded != stored
    # The upgraded hash still takes the same password, and only that.
    assert token_for(web, "agent02", "demo-agent").status_code == 200
    assert token_for(web, "agent02", "demo-agent2").status_code == 401
    # New hashes (demo users here) are at full strength from the start.
    assert query(crm_url, "SELECT password_hash FROM users WHERE login = 'super01'")[0][0].startswith(
        "scrypt$131072$8$1$")


# ---------- the user command line ----------


@pytest.mark.slow  # a dozen CLI processes, each hashing passwords at full strength: make test only
def test_user_command_line(web, crm_url):
    added = salesbot("user", "add", "agent07", "--name", "陈静", "--role", "agent", "--password-stdin",
                     stdin="seven-secret-7\n")
    assert added.returncode == 0, added.stderr
    reply = token_for(web, "agent07", "seven-secret-7")
    assert reply.status_code == 200 and reply.json()["role"] == "agent"
    old_token = reply.json()["token"]
    assert "agent07" in salesbot("user", "list").stdout

    twice = salesbot("user", "add", "agent07", "--name", "陈静", "--role", "agent", "--password-stdin",
                     stdin="seven-secret-7\n")
    assert twice.returncode == 1 and "已存在" in twice.stderr
    short = salesbot("user", "add", "agent08", "--name", "王五", "--role", "trainee", "--password-stdin",
                     stdin="short\n")
    assert short.returncode == 1 and "密码太短" in short.stderr
    assert query(crm_url, "SELECT count(*) FROM users WHERE login = 'agent08'") == [(0,)]
    bad_role = salesbot("user", "add", "agent09", "--name", "赵六", "--role", "boss", "--password-stdin",
                        stdin="long-enough-1\n")
    assert bad_role.returncode != 0 and "boss" in bad_role.stderr
    missing = salesbot("user", "disable", "ghost")
    assert missing.returncode == 1 and "没有用户 ghost" in missing.stderr

    reset = salesbot("user", "reset-password", "agent07", "--password-stdin", stdin="brand-new-pass\n")
    assert reset.returncode == 0, reset.stderr
    assert token_for(web, "agent07", "seven-secret-7").status_code == 401
    assert token_for(web, "agent07", "brand-new-pass").status_code == 200
    # The reset logs them out everywhere.
    assert requests.get(f"{web}/api/calls", headers=bearer(old_token), timeout=10).status_code == 401

    assert salesbot("user", "disable", "agent07").returncode == 0
    listing = salesbot("user", "list").stdout
    assert re.search(r"agent07\s+agent\s+已停用", listing)


def test_user_command_needs_a_prepared_database(tmp_path):
    reply = salesbot("user", "list", env={"SALESBOT_DB_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
                                          "SALESBOT_VAR_DIR": str(tmp_path / "var")})
    assert reply.returncode == 1 and "salesbot prepare" in reply.stderr


# ---------- prepare: demo data, file modes ----------


def _env_for(tmp_path: Path, db_url: str | None) -> dict:
    """Everything under tmp_path; an empty variable counts as unset (the default)."""
    return {"SALESBOT_VAR_DIR": str(tmp_path / "var"), "SALESBOT_TRACKER_URL": "",
            "SALESBOT_SECRET": "", "SALESBOT_DB_URL": db_url or ""}


@pytest.mark.slow  # 5 s or more: make test only
def test_prepare_loads_no_demo_users_into_a_non_default_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'company.sqlite3'}"
    prepared = salesbot("prepare", env=_env_for(tmp_path, url))
    assert prepared.returncode == 0, prepared.stderr
    assert "no demo users were created" in prepared.stdout
    assert query(url, "SELECT count(*) FROM users") == [(0,)]
    assert query(url, "SELECT count(*) FROM clients") == [(0,)]
    # The product catalogue is configuration, not demo data: a real deployment gets it too.
    assert ("白金信用卡",) in query(url, "SELECT name FROM products")
    # Asked for explicitly, it loads them.
    demo = salesbot("prepare", "--demo", env=_env_for(tmp_path, url))
    assert demo.returncode == 0 and "demo rows added" in demo.stdout
    assert ("agent01",) in query(url, "SELECT login FROM users")


def test_prepare_loads_the_demo_into_the_default_database_with_private_files(tmp_path):
    prepared = salesbot("prepare", env=_env_for(tmp_path, None))
    assert prepared.returncode == 0, prepared.stderr
    var = tmp_path / "var"
    crm, tracker, secret = var / "crm.sqlite3", var / "tracker.sqlite3", var / "secret.key"
    assert ("agent01",) in query(f"sqlite:///{crm}", "SELECT login FROM users")
    # The CRM, the tracker store (created before Rasa starts) and the secret: owner only.
    assert mode(crm) == mode(tracker) == mode(secret) == 0o600
    assert len(secret.read_text().strip()) >= 40
    assert not [p for p in var.iterdir() if p.name.startswith(".secret.key")]  # no temporary left over


def test_existing_database_files_are_tightened(tmp_path):
    crm, tracker = tmp_path / "crm.sqlite3", tmp_path / "tracker.sqlite3"
    sqlite3.connect(crm).close()
    tracker.touch()
    crm.chmod(0o644)
    tracker.chmod(0o664)
    prepared = salesbot("prepare", env={"SALESBOT_DB_URL": f"sqlite:///{crm}",
                                        "SALESBOT_TRACKER_URL": f"sqlite:///{tracker}",
                                        "SALESBOT_VAR_DIR": str(tmp_path / "var"), "SALESBOT_SECRET": TEST_SECRET})
    assert prepared.returncode == 0, prepared.stderr
    assert mode(crm) == mode(tracker) == 0o600


def test_a_new_secret_file_is_private_from_the_start(tmp_path, monkeypatch):
    from bot.settings import get_settings

    monkeypatch.setenv("SALESBOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("SALESBOT_SECRET", raising=False)
    old_umask = os.umask(0)  # even with a permissive umask
    try:
        first = get_settings().secret
    finally:
        os.umask(old_umask)
    path = tmp_path / "var" / "secret.key"
    assert mode(path) == 0o600
    assert get_settings().secret == first  # stable: sessions survive restarts


def test_processes_starting_together_agree_on_one_secret(tmp_path, monkeypatch):
    """Services started at once must sign and check with the same secret (a torn or
    doubly generated secret file would log everyone out at random)."""
    from bot.settings import get_settings

    monkeypatch.setenv("SALESBOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("SALESBOT_SECRET", raising=False)
    (tmp_path / "var").mkdir()
    barrier, seen = threading.Barrier(8), []

    def start():
        barrier.wait()
        seen.append(get_settings().secret)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(seen) == 8 and len(set(seen)) == 1 and len(seen[0]) >= 40
    assert (tmp_path / "var" / "secret.key").read_text() == seen[0]


# ---------- cookies and caching ----------


def _session_cookie(reply: requests.Response):
    return next(c for c in reply.cookies if c.name == "salesbot_session")


def test_session_cookie_is_secure_behind_an_https_proxy(web, monkeypatch):
    https = {"X-Forwarded-Proto": "https"}
    # Without SALESBOT_TRUST_PROXY the header is anybody's claim: ignored.
    _, plain = browser_login(web, "agent01", "demo-agent", headers=https)
    assert not _session_cookie(plain).secure
    monkeypatch.setenv("SALESBOT_TRUST_PROXY", "1")
    _, proxied = browser_login(web, "agent01", "demo-agent", headers=https)
    cookie = _session_cookie(proxied)
    assert cookie.secure and cookie.has_nonstandard_attr("HttpOnly")
    _, http = browser_login(web, "agent01", "demo-agent", headers={"X-Forwarded-Proto": "http"})
    assert not _session_cookie(http).secure


def test_pages_and_tokens_are_never_cached(web):
    assert requests.get(f"{web}/", timeout=10).headers["Cache-Control"] == "no-store"  # login page
    token = token_for(web, "agent01", "demo-agent")
    assert token.headers["Cache-Control"] == "no-store"
    agent, _ = browser_login(web, "agent01", "demo-agent")
    assert agent.get(f"{web}/", timeout=10).headers["Cache-Control"] == "no-store"  # the widget
    assert agent.get(f"{web}/api/chat-token", timeout=10).headers["Cache-Control"] == "no-store"
    supervisor, _ = browser_login(web, "super01", "demo-super")
    review = supervisor.get(f"{web}/", timeout=10)
    assert "data-chat-token" not in review.text and review.headers["Cache-Control"] == "no-store"
    transcript = supervisor.get(f"{web}/review/conversations/nothing-here", timeout=10)
    assert transcript.headers["content-type"].startswith("text/html")
    assert transcript.headers["Cache-Control"] == "no-store"


# ---------- the Rasa channels (real services) ----------


@pytest.mark.e2e
async def test_rasa_refuses_a_disabled_users_token_on_rest_and_socketio(servers):
    env = {"SALESBOT_DB_URL": f"sqlite:///{servers['crm']}"}
    login = f"temp{uuid.uuid4().hex[:6]}"
    added = await asyncio.to_thread(salesbot, "user", "add", login, "--name", "临时坐席", "--role", "agent",
                                    "--password-stdin", stdin="temp-password-1\n", env=env)
    assert added.returncode == 0, added.stderr
    reply = await asyncio.to_thread(requests.post, f"{servers['web']}/api/token", timeout=30,
                                    json={"login": login, "password": "temp-password-1"})
    token = reply.json()["token"]
    webhook = f"{servers['rasa']}/webhooks/rest/webhook"

    def rest(text: str) -> requests.Response:
        return requests.post(webhook, headers=bearer(token), json={"sender": f"acc-{login}", "message": text},
                             timeout=60)

    assert (await asyncio.to_thread(rest, "你好")).status_code == 200

    client = socketio_client()
    events: asyncio.Queue = asyncio.Queue()
    client.on("session_confirm", lambda sid: events.put_nowait(("session", sid)))
    client.on("auth_error", lambda data: events.put_nowait(("auth_error", data)))
    client.on("disconnect", lambda *args: events.put_nowait(("disconnect", None)))
    await client.connect(servers["rasa"], socketio_path="/socket.io", transports=["polling"],
                         auth={"token": token}, wait_timeout=10)
    try:
        await client.emit("session_request", {"session_id": None})
        kind, session_id = await asyncio.wait_for(events.get(), 10)
        assert kind == "session"

        disabled = await asyncio.to_thread(salesbot, "user", "disable", login, env=env)
        assert disabled.returncode == 0, disabled.stderr

        refused = await asyncio.to_thread(rest, "你好")
        assert refused.status_code == 401 and "令牌" in refused.json()["error"]
        api = await asyncio.to_thread(requests.get, f"{servers['web']}/api/calls", headers=bearer(token),
                                      timeout=10)
        assert api.status_code == 401
        # The open socket.io connection: its next message is refused, with a reason, and it is closed.
        await client.emit("user_uttered", {"message": "查一下张三", "session_id": session_id})
        kind, data = await asyncio.wait_for(events.get(), 15)
        assert kind == "auth_error" and "重新登录" in data["error"]
        kind, _ = await asyncio.wait_for(events.get(), 15)
        assert kind == "disconnect"
    finally:
        if client.connected:
            await client.disconnect()
    # The refused message never reached the conversation.
    user_events = await asyncio.to_thread(
        query, f"sqlite:///{servers['tracker']}",
        "SELECT count(*) FROM events WHERE sender_id = ? AND type_name = 'user'", session_id)
    assert user_events == [(0,)]
    # Other users carry on.
    assert await asyncio.to_thread(api_token, servers, "agent01")


# ---------- the widget in a real browser (real services) ----------


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _temp_agent(servers) -> tuple[str, str]:
    login, password = f"temp{uuid.uuid4().hex[:6]}", "temp-password-2"
    added = salesbot("user", "add", login, "--name", "临时坐席", "--role", "agent", "--password-stdin",
                     stdin=password + "\n", env={"SALESBOT_DB_URL": f"sqlite:///{servers['crm']}"})
    assert added.returncode == 0, added.stderr
    return login, password


def _widget(chromium, servers, login: str, password: str):
    from playwright.sync_api import expect

    context = chromium.new_context(locale="zh-CN", base_url=servers["web"])
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.goto("/")
    page.get_by_label("用户名").fill(login)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#status")).to_have_text("已连接")
    return context, page


@pytest.mark.e2e
def test_the_widget_renews_an_expired_chat_token_and_still_answers(servers, chromium):
    from playwright.sync_api import expect

    from bot.auth import issue_token
    from bot.db import sessions
    from bot.models import User

    login, password = _temp_agent(servers)
    with sessions(f"sqlite:///{servers['crm']}").begin() as session:
        user = session.query(User).filter_by(login=login).one()
        session.expunge(user)
    # The page gets a chat token that runs out seconds after the widget has connected
    # (the services' secret is in this process's environment while `servers` runs).
    short_lived, ttl = [], [6]

    def shorten_the_token(route):
        # The widget script starts with the short token in place of the page's one.
        short_lived.append(issue_token(user, ttl=ttl[0]))
        reply = route.fetch()
        swap = f'document.body.setAttribute("data-chat-token", "{short_lived[-1]}");\n'
        route.fulfill(response=reply, body=swap + reply.text())

    context, page = _widget(chromium, servers, login, password)
    try:
        page.route(f"{servers['web']}/static/widget.js", shorten_the_token)
        page.reload()  # the widget again, now with the short-lived token
        expect(page.locator("#status")).to_have_text("已连接")
        assert page.locator("body").get_attribute("data-chat-token") == short_lived[0]
        page.wait_for_timeout(7000)  # the token has expired; the connection is still open
        page.locator("#input").fill("你好")
        page.locator("#input").press("Enter")
        # The server refuses the message (auth_error); the widget fetches a new token,
        # reconnects to the same conversation and sends it again: the agent just sees the answer.
        expect(page.locator("#log .msg.bot").first).to_be_visible(timeout=40000)
        expect(page.locator("#status")).to_have_text("已连接")
        expect(page.locator("#log .msg.user")).to_have_count(1)
        expect(page.locator("#log .notice.error")).to_have_count(0)
        page.screenshot(path=str(ARTIFACTS / "screenshots" / "accounts-renewed-token.png"))

        # A page whose token has already expired (a laptop waking up): the handshake is
        # refused, the widget gets a new token and connects all the same.
        ttl[0] = -60
        page.reload()
        expect(page.locator("#status")).to_have_text("已连接", timeout=20_000)
    finally:
        context.close()


@pytest.mark.e2e
def test_the_widget_says_so_when_the_account_is_disabled(servers, chromium):
    from playwright.sync_api import expect

    login, password = _temp_agent(servers)
    context, page = _widget(chromium, servers, login, password)
    try:
        disabled = salesbot("user", "disable", login, env={"SALESBOT_DB_URL": f"sqlite:///{servers['crm']}"})
        assert disabled.returncode == 0, disabled.stderr
        page.locator("#input").fill("你好")
        page.locator("#input").press("Enter")
        expect(page.locator("#status")).to_contain_text("登录已失效")
        link = page.get_by_role("link", name="重新登录")
        expect(link).to_be_visible()
        expect(page.locator("#log .msg.bot")).to_have_count(0)
        link.click()
        expect(page.get_by_label("用户名")).to_be_visible()  # back on the login page
    finally:
        context.close()
