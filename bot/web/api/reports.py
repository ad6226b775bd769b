"""The supervisor's dashboard and the phone-reveal audit."""

from __future__ import annotations

from sanic import response
from sanic.request import Request

from bot import access
from bot.analytics import dashboard_data
from bot.auth import Identity
from bot.queries import phone_reveals
from bot.web.api.common import api, in_session, real_crm_only, refusal
from bot.web.session import require_identity


@api.get("/audit/phone-reveals")
@require_identity
async def list_phone_reveals(request: Request, identity: Identity):
    """Who pressed "show number" for which client, and when (supervisors only)."""
    if not access.may_list_phone_reveals(identity):
        return refusal("api_reveals_supervisors_only", 403)
    return response.json(await in_session(phone_reveals))


@api.get("/dashboard")
@require_identity
@real_crm_only
async def dashboard(request: Request, identity: Identity):
    return response.json(await in_session(dashboard_data, identity))
