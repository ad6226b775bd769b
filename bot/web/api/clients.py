"""Clients by id or phone number, and a supervisor's audited "show number"."""

from __future__ import annotations

from urllib.parse import unquote

from sanic import response
from sanic.request import Request
from sqlalchemy.orm import Session

from bot import access, labels, masking
from bot.auth import Identity
from bot.models import Client
from bot.queries import client_json
from bot.text import phone_query
from bot.web.api.common import api, csrf_ok_for, in_session, real_crm_only, refusal
from bot.web.session import require_identity

# Shorter keys are client ids; from 7 digits on a key is a phone number (+86 and separators allowed).
MIN_PHONE_KEY_DIGITS = 7


def _client_by_key(session: Session, identity: Identity, key: str) -> Client | None:
    """A client by id or phone, None if unknown or not one client: the same access-checked lookup
    as the chat (bot.access.lookup_clients), so a number names a client only to those who may read
    them, and a suffix finds only the agent's own clients."""
    key = unquote(key)  # Sanic leaves %xx in route parameters: %2B86 is +86
    if key.isascii() and key.isdigit() and len(key) < MIN_PHONE_KEY_DIGITS:
        found = access.lookup_clients(session, identity, "client_id", key)
    else:
        typed = phone_query(key)
        if typed is None or typed.digits is None:
            return None
        found = access.lookup_clients(session, identity, "phone", typed.digits)
    return found.clients[0] if len(found.clients) == 1 else None


@api.get("/labels")
async def get_labels(_request: Request):
    """Every disposition, stage, intent and button label (bot/playbook/labels.yml): the same
    JSON the pages carry, for other clients of the API. Labels are not data: no login needed."""
    return response.json(labels.for_pages())


@api.get("/clients/<key>")
@require_identity
@real_crm_only
async def get_client(request: Request, key: str, identity: Identity):
    def work(session: Session):
        client = _client_by_key(session, identity, key)
        if client is None:
            return refusal("api_no_such_client", 404)
        # The free-text note may hold numbers (another client's, a new one): the exit rule applies.
        return response.json(masking.for_reader(session, identity, client_json(identity, client)))

    return await in_session(work)


@api.post("/clients/<key>/phone")
@require_identity
@real_crm_only
async def reveal_phone(request: Request, key: str, identity: Identity):
    """A supervisor's "show number": the full number, written to the audit table."""
    if not csrf_ok_for(request):
        return refusal("api_page_expired", 403)

    def work(session: Session):
        client = _client_by_key(session, identity, key)
        if client is None:
            return refusal("api_no_such_client", 404)
        if access.may_see_full_phone(identity, client):
            return response.json({"client_id": client.id, "phone": client.phone})
        phone = access.record_phone_reveal(session, identity, client)
        if phone is None:
            return refusal("api_reveal_supervisors_only", 403)
        return response.json({"client_id": client.id, "phone": phone, "audited": True})

    return await in_session(work)
