"""Signed session cookies, CSRF tokens and the identity of a request (cookie or Bearer token).

Signatures alone are not enough: every request re-checks in the database that the
token's user exists, is active and has not revoked it (see bot.auth). That read is
blocking, so handlers use ``await current_identity(request)``.
"""

from __future__ import annotations

import asyncio
import functools
import secrets

from sanic import response
from sanic.request import Request

from bot.auth import API, SESSION, Identity, bearer, identity_from_token, issue_token, read_token
from bot.playbook import playbook
from bot.settings import trust_proxy
from bot.signing import same_secret

SESSION_COOKIE = "salesbot_session"
LOGIN_CSRF_COOKIE = "salesbot_login_csrf"
SESSION_TTL_SECONDS = 12 * 3600
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _forwarded(request: Request, header: str) -> str | None:
    """The value the nearest (trusted) proxy appended to a comma-separated X-Forwarded-* header."""
    values = [v.strip() for v in ",".join(request.headers.getall(header, [])).split(",") if v.strip()]
    return values[-1] if values else None


def is_https(request: Request) -> bool:
    """Whether the browser reached us over HTTPS (directly, or through a trusted proxy)."""
    if trust_proxy():
        proto = _forwarded(request, "X-Forwarded-Proto")
        if proto:
            return proto.lower() == "https"
    return request.scheme in ("https", "wss")


def client_address(request: Request) -> str:
    """The client's IP address; X-Forwarded-For only counts behind a trusted proxy."""
    if trust_proxy():
        forwarded = _forwarded(request, "X-Forwarded-For")
        if forwarded:
            return forwarded
    return request.remote_addr or request.ip or "unknown"


def session_cookie(user) -> tuple[str, str]:
    """(cookie value, csrf token) for a freshly logged-in user."""
    csrf = secrets.token_urlsafe(24)
    return issue_token(user, purpose=SESSION, ttl=SESSION_TTL_SECONDS, csrf=csrf), csrf


def set_session(resp: response.HTTPResponse, value: str, secure: bool = False) -> None:
    resp.cookies[SESSION_COOKIE] = value
    cookie = resp.cookies[SESSION_COOKIE]
    cookie["httponly"] = True
    cookie["samesite"] = "Lax"
    cookie["path"] = "/"
    cookie["max-age"] = SESSION_TTL_SECONDS
    if secure:
        cookie["secure"] = True


def clear_session(resp: response.HTTPResponse, secure: bool = False) -> None:
    resp.cookies[SESSION_COOKIE] = ""
    resp.cookies[SESSION_COOKIE]["max-age"] = 0
    resp.cookies[SESSION_COOKIE]["path"] = "/"
    if secure:
        resp.cookies[SESSION_COOKIE]["secure"] = True


def session_claims(request: Request) -> dict | None:
    """The session cookie's claims (signature and expiry only; use for its CSRF token)."""
    return read_token(request.cookies.get(SESSION_COOKIE), purpose=SESSION)


def _credentials(request: Request) -> tuple[str | None, str]:
    """(token, purpose): the Bearer token (API clients) first, else the session cookie (browser).
    Only API tokens count as Bearer: the widget's chat token is for Rasa's channels."""
    token = bearer(request.headers.get("Authorization"))
    if token:
        return token, API
    return request.cookies.get(SESSION_COOKIE), SESSION


def by_bearer_token(request: Request) -> bool:
    """Whether the request's credential is a Bearer token (not the cookie): a browser cannot be
    made to send one cross-site, so such a request needs no CSRF token. A blank ``Bearer`` is none."""
    return _credentials(request)[1] == API


def identity_of(request: Request) -> Identity | None:
    """The request's user, checked against the database (blocking; prefer ``current_identity``)."""
    token, purpose = _credentials(request)
    return identity_from_token(token, purpose)


async def current_identity(request: Request, pending_ok: bool = False) -> Identity | None:
    """``identity_of`` off the event loop; cached on the request. A user still on a one-time password
    counts as nobody (their pages send them to set their own), unless ``pending_ok``."""
    if not hasattr(request.ctx, "identity"):
        token, purpose = _credentials(request)
        identity = None
        if read_token(token, purpose) is not None:  # cheap: no thread for missing or forged tokens
            identity = await asyncio.to_thread(identity_from_token, token, purpose)
        request.ctx.identity = identity
    identity = request.ctx.identity
    return identity if pending_ok or identity is None or not identity.must_change_password else None


def csrf_ok(request: Request, submitted: str | None) -> bool:
    claims = session_claims(request)
    expected = claims.get("csrf") if claims else None
    return bool(expected and submitted) and same_secret(str(expected), str(submitted))


def require_identity(handler):
    """Route decorator: 401 without a valid (and unrevoked) token or session, 403 for a user who has not
    yet replaced a one-time password; passes ``identity=``."""

    @functools.wraps(handler)
    async def wrapper(request: Request, *args, **kwargs):
        identity = await current_identity(request, pending_ok=True)
        if identity is None:
            return response.json({"error": "未登录，或登录已失效，请重新登录。"}, status=401)
        if identity.must_change_password:
            return response.json({"error": playbook().messages.account_texts["password_change_required"]},
                                 status=403)
        return await handler(request, *args, identity=identity, **kwargs)

    return wrapper
