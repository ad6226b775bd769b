"""Malformed input never crashes a route: hypothesis sends odd headers, cookies, query strings, form
fields and JSON bodies to every route of the web app (read from its router, so a new route is fuzzed
without touching this file), to the Rasa REST webhook and to the action server. No answer may be a
5xx, and no connection may be dropped. Examples are derandomized: the same requests on every run."""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import api_token

pytestmark = pytest.mark.e2e

FUZZ = settings(max_examples=40, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))
CHANNEL_FUZZ = settings(FUZZ, max_examples=40)

PARAM = re.compile(r"<([^:>]+)(?::([^>]+))?>")


def web_routes() -> list[tuple[str, str]]:
    """(method, path pattern) of every route of the web app, from its router."""
    from bot.web.app import create_app

    app = create_app(name="salesbot_fuzz_routes")
    return sorted({(method, "/" + route.path) for route in app.router.routes for method in route.methods
                   if method not in ("HEAD", "OPTIONS")})


# --- values ------------------------------------------------------------------------------------

# Text a client can send: any character but surrogates (not encodable), odd cases spelled out.
ODD = st.sampled_from(["", " ", "é", "é" * 300, "0", "-1", "1e9", "9" * 40, "13800000001", "138****0001",
                       "%", "%2F", "%E5", "../../etc/passwd", "null", "[]", "{}", "true", "\x00", "\u200b",
                       "<script>", "' or 1=1 --", "张三", "2024-13-45", "NaN"])
TEXT = st.one_of(ODD, st.text(st.characters(blacklist_categories=("Cs",)), max_size=30))
# A header value: no CR/LF (the client library refuses them), no leading space; sent as UTF-8 bytes.
HEADER_TEXT = st.one_of(ODD, st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)) \
    .map(lambda value: value.replace("\x00", "").lstrip().encode("utf-8"))
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                    max_leaves=8)
FIELDS = ["login", "password", "csrf", "body", "q", "due", "client", "agent", "outcome", "page", "per_page",
          "limit", "offset", "from", "to", "kind", "status", "scenario", "sender", "message", "session_id"]


def _fields(keys=FIELDS):
    return st.dictionaries(st.sampled_from(keys) | TEXT, TEXT, max_size=4)


@dataclass
class Credentials:
    """Real credentials of the demo users, so fuzzing reaches past the 401s."""

    bearers: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)
    csrf: list[str] = field(default_factory=list)


def _browser_session(web: str, login: str, password: str) -> tuple[str, str]:
    """(session cookie, its CSRF token) after logging in through the form like a browser."""
    browser = requests.Session()
    page = browser.get(f"{web}/", timeout=30)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    browser.post(f"{web}/login", data={"login": login, "password": password, "csrf": csrf}, timeout=30)
    home = browser.get(f"{web}/", timeout=30)
    cookie = browser.cookies.get("salesbot_session")
    assert cookie, "browser login failed"
    return cookie, re.search(r'name="csrf" value="([^"]+)"', home.text).group(1)


@pytest.fixture(scope="module")
def credentials(servers):
    from tests.conftest import DEMO_PASSWORDS

    found = Credentials(bearers=[api_token(servers, login) for login in ("agent01", "super01", "trainee01")])
    for login in ("agent02", "super01"):
        cookie, csrf = _browser_session(servers["web"], login, DEMO_PASSWORDS[login])
        found.sessions.append(cookie)
        found.csrf.append(csrf)
    yield found
    # Fuzzed logins failed by the dozen from 127.0.0.1: let the next tests log in.
    with sqlite3.connect(servers["crm"]) as db:
        db.execute("delete from login_throttle")


def _authorization(credentials: Credentials):
    return st.one_of(st.sampled_from(credentials.bearers).map(lambda t: f"Bearer {t}".encode()),
                     st.just(b"Bearer "), HEADER_TEXT.map(lambda v: b"Bearer " + v), HEADER_TEXT)


def _cookie(credentials: Credentials):
    session = st.sampled_from(credentials.sessions) | TEXT.map(lambda v: quote(v))
    pairs = st.dictionaries(st.sampled_from(["salesbot_session", "salesbot_login_csrf"]) | st.from_regex(
        r"[a-z_]{1,12}", fullmatch=True), session, max_size=3)
    return pairs.map(lambda cookies: "; ".join(f"{k}={v}" for k, v in cookies.items()).encode())


def _headers(credentials: Credentials, with_csrf: bool):
    csrf = (st.sampled_from(credentials.csrf).map(str.encode) | HEADER_TEXT) if with_csrf else HEADER_TEXT
    return st.fixed_dictionaries({}, optional={
        "Authorization": _authorization(credentials), "Cookie": _cookie(credentials), "X-CSRF-Token": csrf,
        "Content-Type": st.sampled_from([b"application/json", b"application/x-www-form-urlencoded",
                                         b"multipart/form-data; boundary=x", b"text/plain"]) | HEADER_TEXT,
        "X-Request-ID": HEADER_TEXT, "X-Forwarded-For": HEADER_TEXT, "X-Forwarded-Proto": HEADER_TEXT,
        "Origin": HEADER_TEXT, "Accept": HEADER_TEXT, "Host": HEADER_TEXT,
        "Accept-Encoding": HEADER_TEXT, "Content-Encoding": HEADER_TEXT,
    })


