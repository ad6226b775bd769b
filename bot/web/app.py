"""Sanic web app (port 8000): login, the staff widget, supervisor review, the JSON API."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from sanic import Sanic, response
from sanic.exceptions import InvalidHeader, PayloadTooLarge, SanicException
from sanic.headers import AcceptContainer
from sanic.request import Request
from sqlalchemy.exc import DBAPIError, DisconnectionError

from bot import labels
from bot.auth import (
    CHAT,
    CHAT_TOKEN_TTL_SECONDS,
    LoginResult,
    issue_token,
    log_in,
    read_token,
    revoke_tokens,
    user_for_claims,
)
from bot.book import people
from bot.db import sessions, unreachable
from bot.playbook import playbook
from bot.rehearsal import from_calls, scenarios
from bot.settings import PROJECT_ROOT
from bot.signing import same_secret
from bot.web.api import api
from bot.web.rehearsal_api import rehearsal_api
from bot.web.review import review
from bot.web.session import (
    LOGIN_CSRF_COOKIE,
    NO_STORE,
    SESSION_COOKIE,
    clear_session,
    client_address,
    csrf_ok,
    current_identity,
    is_https,
    session_claims,
    session_cookie,
    set_session,
)

logger = logging.getLogger(__name__)

# The largest request body the web app reads (login forms, JSON: a few KB).
MAX_BODY_BYTES = 1024 * 1024
STATIC_DIR = Path(__file__).resolve().parent / "static"
# The socket.io browser client, installed from the npm lock (web/package-lock.json) by make.
SOCKETIO_CLIENT = PROJECT_ROOT / "web" / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
templates = Environment(loader=PackageLoader("bot.web", "templates"), autoescape=select_autoescape())


def render(name: str, status: int = 200, **context) -> response.HTTPResponse:
    return response.html(templates.get_template(name).render(**context), status=status)


def _chat_token(session_cookie_value: str | None) -> str | None:
    """A fresh 15-minute chat token for the session's user, if the session is still valid."""
    claims = read_token(session_cookie_value, purpose="session")
    if claims is None:
        return None
    with sessions().begin() as session:
        user = user_for_claims(session, claims)
        # For the chat only (Rasa's channels): the JSON API refuses it (bot/auth.py). None for a user
        # still on a one-time password: they set their own first.
        if user is None or user.must_change_password:
            return None
        return issue_token(user, purpose=CHAT, ttl=CHAT_TOKEN_TTL_SECONDS)


def _set_own_password(login: str, password: object, repeat: object):
    """The user replaces their one-time password (people.AccountError if refused); returns the user,
    detached, for their new session (the change revoked the old one)."""
    with sessions().begin() as session:
        user = people.change_own_password(session, login, password, repeat)
        session.flush()
        session.expunge(user)
        return user


def _log_out(session_cookie_value: str | None) -> None:
    """Revoke every token of the session's user (if the session is still valid)."""
    claims = read_token(session_cookie_value, purpose="session")
    if claims is None:
        return
    with sessions().begin() as session:
        user = user_for_claims(session, claims)
        if user is not None:
            revoke_tokens(user)


# What the browser may be told to connect to, from the Host header it sent (no spaces,
# quotes or ';' can reach the page's Content-Security-Policy).
_HOSTNAME = re.compile(r"[A-Za-z0-9.-]{1,253}|[0-9A-Fa-f:.]{2,45}")


def browser_rasa_url(rasa_url: str, request: Request) -> str:
    """The Rasa address the page gives the browser; "" means the page's own origin.

    ``rasa_url`` is the web app's setting (``--rasa-url``):
    ``/`` for the page's own origin (an entry point routes /socket.io and /webhooks to Rasa),
    ``:5005`` for the host the browser loaded the page from, on that port (so the widget also
    works from another computer without a proxy), or a full URL such as ``https://chat.example``.
    """
    if rasa_url in ("", "/"):
        return ""
    if rasa_url.startswith(":") and rasa_url[1:].isdigit():
        try:
            hostname = urlsplit(f"//{request.host}").hostname or ""
        except ValueError:  # e.g. an unbalanced IPv6 bracket
            hostname = ""
        if not _HOSTNAME.fullmatch(hostname):
            hostname = "localhost"
        if ":" in hostname:
            hostname = f"[{hostname}]"  # IPv6
        return f"{'https' if is_https(request) else 'http'}://{hostname}{rasa_url}"
    return rasa_url.rstrip("/")


