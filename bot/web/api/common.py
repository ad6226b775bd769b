"""What every route of the JSON API shares: its blueprint, refusals, running DB work off the
event loop, paging, and the route decorators (access to the real CRM, conversation ids, CSRF)."""

from __future__ import annotations

import asyncio
import functools
from typing import Any
from urllib.parse import unquote

from sanic import Blueprint, response
from sanic.request import Request
from sqlalchemy.orm import Session

from bot import access, masking
from bot.auth import Identity
from bot.db import sessions
from bot.playbook import playbook
from bot.web.session import by_bearer_token, csrf_ok

api = Blueprint("api", url_prefix="/api")


def error_json(message: str, status: int) -> response.HTTPResponse:
    """The API's refusal: ``{"error": <Chinese message>}`` with the status."""
    return response.json({"error": message}, status=status)


def refusal(key: str, status: int) -> response.HTTPResponse:
    """``error_json`` with the message ``key`` of bot/playbook/messages.yml."""
    return error_json(playbook().messages[key], status)


async def in_session(fn, *args):
    """Run blocking DB work off the event loop, in one transaction."""

    def work():
        with sessions().begin() as session:
            return fn(session, *args)

    return await asyncio.to_thread(work)


async def list_reply(fn, *args) -> response.HTTPResponse:
    """``fn(session, *args)``'s response; a bad filter or page parameter (ValueError) is a 400."""
    try:
        return await in_session(fn, *args)
    except ValueError as error:
        return error_json(str(error), 400)


PAGE_LIMIT = 500  # the most (and the default number of) entries one page of a list holds


def page_bounds(args: dict[str, str]) -> tuple[int, int]:
    """(offset, limit) from the ``offset`` and ``limit`` query parameters; ValueError if invalid."""
    messages = playbook().messages
    try:
        offset, limit = int(args.get("offset") or 0), int(args.get("limit") or PAGE_LIMIT)
    except ValueError:
        raise ValueError(messages["api_page_not_integers"]) from None
    if offset < 0 or not 1 <= limit <= PAGE_LIMIT:
        raise ValueError(messages["api_page_out_of_range"].format(limit=PAGE_LIMIT))
    return offset, limit


def page_json(session: Session, identity: Identity, rows: list[Any], args: dict[str, str],
              load=None) -> response.HTTPResponse:
    """One page of ``rows`` (``load`` turns a page of keys into entries), as ``identity`` may read
    it (bot.masking), with the size of the whole list in ``X-Total-Count``."""
    offset, limit = page_bounds(args)
    return listed_json(session, identity, rows[offset:offset + limit], len(rows), load)


def listed_json(session: Session, identity: Identity, page: list[Any], total: int,
                load=None) -> response.HTTPResponse:
    """A page the database cut already (``load`` turns its keys into entries), as ``identity`` may
    read it, with the size of the whole list in ``X-Total-Count``."""
    entries = load(session, page) if load is not None else page
    return response.json(masking.for_reader(session, identity, entries), headers={"X-Total-Count": str(total)})


def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object; malformed JSON or anything but an object is an empty one."""
    try:
        body = request.json
    except Exception:  # noqa: BLE001 - malformed JSON is a missing body
        return {}
    return body if isinstance(body, dict) else {}


def request_args(request: Request) -> dict[str, str]:
    return {key: request.args.get(key) for key in request.args}


def real_crm_only(handler):
    """Route decorator (after require_identity): trainees never read real clients, calls or follow-ups."""

    @functools.wraps(handler)
    async def wrapper(request: Request, *args, identity: Identity, **kwargs):
        if not access.reads_real_crm(identity):
            return refusal("api_no_real_crm", 403)
        return await handler(request, *args, identity=identity, **kwargs)

    return wrapper


def conversation_route(handler):
    """Route decorator for ``<conversation_id:path>`` routes: the id percent-decoded (Sanic 21.12
    passes route parameters as sent), so an id with a space, a slash or Chinese opens too (old
    conversations, kept from before the channels checked ids)."""

    @functools.wraps(handler)
    async def wrapper(request: Request, *args, conversation_id: str, **kwargs):
        return await handler(request, *args, conversation_id=unquote(conversation_id), **kwargs)

    return wrapper


def csrf_ok_for(request: Request) -> bool:
    """Writes from a browser session need its CSRF token (header); Bearer clients cannot be forged.
    Called after ``require_identity``: a Bearer credential here is a valid token."""
    if by_bearer_token(request):
        return True
    return csrf_ok(request, request.headers.get("X-CSRF-Token"))
