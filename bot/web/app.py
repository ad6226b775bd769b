"""Sanic web app (port 8000): login, the staff widget, supervisor review, the JSON API."""

from __future__ import annotations

import asyncio
import hmac
import secrets
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from sanic import Sanic, response
from sanic.request import Request

from bot.auth import authenticate, issue_token
from bot.db import sessions
from bot.settings import PROJECT_ROOT
from bot.web.api import api
from bot.web.review import review
from bot.web.session import (
    LOGIN_CSRF_COOKIE,
    clear_session,
    csrf_ok,
    identity_of,
    session_claims,
    session_cookie,
    set_session,
)

STATIC_DIR = Path(__file__).resolve().parent / "static"
# The socket.io browser client, installed from the npm lock (web/package-lock.json) by make.
SOCKETIO_CLIENT = PROJECT_ROOT / "web" / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
templates = Environment(loader=PackageLoader("bot.web", "templates"), autoescape=select_autoescape())


def render(name: str, status: int = 200, **context) -> response.HTTPResponse:
    return response.html(templates.get_template(name).render(**context), status=status)


def _login_user(login: str, password: str):
    with sessions().begin() as session:
        user = authenticate(session, login, password)
        if user is not None:
            session.expunge(user)
        return user


def create_app(rasa_url: str = "http://127.0.0.1:5005", name: str = "salesbot_web") -> Sanic:
    app = Sanic(name)
    app.config.RASA_URL = rasa_url
    app.blueprint(api)
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

    @app.get("/health")
    async def health(_request: Request):
        return response.json({"status": "ok"})

    def login_page(request: Request, error: str | None = None, status: int = 200):
        token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
        resp = render("login.html", status=status, csrf=token, error=error)
        resp.cookies[LOGIN_CSRF_COOKIE] = token
        resp.cookies[LOGIN_CSRF_COOKIE]["httponly"] = True
        resp.cookies[LOGIN_CSRF_COOKIE]["samesite"] = "Strict"
        resp.cookies[LOGIN_CSRF_COOKIE]["path"] = "/"
        return resp

    @app.get("/")
    async def index(request: Request):
        identity = identity_of(request)
        if identity is None:
            return login_page(request)
        claims = session_claims(request) or {}
        context = {"identity": identity, "csrf": claims.get("csrf", ""), "rasa_url": app.config.RASA_URL}
        if identity.role == "supervisor":
            return render("review.html", **context)
        # The widget talks to Rasa's socket.io with a short-lived token of its own.
        user = await asyncio.to_thread(_user_row, identity.login)
        if user is None:
            return login_page(request)
        return render("widget.html", chat_token=issue_token(user), **context)

    @app.post("/login")
    async def login(request: Request):
        form = request.form or {}
        expected = request.cookies.get(LOGIN_CSRF_COOKIE)
        submitted = form.get("csrf")
        if not expected or not submitted or not hmac.compare_digest(expected, submitted):
            return login_page(request, "页面已过期，请重新登录。", status=403)
        user = await asyncio.to_thread(_login_user, form.get("login", ""), form.get("password", ""))
        if user is None:
            return login_page(request, "用户名或密码错误。", status=401)
        value, _csrf = session_cookie(user)
        resp = response.redirect("/")
        set_session(resp, value, secure=request.scheme == "https")
        return resp

    @app.post("/logout")
    async def logout(request: Request):
        if not csrf_ok(request, (request.form or {}).get("csrf")):
            return response.text("CSRF 校验失败。", status=403)
        resp = response.redirect("/")
        clear_session(resp)
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
        user = await asyncio.to_thread(_login_user, body["login"], body["password"])
        if user is None:
            return response.json({"error": "用户名或密码错误。"}, status=401)
        return response.json({"token": issue_token(user), "role": user.role})

    return app


def _user_row(login: str):
    from bot.crm import get_user

    with sessions().begin() as session:
        user = get_user(session, login)
        if user is not None:
            session.expunge(user)
        return user
