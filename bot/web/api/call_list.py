"""The agent's daily call list (工作台, issue 21): their own, or an agent's for a supervisor."""

from __future__ import annotations

from sanic import response
from sanic.request import Request
from sqlalchemy.orm import Session

from bot import access, clock, crm, masking
from bot.auth import Identity
from bot.book.call_list import DEFAULT_LIMIT, MAX_LIMIT, call_list, call_list_json
from bot.playbook import playbook
from bot.web.api.common import api, error_json, list_reply, real_crm_only
from bot.web.session import require_identity


def _limit(value: str | None) -> int:
    """The most rows to return (``limit``, default the list's); ValueError (Chinese) if invalid."""
    if not value:
        return DEFAULT_LIMIT
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_LIMIT:
        raise ValueError(playbook().messages.call_list_texts["api_bad_limit"].format(limit=MAX_LIMIT))
    return int(value)


@api.get("/call-list")
@require_identity
@real_crm_only
async def get_call_list(request: Request, identity: Identity):
    """Today's call list, in order: ``?agent=<login>`` (supervisors: whose list; agents: their own
    only), ``?conversation=<id>`` (the call in progress, which never counts against itself),
    ``?limit=`` (rows, at most MAX_LIMIT)."""
    texts = playbook().messages.call_list_texts
    login = request.args.get("agent") or (identity.login if identity.role == "agent" else None)
    if login is None:
        return error_json(texts["api_pick_agent"], 400)
    if not access.may_read_call_list(identity, login):
        return error_json(texts["api_other_agent"], 403)
    conversation = request.args.get("conversation") or None
    limit_arg = request.args.get("limit")

    def work(session: Session):
        agent = crm.get_user(session, login)
        if agent is None or agent.role != "agent":
            return error_json(texts["api_unknown_agent"].format(login=login), 404)
        found = call_list(session, agent, clock.now(), limit=_limit(limit_arg), exclude_conversation=conversation)
        return response.json(masking.for_reader(session, identity, call_list_json(found, identity)))

    return await list_reply(work)