def _body(fields=FIELDS):
    """(default content type, bytes): nothing, JSON, a form, or raw bytes."""
    return st.one_of(
        st.just((None, b"")),
        JSON.map(lambda v: (b"application/json", json.dumps(v).encode())),
        _fields(fields).map(lambda f: (b"application/x-www-form-urlencoded", urlencode(f).encode())),
        st.binary(max_size=200).map(lambda raw: (b"application/octet-stream", raw)),
    )


def _param(kind: str | None):
    if kind == "int":
        return st.integers(min_value=-(2**63), max_value=2**70).map(str)
    return TEXT.map(lambda v: quote(v, safe="/" if kind == "path" else ""))


def _send(base: str, method: str, path: str, headers: dict, query: dict, body: tuple) -> requests.Response:
    content_type, data = body
    if content_type and "Content-Type" not in headers:
        headers = {**headers, "Content-Type": content_type}
    try:
        return requests.request(method, base + path, headers=headers, params=query, data=data or None,
                                timeout=60, allow_redirects=False)
    except requests.ConnectionError as error:  # a dropped connection is a crash too
        raise AssertionError(f"connection dropped: {method} {path} {headers!r} {query!r} {data!r}") from error


def _assert_answered(reply: requests.Response, method: str, path: str, headers: dict, body: tuple) -> None:
    assert reply.status_code < 500, (f"{reply.status_code} for {method} {path} headers={headers!r} "
                                     f"body={body[1][:300]!r}: {reply.text[:300]}")


# --- the web app: every route ------------------------------------------------------------------

@pytest.mark.parametrize("method, pattern", web_routes())
def test_no_web_route_crashes_on_malformed_input(servers, credentials, method, pattern):
    # A valid CSRF token would let the fuzz log the demo supervisor out (and revoke every token).
    with_csrf = pattern != "/logout"
    params = {name: _param(kind) for name, kind in PARAM.findall(pattern)}

    @FUZZ
    @given(values=st.fixed_dictionaries(params), headers=_headers(credentials, with_csrf),
           query=_fields(), body=_body())
    def probe(values, headers, query, body):
        path = PARAM.sub(lambda m: values[m.group(1)], pattern)
        reply = _send(servers["web"], method, path, headers, query, body)
        _assert_answered(reply, method, path, headers, body)

    probe()


# --- the Rasa REST webhook and the action server ----------------------------------------------

def test_the_rasa_webhook_never_crashes(servers, credentials):
    message = st.fixed_dictionaries({}, optional={"sender": TEXT | st.from_regex(r"fuzz-[a-z0-9]{1,8}", fullmatch=True)
                                                  | JSON, "message": TEXT | JSON, "metadata": JSON})
    body = st.one_of(_body(["sender", "message"]),
                     message.map(lambda m: (b"application/json", json.dumps(m).encode())))

    @CHANNEL_FUZZ
    @given(headers=_headers(credentials, with_csrf=False), body=body)
    def probe(headers, body):
        reply = _send(servers["rasa"], "POST", "/webhooks/rest/webhook", headers, {}, body)
        _assert_answered(reply, "POST", "/webhooks/rest/webhook", headers, body)

    probe()


def test_the_action_server_never_crashes(servers, credentials):
    """What anyone who reaches port 5055 can send: unsigned or wrongly signed calls."""
    from bot.signing import NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER

    headers = st.fixed_dictionaries({}, optional={
        TIMESTAMP_HEADER: HEADER_TEXT | st.integers().map(lambda n: str(n).encode()), NONCE_HEADER: HEADER_TEXT,
        SIGNATURE_HEADER: HEADER_TEXT, "Content-Type": HEADER_TEXT, "Content-Encoding": HEADER_TEXT,
        "X-Request-ID": HEADER_TEXT, "Authorization": HEADER_TEXT})
    call = st.fixed_dictionaries({}, optional={"next_action": TEXT, "sender_id": TEXT, "tracker": JSON,
                                               "domain": JSON, "version": TEXT})
    body = st.one_of(_body(), call.map(lambda c: (b"application/json", json.dumps(c).encode())))

    @CHANNEL_FUZZ
    @given(method=st.sampled_from(["POST", "GET"]), path=st.sampled_from(["/webhook", "/actions", "/health"]),
           headers=headers, body=body)
    def probe(method, path, headers, body):
        reply = _send(servers["actions"], method, path, headers, {}, body)
        _assert_answered(reply, method, path, headers, body)

    probe()
