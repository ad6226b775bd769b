"""The rehearsal part of the JSON API (issue 10): scenarios, rehearsal records, progress and
coaching comments.

Every route needs a verified identity. Who sees what is decided by ``bot.rehearsal.records`` (and
``bot.access`` under it): a trainee or agent sees their own rehearsals, a supervisor everyone's;
only supervisors write coaching comments, which the transcript's owner reads. Nothing here reads
a real client: scenarios are fictional, so trainees may use every route.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from sanic import Blueprint, response
from sanic.request import Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import crm, labels, masking
from bot.auth import Identity
from bot.crm import product_names
from bot.db import batched
from bot.models import CoachingComment, Rehearsal, User
from bot.queries import opening_titles
from bot.rehearsal import records
from bot.rehearsal.scenarios import Scenario, all_scenarios, scenarios_by_id
from bot.web.api.common import conversation_route, csrf_ok_for, error_json, in_session, json_body, refusal
from bot.web.api.disputes import dispute_json
from bot.web.session import require_identity

rehearsal_api = Blueprint("rehearsal_api", url_prefix="/api")



def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _label(section: str, code: str | None) -> str | None:
    return labels.rehearsal(section).get(code, code) if code else None


# --- scenarios -------------------------------------------------------------------------------

def scenario_json(s: Scenario, products: dict[str, str]) -> dict[str, Any]:
    """A scenario as the picker shows it. The persona is fictional; ``modelled_on`` (the real
    demo client it follows) is left out on purpose."""
    p = s.persona
    titles = labels.intent_titles()
    return {
        "id": s.id, "title": s.title, "difficulty": s.difficulty,
        "difficulty_label": _label("difficulties", s.difficulty),
        # playbook (scenarios.yml) or real_call (made from a reviewed live call), with its label.
        "source": s.source, "source_label": _label("scenario_sources", s.source),
        "opening_style": s.opening_style,
        "opening_style_label": opening_titles().get(s.opening_style) if s.opening_style else None,
        "persona": {"name": p.name, "title": p.title, "gender": p.gender, "age": p.age,
                    "occupation": p.occupation, "temperament": p.temperament, "needs": p.needs},
        "product": {"code": s.product, "name": products.get(s.product, s.product)},
        "objections": [{"intent": intent, "title": titles.get(intent, intent)}
                       for intent in dict.fromkeys(s.objections)],
    }


def scenarios_json(session: Session) -> list[dict[str, Any]]:
    products = product_names(session)
    return [scenario_json(s, products) for s in all_scenarios()]


# --- rehearsals ------------------------------------------------------------------------------

def _comment_counts(session: Session, conversation_ids: set[str | None]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for batch in batched({c for c in conversation_ids if c}):
        counts.update(session.execute(select(CoachingComment.conversation_id, func.count())
                                      .where(CoachingComment.conversation_id.in_(batch))
                                      .group_by(CoachingComment.conversation_id)).all())
    return counts


def rehearsal_json(r: Rehearsal, scenarios: dict[str, Scenario], comments: int = 0) -> dict[str, Any]:
    """One rehearsal in a list: who, which scenario, when, how it ended, the total and flags."""
    s = scenarios.get(r.scenario_id)
    return {
        "id": r.id, "login": r.user.login, "name": r.user.name,
        "scenario_id": r.scenario_id, "scenario_title": s.title if s else r.scenario_id,
        "difficulty": s.difficulty if s else None, "conversation_id": r.conversation_id,
        "started_at": _iso(r.started_at), "ended_at": _iso(r.ended_at),
        "outcome": r.outcome, "outcome_label": _label("rehearsal_outcomes", r.outcome),
        "total": r.total, "flags": list(r.flags or []), "comments": comments,
    }


def rehearsal_list(session: Session, identity: Identity) -> list[dict[str, Any]]:
    rows = records.rehearsals_for(session, identity)
    scenarios = scenarios_by_id()
    counts = _comment_counts(session, {r.conversation_id for r in rows})
    return [rehearsal_json(r, scenarios, counts.get(r.conversation_id, 0)) for r in rows]


def comment_json(c: CoachingComment) -> dict[str, Any]:
    return {"id": c.id, "conversation_id": c.conversation_id, "author": c.author.login,
            "author_name": c.author.name, "body": c.body, "created_at": _iso(c.created_at)}


def rehearsal_detail(session: Session, identity: Identity, rehearsal_id: int) -> dict[str, Any]:
    """One rehearsal with its score card items, transcript and coaching comments, for its
    trainee or a supervisor (LookupError / PermissionError otherwise)."""
    r = records.rehearsal_for(session, identity, rehearsal_id)
    scenarios = scenarios_by_id()
    comments = records.comments_for(session, identity, r.conversation_id) if r.conversation_id else []
    s = scenarios.get(r.scenario_id)
    # What the trainee typed and what supervisors wrote is stored text: masked for the reader.
    return masking.for_reader(session, identity, {
        **rehearsal_json(r, scenarios, len(comments)),
        "scenario": scenario_json(s, product_names(session)) if s else None,
        "items": list(r.items or []), "turns": list(r.turns or []),
        "comment_list": [comment_json(c) for c in comments],
        # The card's disputes, and whether this reader is the one who may dispute its items.
        "disputes": [dispute_json(d, scenarios) for d in records.disputes_of(session, identity, r)],
        "may_dispute": r.user.login == identity.login,
    })


def progress(session: Session, identity: Identity) -> list[dict[str, Any]]:
    """Average score per day, one series per person: everyone's for a supervisor (the review
    chart), the caller's own for anyone else (their progress on the rehearsal screen)."""
    series = {login: [(day.isoformat(), avg) for day, avg in days]
              for login, days in records.average_by_trainee(session, identity).items()}
    names = dict(session.execute(select(User.login, User.name).where(User.login.in_(series))).all())
    return [{"login": login, "name": names.get(login, login),
             "points": [{"day": day, "average": avg} for day, avg in days]}
            for login, days in series.items()]


