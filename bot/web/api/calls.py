"""Calls, conversations (with their transcript), the CSV export and follow-ups."""

from __future__ import annotations

import asyncio

from sanic import response
from sanic.request import Request
from sqlalchemy.orm import Session

from bot import access, crm, masking
from bot.auth import Identity
from bot.csv_export import csv_header, csv_rows
from bot.db import batched
from bot.queries import (
    call_json,
    calls_json,
    calls_page,
    conversations_page,
    entries_json,
    export_call_ids,
    query_followups,
)
from bot.transcripts import transcript
from bot.web.api.common import (
    api,
    conversation_route,
    error_json,
    in_session,
    list_reply,
    listed_json,
    page_bounds,
    real_crm_only,
    refusal,
    request_args,
)
from bot.web.session import require_identity


@api.get("/calls")
@require_identity
@real_crm_only
async def list_calls(request: Request, identity: Identity):
    """Logged calls, newest first: one page (``offset``, ``limit``), the total in X-Total-Count."""
    args = request_args(request)

    def work(session: Session):
        page, total = calls_page(session, identity, args, page_bounds(args))
        return listed_json(session, identity, [key for _kind, key in page], total, calls_json)

    return await list_reply(work)


@api.get("/conversations")
@require_identity
@real_crm_only
async def list_conversations(request: Request, identity: Identity):
    """The review list: every conversation about a client (logged or not), one entry per client,
    paged like ``/api/calls``."""
    args = request_args(request)

    def work(session: Session):
        page, total = conversations_page(session, identity, args, page_bounds(args))
        return listed_json(session, identity, page, total, entries_json)

    return await list_reply(work)


@api.get("/calls.csv")
@require_identity
@real_crm_only
async def export_calls(request: Request, identity: Identity):
    """Every logged call the user may see (no cap), streamed a batch at a time."""
    args = request_args(request)
    try:
        call_ids, mark = await in_session(export_call_ids, identity, args, None)
    except ValueError as error:
        return error_json(str(error), 400)
    reply = await request.respond(content_type="text/csv; charset=utf-8",
                                  headers={"Content-Disposition": 'attachment; filename="calls.csv"'})
    await reply.send(csv_header())
    while True:
        for batch in batched(call_ids):
            await reply.send(await in_session(csv_rows, identity, batch))
        if mark is None:
            break
        call_ids, mark = await in_session(export_call_ids, identity, args, mark)
    await reply.eof()


@api.get("/followups")
@require_identity
@real_crm_only
async def list_followups(request: Request, identity: Identity):
    try:
        rows = await in_session(query_followups, identity, request.args.get("due", "all"))
    except ValueError as error:
        return error_json(str(error), 400)
    return response.json(rows)


@api.get("/conversations/<conversation_id:path>")
@conversation_route
@require_identity
async def get_conversation(request: Request, conversation_id: str, identity: Identity):
    def work(session: Session):
        allowed = access.may_read_conversation(session, identity, conversation_id)
        return allowed, [call_json(c) for c in crm.conversation_calls(session, conversation_id)] if allowed else []

    allowed, calls = await in_session(work)
    if not allowed:
        return refusal("api_other_agents_conversation", 403)
    turns = await asyncio.to_thread(transcript, conversation_id)
    if not turns and not calls:
        return refusal("api_no_such_conversation", 404)
    # Stored text (notes, turns, the bot's cards) shows numbers as this reader may see them.
    shown = await in_session(masking.for_reader, identity, {"calls": calls, "turns": turns})
    # "call": the first call row (contract); "calls": every client's call row of the conversation.
    return response.json({"conversation_id": conversation_id, "call": shown["calls"][0] if calls else None,
                          **shown})
