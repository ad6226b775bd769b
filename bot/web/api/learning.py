"""The 话术效果 page's API, for supervisors (issue 24): how each opening style does per segment, and the
controls of what the learner recommends (pin a style, exclude styles, switch learning off), every change
in the change log."""

from __future__ import annotations

from typing import Any

from sanic import response
from sanic.request import Request
from sqlalchemy.orm import Session

from bot import access, clock, crm
from bot.auth import Identity
from bot.book.playbook_controls import ControlRefused, set_control
from bot.learning.report import effect
from bot.playbook import playbook
from bot.web.api.common import api, csrf_ok_for, error_json, in_session, json_body
from bot.web.session import require_identity


def _page(session: Session) -> dict[str, Any]:
    return effect(session, clock.now())


@api.get("/learning/openings")
@require_identity
async def openings(request: Request, identity: Identity):
    """Per segment, each opening style's recent rate of good outcomes with its interval, the preferred
    style, its 12-week trend and the controls (bot.learning.report.effect)."""
    if not access.may_tune_playbook(identity):
        return error_json(playbook().messages.learning_texts["supervisors_only"], 403)

    def work(session: Session):
        return response.json(_page(session))

    return await in_session(work)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


@api.post("/learning/controls")
@require_identity
async def set_controls(request: Request, identity: Identity):
    """``{"segment": code or "*", "pinned": style or null, "excluded": [styles], "learning": bool}``:
    the segment's whole control (the team's for "*"); answers with the page's fresh data."""
    texts = playbook().messages.learning_texts
    if not access.may_tune_playbook(identity):
        return error_json(texts["supervisors_only"], 403)
    if not csrf_ok_for(request):
        return error_json(playbook().messages["api_page_expired"], 403)
    body = json_body(request)
    segment, pinned = body.get("segment"), body.get("pinned")
    excluded, learning = body.get("excluded", []), body.get("learning")
    # Checked before set_control: a string would pass as a list of one-letter styles, a number as a bool.
    if (not _is_text(segment) or not (pinned is None or _is_text(pinned)) or not isinstance(excluded, list)
            or not all(_is_text(style) for style in excluded) or not isinstance(learning, bool)):
        return error_json(texts["bad_control"], 400)

    def work(session: Session):
        user = crm.get_user(session, identity.login)
        set_control(session, user=user, segment=segment, now=clock.now(), pinned=pinned, excluded=excluded,
                    learning=learning)
        return response.json(_page(session))

    try:
        return await in_session(work)
    except ControlRefused as refused:  # raised before anything is written; the transaction rolls back
        return error_json(str(refused), 400)