def _throttled_headers(result: LoginResult) -> dict[str, str]:
    return {"Retry-After": str(result.wait_seconds)} if result.wait_seconds else {}


# Proves this browser logged in before: the throttle then counts its failures apart (bot/throttle.py).
DEVICE_COOKIE = "salesbot_device"
DEVICE_COOKIE_MAX_AGE = 365 * 24 * 3600
# Set at a login after failed attempts; the next page shows the count once, then drops the cookie.
NOTICE_COOKIE = "salesbot_login_notice"


def _set_cookie(resp: response.HTTPResponse, request: Request, name: str, value: str, max_age: int,
                samesite: str = "Strict") -> None:
    resp.cookies[name] = value
    cookie = resp.cookies[name]
    cookie["httponly"] = True
    cookie["samesite"] = samesite
    cookie["path"] = "/"
    cookie["max-age"] = max_age
    if is_https(request):
        cookie["secure"] = True


def _logged_in(resp: response.HTTPResponse, request: Request, result: LoginResult,
               notice: bool = False) -> response.HTTPResponse:
    """A successful login's response: the device cookie renewed; with ``notice``, the count of
    failed attempts for the next page (API clients read it from the JSON instead)."""
    _set_cookie(resp, request, DEVICE_COOKIE, result.device_cookie or "", DEVICE_COOKIE_MAX_AGE)
    if notice and result.failed_logins:
        _set_cookie(resp, request, NOTICE_COOKIE, str(result.failed_logins), 300, samesite="Lax")
    return resp


def _login_notice(request: Request) -> int:
    """Wrong passwords typed for the user before this login (0: nothing to tell)."""
    value = request.cookies.get(NOTICE_COOKIE) or ""
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 6 else 0


