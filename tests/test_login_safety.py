"""Logins an attacker cannot turn against their owner, and demo accounts that never face the network.

- The throttle keys on account and address together; a browser that logged in before carries a
  signed device cookie and is throttled on its own key, so five wrong passwords from someone else
  never lock the real user out.
- The real user is told at their next login how many times someone failed.
- The services listen on loopback unless SALESBOT_LISTEN says otherwise, and refuse a wider
  address while a demo account keeps its published password.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import DEMO_PASSWORDS, ROOT, free_port
from tests.test_accounts import live_app, logout, salesbot, token_for, web  # noqa: F401 - fixtures

OFFICE = {"X-Forwarded-For": "198.51.100.7"}  # address X: the attacker and the user's office
HOME = {"X-Forwarded-For": "192.0.2.44"}  # address Y: the user elsewhere, no device cookie
DEVICE_COOKIE = "salesbot_device"
NOTICE = "登录失败"


def form_login(site: str, browser: requests.Session, login: str, password: str,
               headers: dict | None = None) -> requests.Response:
    """Submit the login form from ``browser`` (its cookies, including a device cookie, go along)."""
    browser.cookies.pop("salesbot_session", None)  # a logged-in browser would get the widget, not the form
    page = browser.get(f"{site}/", timeout=10)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return browser.post(f"{site}/login", data={"login": login, "password": password, "csrf": csrf},
                        headers=headers or {}, allow_redirects=False, timeout=30)


def fail(site: str, login: str, times: int, headers: dict | None = None) -> None:
    for _ in range(times):
        assert token_for(site, login, "wrong-password", headers=headers).status_code == 401


@pytest.fixture()
def proxied_web(web, monkeypatch) -> str:  # noqa: F811 - the fixture
    """The web app behind a trusted proxy: X-Forwarded-For names the client's address."""
    monkeypatch.setenv("SALESBOT_TRUST_PROXY", "1")
    return web


# ---------- lock-out as a weapon ----------


def test_someone_elses_failures_never_lock_out_a_browser_that_logged_in_before(proxied_web, frozen_clock):
    site = proxied_web
    own_browser = requests.Session()
    assert form_login(site, own_browser, "agent02", "demo-agent", OFFICE).status_code == 302
    assert DEVICE_COOKIE in own_browser.cookies

    fail(site, "agent02", 5, OFFICE)  # the attacker, from the same office address
    locked = token_for(site, "agent02", "demo-agent", headers=OFFICE)
    assert locked.status_code == 429 and locked.json()["error"] == "登录失败次数过多，请 30 秒后再试。"

    # The real user's browser (device cookie) gets in from the office ...
    assert form_login(site, own_browser, "agent02", "demo-agent", OFFICE).status_code == 302
    # ... and the user from another address, without the cookie, too.
    assert token_for(site, "agent02", "demo-agent", headers=HOME).status_code == 200
    # From the attacker's address without the cookie the delay holds (brute force stays expensive).
    assert token_for(site, "agent02", "demo-agent", headers=OFFICE).status_code == 429
    stranger = form_login(site, requests.Session(), "agent02", "demo-agent", OFFICE)
    assert stranger.status_code == 429 and "登录失败次数过多" in stranger.text
    assert "salesbot_session" not in stranger.cookies


def test_a_device_cookie_counts_only_for_its_own_login(proxied_web, frozen_clock):
    site = proxied_web
    attacker = requests.Session()  # agent01 logs in, keeps the device cookie, then goes after agent02
    assert form_login(site, attacker, "agent01", "demo-agent", OFFICE).status_code == 302
    fail(site, "agent02", 5, OFFICE)
    assert form_login(site, attacker, "agent02", "demo-agent", OFFICE).status_code == 429
    # A forged cookie is no better than none.
    forged = requests.Session()
    forged.cookies.set(DEVICE_COOKIE, "AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA")
    assert form_login(site, forged, "agent02", "demo-agent", OFFICE).status_code == 429


def test_a_known_device_guessing_still_gets_the_growing_delay(proxied_web, frozen_clock):
    site = proxied_web
    browser = requests.Session()
    assert form_login(site, browser, "agent02", "demo-agent", OFFICE).status_code == 302
    for _ in range(5):
        assert form_login(site, browser, "agent02", "wrong-password", OFFICE).status_code == 401
    assert form_login(site, browser, "agent02", "demo-agent", OFFICE).status_code == 429
    # Its own key: the office without the cookie is not locked by it.
    assert token_for(site, "agent02", "demo-agent", headers=OFFICE).status_code == 200


@pytest.mark.slow  # 5 s or more: make test only
def test_a_password_spray_from_one_address_does_not_lock_the_office_out(proxied_web, frozen_clock):
    site = proxied_web
    for i in range(20):  # a different login name each time, all from the office address
        assert token_for(site, f"nobody{i}", "guess-1234", headers=OFFICE).status_code == 401
    assert token_for(site, "agent02", "demo-agent", headers=OFFICE).status_code == 200
    assert form_login(site, requests.Session(), "agent01", "demo-agent", OFFICE).status_code == 302


