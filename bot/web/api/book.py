"""Assignment, the unassigned pool and the change log, for supervisors (issue 21, point 3): the
clients a filter names (paged, with the count), assigning them, the pool, and the change log. The
logic lives in bot/book/assignment.py and bot/book/change_text.py."""

from __future__ import annotations

from sanic import response
from sanic.request import Request
from sqlalchemy.orm import Session

from bot import access, crm, masking
from bot.auth import Identity
from bot.book import assignment, change_text
from bot.playbook import playbook
from bot.web.api.common import (
    api,
    csrf_ok_for,
    json_body,
    list_reply,
    page_bounds,
    page_json,
    refusal,
    request_args,
)
from bot.web.session import require_identity


@api.get("/book/choices")
@require_identity
async def book_choices(request: Request, identity: Identity):
    """The filter bar's segments, tiers and stages, the agents (with their number of clients) and
    the size of the unassigned pool."""
    if not access.may_assign_clients(identity):
        return refusal("api_book_supervisors_only", 403)
    return await list_reply(lambda session: response.json(assignment.filter_choices(session)))


@api.get("/book/clients")
@require_identity
async def book_clients(request: Request, identity: Identity):
    """The clients a filter names (segment, tier, stage, never_called, unassigned, agent), by id: one
    page (``offset``, ``limit``), the count in X-Total-Count; phones masked for supervisors."""
    if not access.may_assign_clients(identity):
        return refusal("api_book_supervisors_only", 403)
    args = request_args(request)

    def work(session: Session):
        ids = assignment.matching_client_ids(session, assignment.ClientFilter.parse(args))
        return page_json(session, identity, ids, args,
                         lambda s, page: assignment.client_entries(s, identity, page))

    return await list_reply(work)


@api.get("/book/pool")
@require_identity
async def book_pool(request: Request, identity: Identity):
    """The clients without an agent, each with why it is there and its open follow-ups; paged."""
    if not access.may_assign_clients(identity):
        return refusal("api_book_supervisors_only", 403)
    args = request_args(request)

    def work(session: Session):
        return page_json(session, identity, assignment.pool_ids(session), args,
                         lambda s, page: assignment.pool_entries(s, identity, page))

    return await list_reply(work)


@api.post("/book/assign")
@require_identity
async def assign_clients(request: Request, identity: Identity):
    """``{"client_ids": [...]}`` or ``{"filter": {...}, "expected": <count seen>}``, with
    ``{"agents": [logins]}``: one agent gets them all, several get them evenly. All or nothing."""
    if not access.may_assign_clients(identity):
        return refusal("api_book_supervisors_only", 403)
    if not csrf_ok_for(request):
        return refusal("api_page_expired", 403)
    body = json_body(request)

    def work(session: Session):
        # An AssignmentError (a ValueError) leaves the transaction unwritten and is the 400's message.
        by = crm.get_user(session, identity.login)
        if body.get("filter") is not None:
            if body.get("client_ids") is not None:
                raise assignment.AssignmentError(playbook().messages.assign_ids_and_filter)
            expected = body.get("expected")
            expected = expected if isinstance(expected, int) and not isinstance(expected, bool) else None
            done = assignment.assign_matching(session, assignment.ClientFilter.parse(body["filter"]),
                                              body.get("agents"), by, expected=expected)
        else:
            done = assignment.assign(session, body.get("client_ids"), body.get("agents"), by)
        return response.json(done.as_json())

    return await list_reply(work)


@api.get("/changes")
@require_identity
async def list_changes(request: Request, identity: Identity):
    """The change log, newest first (``kind``, ``entity``, ``entity_id``; paged), each change with a
    readable line; phone numbers masked."""
    if not access.may_read_changes(identity):
        return refusal("api_changes_supervisors_only", 403)
    args = request_args(request)

    def work(session: Session):
        query = change_text.ChangeQuery.parse(args)
        offset, limit = page_bounds(args)
        total = query.total(session)
        # Past the end is an empty page (and no offset too large for the database to bind).
        rows = change_text.entries(session, query.page(session, offset, limit)) if offset < total else []
        return response.json(masking.for_reader(session, identity, rows), headers={"X-Total-Count": str(total)})

    return await list_reply(work)
