"""Complaints for supervisors: the list (open first) and the answer or resolution with a note."""

from __future__ import annotations

from sanic import response
from sanic.request import Request
from sqlalchemy.orm import Session

from bot import access, clock, complaints, crm, masking
from bot.auth import Identity
from bot.web.api.common import api, csrf_ok_for, error_json, in_session, json_body, list_reply, refusal
from bot.web.session import require_identity


@api.get("/complaints")
@require_identity
async def list_complaints(request: Request, identity: Identity):
    """Every complaint, open first (the longest waiting on top), then resolved ones, latest first;
    ``status`` filters. Numbers in the customer's words show as this reader may see them."""
    if not access.may_handle_complaints(identity):
        return refusal("api_complaints_supervisors_only", 403)
    status = request.args.get("status") or None

    def work(session: Session):
        now = clock.now()
        rows = [complaints.complaint_json(c, now) for c in complaints.listing(session, status=status)]
        return response.json(masking.for_reader(session, identity, rows))

    return await list_reply(work)


@api.post("/complaints/<complaint_id:int>/notes")
@require_identity
async def answer_complaint(request: Request, complaint_id: int, identity: Identity):
    """A supervisor's note on a complaint: ``{"note": ..., "resolve": true|false}``."""
    if not access.may_handle_complaints(identity):
        return refusal("api_complaints_supervisors_only", 403)
    if not csrf_ok_for(request):
        return refusal("api_page_expired", 403)
    body = json_body(request)
    note, resolve = body.get("note"), body.get("resolve", False)
    if not isinstance(note, str) or not isinstance(resolve, bool):
        return refusal("complaint_note_missing", 400)

    def work(session: Session):
        now = clock.now()
        try:
            complaint = complaints.answer(session, complaint_id, crm.get_user(session, identity.login), note,
                                          resolve=resolve, now=now)
        except LookupError as error:
            return error_json(str(error), 404)
        except complaints.ComplaintError as error:
            return error_json(str(error), 400)
        return response.json(masking.for_reader(session, identity, complaints.complaint_json(complaint, now)))

    return await in_session(work)