@pytest.mark.slow  # 5 s or more: make test only
def test_a_password_reset_lifts_every_lock_of_the_login(proxied_web, frozen_clock):
    site = proxied_web
    fail(site, "agent02", 5, OFFICE)
    fail(site, "agent02", 5, HOME)
    reset = salesbot("user", "reset-password", "agent02", "--password-stdin", stdin="fresh-secret-42\n")
    assert reset.returncode == 0, reset.stderr
    assert token_for(site, "agent02", "fresh-secret-42", headers=OFFICE).status_code == 200
    assert token_for(site, "agent02", "fresh-secret-42", headers=HOME).status_code == 200


# ---------- the notice to the real user ----------


def test_the_user_is_told_at_the_next_login_how_often_someone_failed(proxied_web, frozen_clock):
    site = proxied_web
    fail(site, "agent01", 3, HOME)
    browser = requests.Session()
    assert form_login(site, browser, "agent01", "demo-agent", OFFICE).status_code == 302
    page = browser.get(f"{site}/", timeout=10)
    assert page.status_code == 200 and "登录失败 3 次" in page.text
    # Shown once: the next page and the next login say nothing.
    assert NOTICE not in browser.get(f"{site}/", timeout=10).text
    assert logout(site, browser).status_code == 302
    assert form_login(site, browser, "agent01", "demo-agent", OFFICE).status_code == 302
    assert NOTICE not in browser.get(f"{site}/", timeout=10).text


def test_the_api_token_reply_counts_the_failures_since_the_last_login(proxied_web, frozen_clock):
    site = proxied_web
    fail(site, "agent02", 2)
    first = token_for(site, "agent02", "demo-agent")
    assert first.status_code == 200 and first.json()["failed_logins_since_last_login"] == 2
    assert token_for(site, "agent02", "demo-agent").json()["failed_logins_since_last_login"] == 0


# ---------- demo accounts and the listening address ----------


def _cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A fresh installation: its own var dir with the default embedded CRM (so the demo data loads)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESBOT_")}
    env.update(SALESBOT_VAR_DIR=str(tmp_path / "var"), SALESBOT_SECRET="t" * 8 + os.urandom(24).hex(), **extra)
    return env


@pytest.mark.slow  # 5 s or more: make test only
def test_a_public_listen_address_is_refused_while_demo_passwords_are_unchanged(tmp_path):
    run = subprocess.run([sys.executable, "-m", "bot.cli", "run"], cwd=ROOT, capture_output=True, text=True,
                         env=_cli_env(tmp_path, SALESBOT_LISTEN="0.0.0.0"), timeout=300)
    assert run.returncode == 1, run.stderr
    for login in DEMO_PASSWORDS:
        assert f"salesbot user reset-password {login}" in run.stderr
    assert "SALESBOT_LISTEN" in run.stderr and "公开" in run.stderr and "published" in run.stderr
    assert "Sales assistant is up" not in run.stdout


@pytest.mark.slow  # 5 s or more: make test only
def test_demo_passwords_are_warned_about_on_loopback_and_accepted_once_changed(crm_url, capsys):
    from sqlalchemy import update

    from bot import provision
    from bot.db import sessions
    from bot.models import User
    from bot.passwords import hash_password

    provision.check_demo_accounts("127.0.0.1")  # this computer only: a warning, no refusal
    warning = capsys.readouterr().err
    assert "super01" in warning and "salesbot user reset-password" in warning

    with sessions(crm_url).begin() as session:
        session.execute(update(User).where(User.login == "trainee01").values(active=False))
        for login in ("agent01", "agent02", "super01"):
            session.execute(update(User).where(User.login == login)
                            .values(password_hash=hash_password(f"{login}-private-pass")))
    provision.check_demo_accounts("0.0.0.0")  # every demo account changed or disabled: starts
    assert "reset-password" not in capsys.readouterr().err


def test_services_listen_on_loopback_unless_told_otherwise(monkeypatch):
    from bot.services import service_commands

    monkeypatch.delenv("SALESBOT_LISTEN", raising=False)
    commands = service_commands(5005, 5055, 8000, Path("model.tar.gz"))
    assert commands["web"][commands["web"].index("--host") + 1] == "127.0.0.1"
    assert commands["rasa"][commands["rasa"].index("--interface") + 1] == "127.0.0.1"
    monkeypatch.setenv("SALESBOT_LISTEN", "0.0.0.0")
    commands = service_commands(5005, 5055, 8000, Path("model.tar.gz"))
    assert commands["web"][commands["web"].index("--host") + 1] == "0.0.0.0"
    assert commands["rasa"][commands["rasa"].index("--interface") + 1] == "0.0.0.0"


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a TCP socket listening on ``port`` (Linux /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, local_port = local.split(":")
        if state == "0A" and int(local_port, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def test_the_web_app_binds_loopback_by_default(crm_url):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "SALESBOT_LISTEN"}
    process = subprocess.Popen([sys.executable, "-m", "bot.web", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not _listening_addresses(port):
            assert process.poll() is None and time.monotonic() < deadline, "web app did not start"
            time.sleep(0.3)
        assert _listening_addresses(port) == {"127.0.0.1"}
    finally:
        process.terminate()
        process.wait(timeout=15)
