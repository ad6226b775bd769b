"""The floor's candidate training lines, for supervisors (issue 22): list them grouped by intent,
accept or reject (one or many), and the last training's report of how the held-out scores moved."""

from __future__ import annotations

from typing import Any

from sanic import response
from sanic.request import Request
from sqlalchemy.orm import Session

from bot import access, crm, floor, masking
from bot.auth import Identity
from bot.models import NluCandidate
from bot.playbook import intent_titles, playbook
from bot.web.api.common import (
    api,
    csrf_ok_for,
    error_json,
    in_session,
    json_body,
    list_reply,
    page_bounds,
    refusal,
    request_args,
)
from bot.web.session import require_identity


def candidate_json(candidate: NluCandidate) -> dict[str, Any]:
    titles = intent_titles()
    return {"id": candidate.id, "text": candidate.text, "intent": candidate.intent,
            "intent_title": titles.get(candidate.intent, candidate.intent), "predicted": candidate.predicted,
            "predicted_title": titles.get(candidate.predicted or "", candidate.predicted),
            "confidence": candidate.confidence, "source": candidate.source, "times": candidate.times,
            "by": candidate.user.login if candidate.user else None, "at": candidate.at.isoformat(timespec="seconds"),
            "status": candidate.status, "floor_version": candidate.floor_version,
            "decided_by": candidate.decider.login if candidate.decider else None}


@api.get("/floor/candidates")
@require_identity
async def list_candidates(request: Request, identity: Identity):
    """Candidates (``status``: pending by default, accepted, rejected) grouped by intent, the counts by
    status and the last training report."""
    if not access.may_teach_model(identity):
        return refusal("api_floor_supervisors_only", 403)
    args = request_args(request)
    status = args.get("status") or floor.PENDING
    if status not in floor.DECISIONS.values() and status != floor.PENDING:
        return error_json(playbook().messages.clarify_texts["bad_decision"], 400)

    def work(session: Session):
        offset, limit = page_bounds(args)
        groups: dict[str, dict[str, Any]] = {}
        for candidate in floor.listing(session, status, limit=limit, offset=offset):
            entry = candidate_json(candidate)
            group = groups.setdefault(candidate.intent, {"intent": candidate.intent, "title": entry["intent_title"],
                                                         "candidates": []})
            group["candidates"].append(entry)
        body = {"status": status, "counts": floor.counts(session), "groups": list(groups.values()),
                "report": floor.movement(), "intents": intent_titles()}
        return response.json(masking.for_reader(session, identity, body))

    return await list_reply(work)


@api.post("/floor/candidates/decide")
@require_identity
async def decide_candidates(request: Request, identity: Identity):
    """``{"ids": [...], "decision": "accept"|"reject", "intent": optional correction}``."""
    if not access.may_teach_model(identity):
        return refusal("api_floor_supervisors_only", 403)
    if not csrf_ok_for(request):
        return refusal("api_page_expired", 403)
    body = json_body(request)
    ids, decision, intent = body.get("ids"), body.get("decision"), body.get("intent")
    texts = playbook().messages.clarify_texts
    if (decision not in floor.DECISIONS or not isinstance(ids, list) or not ids
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)):
        return error_json(texts["bad_decision"], 400)
    if intent is not None and intent not in intent_titles():
        return error_json(texts["bad_intent"].format(intent=str(intent)[:40]), 400)

    def work(session: Session):
        decided = floor.decide(session, ids, decision, crm.get_user(session, identity.login), intent=intent)
        body = {"decided": [candidate_json(c) for c in decided], "message": texts["decided"].format(n=len(decided))}
        return response.json(masking.for_reader(session, identity, body))

    return await in_session(work)
