"""Disputes of a rehearsal's score card (issue 20): the trainee disputes one item with a sentence,
a supervisor accepts or rejects it. Who may do what is decided by ``bot.rehearsal.records`` (and
``bot.access`` under it); this only reads the request and shapes the answer."""

from __future__ import annotations

from typing import Any

from sanic import response
from sanic.request import Request
from sqlalchemy.orm import Session

from bot import labels, masking
from bot.auth import Identity
from bot.models import RehearsalDispute
from bot.rehearsal import records
from bot.rehearsal.scenarios import Scenario, scenarios_by_id
from bot.web.api.common import api, csrf_ok_for, error_json, in_session, json_body, refusal
from bot.web.session import require_identity


def _iso(value) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def dispute_json(d: RehearsalDispute, scenarios: dict[str, Scenario]) -> dict[str, Any]:
    """One dispute: whose rehearsal, which item, the trainee's sentence and the supervisor's answer
    with the item's points and the total before and after."""
    r = d.rehearsal
    item = next((i for i in r.items or () if i.get("key") == d.item_key), {})
    s = scenarios.get(r.scenario_id)
    return {
        "id": d.id, "rehearsal_id": r.id, "url": f"/review/rehearsals/{r.id}",
        "login": r.user.login, "trainee_name": r.user.name,
        "scenario_id": r.scenario_id, "scenario_title": s.title if s else r.scenario_id,
        "item": d.item_key, "item_title": item.get("title", d.item_key), "max_points": item.get("max_points"),
        "text": d.text, "status": d.status,
        "status_label": labels.dispute("dispute_statuses").get(d.status, d.status),
        "created_at": _iso(d.created_at), "resolved_at": _iso(d.resolved_at),
        "resolver": d.resolver.login if d.resolver else None,
        "resolver_name": d.resolver.name if d.resolver else None,
        "comment": d.comment, "points_before": d.points_before, "points_after": d.points_after,
        "total_before": d.total_before, "total_after": d.total_after, "total": r.total,
    }


def _list(session: Session, identity: Identity) -> list[dict[str, Any]]:
    scenarios = scenarios_by_id()
    return masking.for_reader(session, identity,
                              [dispute_json(d, scenarios) for d in records.disputes_for(session, identity)])


def _add(session: Session, identity: Identity, rehearsal_id: int, item: Any, text: Any) -> dict[str, Any]:
    made = records.dispute(session, identity, rehearsal_id, item, text)
    return masking.for_reader(session, identity, dispute_json(made, scenarios_by_id()))


def _resolve(session: Session, identity: Identity, dispute_id: int, accept: Any, comment: Any) -> dict[str, Any]:
    done = records.resolve_dispute(session, identity, dispute_id, accept, comment)
    return masking.for_reader(session, identity, dispute_json(done, scenarios_by_id()))


async def _answer(fn, *args, status: int = 200) -> response.HTTPResponse:
    """``fn(session, *args)`` as JSON; the records' refusals as 403 / 404 / 409 / 400 with their message."""
    try:
        return response.json(await in_session(fn, *args), status=status)
    except PermissionError as error:
        return error_json(str(error), 403)
    except LookupError as error:
        return error_json(str(error), 404)
    except records.DisputeConflict as error:
        return error_json(str(error), 409)
    except ValueError as error:
        return error_json(str(error), 400)


@api.get("/disputes")
@require_identity
async def list_disputes(request: Request, identity: Identity):
    """Disputes, open first and oldest first: a supervisor's every one, anyone else's their own."""
    return await _answer(_list, identity)


@api.post("/rehearsals/<rehearsal_id:int>/disputes")
@require_identity
async def add_dispute(request: Request, rehearsal_id: int, identity: Identity):
    """The trainee disputes one item of their rehearsal's card: ``{"item": key, "text": sentence}``."""
    if not csrf_ok_for(request):
        return refusal("api_page_expired", 403)
    body = json_body(request)
    # Whatever the body holds goes to the records, which say in Chinese what is wrong with it.
    return await _answer(_add, identity, rehearsal_id, body.get("item"), body.get("text"), status=201)


@api.post("/disputes/<dispute_id:int>")
@require_identity
async def resolve_dispute(request: Request, dispute_id: int, identity: Identity):
    """A supervisor's answer: ``{"accept": true|false, "comment": ...}`` (a comment to reject)."""
    if not csrf_ok_for(request):
        return refusal("api_page_expired", 403)
    body = json_body(request)
    return await _answer(_resolve, identity, dispute_id, body.get("accept"), body.get("comment"))