def create_app(rasa_url: str = ":5005", name: str = "salesbot_web") -> Sanic:
    """The web app; ``rasa_url`` says where browsers find the chat (see ``browser_rasa_url``)."""
    app = Sanic(name)
    app.config.RASA_URL = rasa_url
    # Forms and JSON here are small; Sanic's default would read 100 MB before any check.
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES
    app.blueprint(api)
    app.blueprint(rehearsal_api)
    # Scenarios made from real calls are read from the CRM (bot.rehearsal.scenarios stays without one).
    scenarios.set_stored_loader(from_calls.stored)
    app.blueprint(review)
    if SOCKETIO_CLIENT.exists():
        app.static("/static/vendor/socket.io.min.js", str(SOCKETIO_CLIENT), name="socketio_client",
                   content_type="application/javascript")
    if STATIC_DIR.exists():
        app.static("/static", str(STATIC_DIR), name="static")

    @app.middleware("response")
    async def security_headers(_request: Request, resp):
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        # Pages show client data and carry tokens: never kept by the browser or a proxy.
        if (resp.content_type or "").startswith("text/html"):
            resp.headers["Cache-Control"] = "no-store"

    @app.exception(PayloadTooLarge)
    async def too_large(request: Request, _error: Exception):
        """A body over MAX_BODY_BYTES: 413 with the reason, read no further."""
        text = f"请求内容太大（最多 {MAX_BODY_BYTES // (1024 * 1024)} MB），没有处理。"
        if request.path.startswith("/api/"):
            return response.json({"error": text}, status=413)
        return response.text(text, status=413)

    @app.exception(SanicException)
    async def sanic_refusal(request: Request, error: Exception):
        """Sanic's own page for a 404, 405 ... parses the Accept header and answers 500 when it is
        malformed (``Accept: x``): read such a header as absent."""
        try:
            _ = request.accept  # parsed here once, then kept on the request
        except InvalidHeader:
            request.parsed_accept = AcceptContainer()
        return app.error_handler.default(request, error)

    @app.exception(OSError, ValueError)
    async def no_such_file(request: Request, error: Exception):
        """Sanic 21.12's static handler raises (a 500) on a directory (GET /static/), a NUL in the
        file name (GET /static/%00) or a name too long for the file system: those are 404s."""
        if request.route is None or request.route.name != f"{app.name}.static":
            return app.error_handler.default(request, error)  # a bug elsewhere: Sanic's own 500, logged
        return response.text("没有这个文件。", status=404)

    @app.exception(DBAPIError, DisconnectionError)
    async def database_down(request: Request, error: Exception):
        """The CRM unreachable: a 503 with a reason in Chinese, not Sanic's 500 page."""
        if not unreachable(error):
            return app.error_handler.default(request, error)  # a bug: Sanic's own 500, logged
        logger.warning("CRM database unreachable on %s %s", request.method, request.path)
        text = playbook().messages["crm_unavailable_web"]
        if request.path.startswith("/api/"):
            return response.json({"error": text}, status=503, headers={"Retry-After": "60"})
        return response.text(text, status=503, headers={"Retry-After": "60"})

    @app.get("/health")
    async def health(_request: Request):
        return response.json({"status": "ok"})

    def login_page(request: Request, error: str | None = None, status: int = 200,
                   headers: dict[str, str] | None = None):
        token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
        resp = render("login.html", status=status, csrf=token, error=error)
        resp.headers.update(headers or {})
        resp.cookies[LOGIN_CSRF_COOKIE] = token
        resp.cookies[LOGIN_CSRF_COOKIE]["httponly"] = True
        resp.cookies[LOGIN_CSRF_COOKIE]["samesite"] = "Strict"
        resp.cookies[LOGIN_CSRF_COOKIE]["path"] = "/"
        if is_https(request):
            resp.cookies[LOGIN_CSRF_COOKIE]["secure"] = True
        return resp

    def page_context(request: Request, identity) -> dict:
        claims = session_claims(request) or {}
        # The pages draw every disposition, stage and button text from these (bot/labels.py).
        return {"identity": identity, "csrf": claims.get("csrf", ""), "login_notice": _login_notice(request),
                "rasa_url": browser_rasa_url(app.config.RASA_URL, request), "labels": labels.for_pages()}

    async def chat_page(request: Request, identity, template: str):
        """A page that talks to Rasa's socket.io (the widget, the rehearsal) with a short-lived
        token of its own (renewed through GET /api/chat-token while the page is open)."""
        chat_token = await asyncio.to_thread(_chat_token, request.cookies.get(SESSION_COOKIE))
        if chat_token is None:
            return login_page(request)
        return render(template, chat_token=chat_token, **page_context(request, identity))

    async def home(request: Request, identity):
        if identity.role == "supervisor":
            return render("review.html", **page_context(request, identity))
        # Trainees never see the live widget (it is about real clients): they rehearse.
        return await chat_page(request, identity, "rehearsal.html" if identity.role == "trainee" else "widget.html")

    def password_page(request: Request, identity, error: str | None = None, status: int = 200):
        """请设置新密码: before any other page, for a user logged in with a one-time password."""
        return render("password.html", status=status, error=error, min_chars=people.MIN_PASSWORD_CHARS,
                      **page_context(request, identity))

    @app.get("/")
    async def index(request: Request):
        identity = await current_identity(request, pending_ok=True)
        if identity is None:
            return login_page(request)
        if identity.must_change_password:
            return password_page(request, identity)
        resp = await home(request, identity)
        if NOTICE_COOKIE in request.cookies:  # shown on this page (base.html): once is enough
            resp.cookies[NOTICE_COOKIE] = ""
            resp.cookies[NOTICE_COOKIE]["max-age"] = 0
            resp.cookies[NOTICE_COOKIE]["path"] = "/"
        return resp

    @app.get("/rehearsal")
    async def rehearsal(request: Request):
        """The rehearsal screen: a trainee's home page, an agent's own practice."""
        identity = await current_identity(request)
        if identity is None:
            return response.redirect("/")
        if identity.role == "supervisor":
            return response.redirect("/#rehearsals")  # supervisors review rehearsals, they do not take them
        return await chat_page(request, identity, "rehearsal.html")

    @app.post("/login")
    async def login(request: Request):
        form = request.form or {}
        expected = request.cookies.get(LOGIN_CSRF_COOKIE)
        submitted = form.get("csrf")
        if not expected or not same_secret(expected, submitted):  # any text refused, never a crash
            return login_page(request, "页面已过期，请重新登录。", status=403)
        result = await asyncio.to_thread(log_in, form.get("login", ""), form.get("password", ""),
                                         client_address(request), request.cookies.get(DEVICE_COOKIE))
        if result.user is None:
            return login_page(request, result.error, status=429 if result.wait_seconds else 401,
                              headers=_throttled_headers(result))
        value, _csrf = session_cookie(result.user)
        resp = response.redirect("/")
        set_session(resp, value, secure=is_https(request))
        return _logged_in(resp, request, result, notice=True)

    @app.post("/password")
    async def set_password(request: Request):
        """The new password (twice) of a user on a one-time password; then a fresh session."""
        identity = await current_identity(request, pending_ok=True)
        if identity is None or not identity.must_change_password:
            return response.redirect("/")
        form = request.form or {}
        if not csrf_ok(request, form.get("csrf")):
            return password_page(request, identity, playbook().messages["api_page_expired"], status=403)
        try:
            user = await asyncio.to_thread(_set_own_password, identity.login, form.get("password"),
                                           form.get("repeat"))
        except people.AccountError as error:
            return password_page(request, identity, str(error), status=400)
        value, _csrf = session_cookie(user)
        resp = response.redirect("/")
        set_session(resp, value, secure=is_https(request))
        return resp

    @app.post("/logout")
    async def logout(request: Request):
        """Log out everywhere: the user's token version is bumped, so this browser's session,
        every other session, the widget's chat token and all API tokens of the user stop working."""
        if not csrf_ok(request, (request.form or {}).get("csrf")):
            return response.text("CSRF 校验失败。", status=403)
        await asyncio.to_thread(_log_out, request.cookies.get(SESSION_COOKIE))
        resp = response.redirect("/")
        clear_session(resp, secure=is_https(request))
        return resp

    @app.post("/api/token")
    async def token(request: Request):
        try:
            body = request.json
        except Exception:  # noqa: BLE001 - malformed JSON
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("login"), str) \
                or not isinstance(body.get("password"), str):
            return response.json({"error": "请求体应为 {\"login\": ..., \"password\": ...}。"}, status=400)
        result = await asyncio.to_thread(log_in, body["login"], body["password"], client_address(request),
                                         request.cookies.get(DEVICE_COOKIE))
        if result.user is None:
            return response.json({"error": result.error}, status=429 if result.wait_seconds else 401,
                                 headers=_throttled_headers(result))
        if result.user.must_change_password:  # no token until they have set their own password
            return response.json({"error": playbook().messages.account_texts["password_change_required"]},
                                 status=403, headers=NO_STORE)
        reply = response.json({"token": issue_token(result.user), "role": result.user.role,
                               "failed_logins_since_last_login": result.failed_logins}, headers=NO_STORE)
        return _logged_in(reply, request, result)

    @app.get("/api/chat-token")
    async def chat_token(request: Request):
        """A fresh chat token for the widget (session cookie only); the page renews it before it expires."""
        value = await asyncio.to_thread(_chat_token, request.cookies.get(SESSION_COOKIE))
        if value is None:
            return response.json({"error": "登录已失效，请重新登录。"}, status=401, headers=NO_STORE)
        return response.json({"token": value, "expires_in": CHAT_TOKEN_TTL_SECONDS}, headers=NO_STORE)

    return app