# --- coaching comments -----------------------------------------------------------------------

def my_comments(session: Session, identity: Identity, limit: int = 100) -> list[dict[str, Any]]:
    """Coaching comments on the transcripts the caller owns (bot.access.conversation_owner: the
    owner row, else the agent of the conversation's call rows), newest first, each with where it
    was written: the rehearsal (scenario) or the live call (client)."""
    me = session.scalars(select(User.id).where(User.login == identity.login)).first()
    if me is None:
        return []
    comments = list(session.scalars(
        select(CoachingComment).where(crm.owned_by(CoachingComment.conversation_id, me))
        .order_by(CoachingComment.created_at.desc(), CoachingComment.id.desc()).limit(limit)).unique())
    ids = {c.conversation_id for c in comments}
    scenarios = scenarios_by_id()
    rehearsals = {r.conversation_id: r for r in session.scalars(
        select(Rehearsal).where(Rehearsal.conversation_id.in_(ids)).order_by(Rehearsal.id.desc())).unique()}
    clients = crm.call_client_names(session, ids)
    entries = []
    for c in comments:
        r = rehearsals.get(c.conversation_id)
        entry = comment_json(c)
        if r is not None:
            s = scenarios.get(r.scenario_id)
            entry.update(kind="rehearsal", rehearsal_id=r.id, about=s.title if s else r.scenario_id,
                         url=f"/review/rehearsals/{r.id}")
        else:
            entry.update(kind="call", rehearsal_id=None, about=clients.get(c.conversation_id),
                         url=f"/review/conversations/{quote(c.conversation_id, safe='')}")
        entries.append(entry)
    return masking.for_reader(session, identity, entries)


# --- routes ----------------------------------------------------------------------------------

async def _answer(fn, *args) -> response.HTTPResponse:
    """``fn(session, *args)`` as JSON; the records' refusals as 403 / 400 / 404 with their message."""
    try:
        return response.json(await in_session(fn, *args))
    except PermissionError as error:
        return error_json(str(error), 403)
    except LookupError as error:
        return error_json(str(error), 404)
    except ValueError as error:
        return error_json(str(error), 400)


@rehearsal_api.get("/scenarios")
@require_identity
async def list_scenarios(request: Request, identity: Identity):
    """Every rehearsal scenario, easy to hard, then those made from real calls: fictional persona,
    product, the objections raised."""
    return await _answer(scenarios_json)


@rehearsal_api.get("/rehearsals")
@require_identity
async def list_rehearsals(request: Request, identity: Identity):
    """Own rehearsals (a supervisor: everyone's), newest first."""
    return await _answer(rehearsal_list, identity)


@rehearsal_api.get("/rehearsals/progress")
@require_identity
async def rehearsal_progress(request: Request, identity: Identity):
    return await _answer(progress, identity)


@rehearsal_api.get("/rehearsals/<rehearsal_id:int>")
@require_identity
async def get_rehearsal(request: Request, rehearsal_id: int, identity: Identity):
    return await _answer(rehearsal_detail, identity, rehearsal_id)


def _comments(session: Session, identity: Identity, conversation_id: str) -> list[dict[str, Any]]:
    return masking.for_reader(session, identity,
                              [comment_json(c) for c in records.comments_for(session, identity, conversation_id)])


def _add_comment(session: Session, identity: Identity, conversation_id: str, body: str) -> dict[str, Any]:
    comment = records.add_comment(session, identity, conversation_id, body)
    return masking.for_reader(session, identity, comment_json(comment))


@rehearsal_api.get("/conversations/<conversation_id:path>/comments")
@conversation_route
@require_identity
async def list_comments(request: Request, conversation_id: str, identity: Identity):
    """The coaching comments on a transcript (rehearsal or live call): its owner and supervisors."""
    return await _answer(_comments, identity, conversation_id)


@rehearsal_api.post("/conversations/<conversation_id:path>/comments")
@conversation_route
@require_identity
async def add_comment(request: Request, conversation_id: str, identity: Identity):
    """A supervisor's coaching comment, ``{"body": ...}``."""
    if not csrf_ok_for(request):
        return refusal("api_page_expired", 403)
    body = json_body(request).get("body")
    # A missing or non-text body goes through add_comment too, so a non-supervisor hears "no"
    # first and a supervisor hears what is wrong with the comment.
    reply = await _answer(_add_comment, identity, conversation_id, body if isinstance(body, str) else "")
    if reply.status == 200:
        reply.status = 201
    return reply


@rehearsal_api.get("/comments/mine")
@require_identity
async def list_my_comments(request: Request, identity: Identity):
    """Comments on the caller's own transcripts: an agent's live calls, a trainee's rehearsals."""
    return await _answer(my_comments, identity)
