"""Practice from real calls (issue 20, point 6): a supervisor turns a live conversation into a
rehearsal scenario (bot.rehearsal.from_calls decides and refuses; this only translates)."""

from __future__ import annotations

from sanic import response
from sanic.request import Request

from bot.auth import Identity
from bot.rehearsal import from_calls
from bot.web.api.common import api, conversation_route, csrf_ok_for, error_json, in_session, refusal
from bot.web.session import require_identity


@api.post("/conversations/<conversation_id:path>/practice")
@conversation_route
@require_identity
async def make_practice(request: Request, conversation_id: str, identity: Identity):
    """Supervisors only: the scenario made from the call, ``{"id", "title", "source", "created",
    "message"}`` (201 when made now, 200 when it had been made before)."""
    if not csrf_ok_for(request):
        return refusal("api_page_expired", 403)
    try:
        made = await in_session(from_calls.make, identity, conversation_id)
    except PermissionError as error:
        return error_json(str(error), 403)
    except LookupError as error:
        return error_json(str(error), 404)
    except ValueError as error:
        return error_json(str(error), 400)
    return response.json(made.json(), status=201 if made.created else 200)
