"""Signed session cookies, CSRF tokens and the identity of a request (cookie or Bearer token)."""

from __future__ import annotations

import functools
import hmac
import secrets

from sanic import response
from sanic.request import Request

from bot.auth import Identity, bearer, identity_from_token, issue_token, read_token

SESSION_COOKIE = "salesbot_session"
LOGIN_CSRF_COOKIE = "salesbot_login_csrf"
SESSION_TTL_SECONDS = 12 * 3600


def session_cookie(user) -> tuple[str, str]:
    """(cookie value, csrf token) for a freshly logged-in user."""
    csrf = secrets.token_urlsafe(24)
    return issue_token(user, purpose="session", ttl=SESSION_TTL_SECONDS, csrf=csrf), csrf


def set_session(resp: response.HTTPResponse, value: str, secure: bool = False) -> None:
    resp.cookies[SESSION_COOKIE] = value
    cookie = resp.cookies[SESSION_COOKIE]
    cookie["httponly"] = True
    cookie["samesite"] = "Lax"
    cookie["path"] = "/"
    cookie["max-age"] = SESSION_TTL_SECONDS
    if secure:
        cookie["secure"] = True


def clear_session(resp: response.HTTPResponse) -> None:
    resp.cookies[SESSION_COOKIE] = ""
    resp.cookies[SESSION_COOKIE]["max-age"] = 0
    resp.cookies[SESSION_COOKIE]["path"] = "/"


def session_claims(request: Request) -> dict | None:
    return read_token(request.cookies.get(SESSION_COOKIE), purpose="session")


def identity_of(request: Request) -> Identity | None:
    """Bearer token (API clients) first, else the session cookie (browser)."""
    token = bearer(request.headers.get("Authorization"))
    if token:
        return identity_from_token(token)
    claims = session_claims(request)
    if claims is None:
        return None
    return Identity(claims["sub"], claims["role"], claims.get("name", claims["sub"]))


def csrf_ok(request: Request, submitted: str | None) -> bool:
    claims = session_claims(request)
    expected = claims.get("csrf") if claims else None
    return bool(expected and submitted) and hmac.compare_digest(str(expected), str(submitted))


def require_identity(handler):
    """Route decorator: 401 without a valid token or session; passes ``identity=``."""

    @functools.wraps(handler)
    async def wrapper(request: Request, *args, **kwargs):
        identity = identity_of(request)
        if identity is None:
            return response.json({"error": "未登录或令牌无效。"}, status=401)
        return await handler(request, *args, identity=identity, **kwargs)

    return wrapper
