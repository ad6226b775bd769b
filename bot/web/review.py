"""Supervisor review pages: the transcript view (server-rendered), a rehearsal's page (its transcript
beside the score card, with coaching comments) and the metadata the review page uses.

The conversation list and the dashboard on ``GET /`` (review.html) read the JSON API
(/api/calls, /api/dashboard); the transcript page reads the same data as
``GET /api/conversations/<id>`` (bot.transcripts joined to the call row) with the
same access rule: the conversation's owner or a supervisor.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from sanic import Blueprint, response
from sanic.request import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import access, labels, masking
from bot.crm import conversation_calls, product_names
from bot.models import Call, User
from bot.playbook import intent_titles
from bot.queries import call_json, opening_titles, unlogged_lookups
from bot.transcripts import transcript
from bot.web.api.common import conversation_route, in_session
from bot.web.rehearsal_api import rehearsal_detail
from bot.web.session import current_identity, session_claims

review = Blueprint("review", url_prefix="/review")

_templates = Environment(loader=PackageLoader("bot.web", "templates"), autoescape=select_autoescape())

# What the actions in a transcript did, for people reading it.
ACTION_TITLES = {
    "action_lookup_client": "查询客户资料",
    "action_suggest_opening": "给出开场白",
    "action_next_advantage": "给出下一个卖点",
    "action_product_pitch": "给出产品介绍",
    "action_handle_objection": "应对客户异议",
    "action_customer_interested": "跟进购买信号",
    "action_customer_agrees": "按通话阶段理解“好的”",
    "action_handle_do_not_call": "客户要求勿扰",
    "action_log_outcome": "写入通话记录",
    "action_schedule_callback": "预约回访",
    "action_list_followups": "列出待回访客户",
    "action_clarify_intent": "请坐席确认意思",
    "action_apply_reading": "按坐席选择的意思继续",
    "action_default_fallback": "没听懂（兜底）",
    "action_restart": "重新开始",
}
SPEAKERS = {"user": "坐席", "bot": "助手", "action": "动作"}
ROLE_TITLES = {"agent": "坐席", "trainee": "学员", "supervisor": "主管"}


def _button_text(text: str) -> str | None:
    """'/log_outcome{"outcome": "deal"}' (a clicked button) -> '记录通话结果：成交'."""
    match = re.fullmatch(r"/(\w+)(\{.*\})?", text or "", flags=re.DOTALL)
    if not match:
        return None
    title = intent_titles().get(match.group(1), match.group(1))
    try:
        args = json.loads(match.group(2)) if match.group(2) else {}
    except ValueError:
        args = {}
    if not isinstance(args, dict):
        args = {}
    outcomes = labels.dispositions()
    readings = {**intent_titles(), "none": labels.button("reading_none")}
    shown = {"outcome": outcomes, "reading": readings}
    values = [shown.get(k, {}).get(str(v), str(v)) for k, v in args.items()]
    return f"{title}：{' '.join(values)}" if values else title


def _render(name: str, status: int = 200, **context: Any) -> response.HTTPResponse:
    return response.html(_templates.get_template(name).render(**context), status=status)


def _csrf(request: Request) -> str:
    return (session_claims(request) or {}).get("csrf", "")


def error_page(request: Request, identity, status: int, title: str, message: str) -> response.HTTPResponse:
    return _render("error.html", status=status, identity=identity, csrf=_csrf(request),
                   code=status, title=title, message=message)


def _format_time(value: str | None, fmt: str, empty: str = "") -> str:
    """An ISO time from the API in ``fmt`` ('%H:%M:%S' for turns, '%Y-%m-%d %H:%M' for calls)."""
    if not value:
        return empty
    try:
        return datetime.fromisoformat(value).strftime(fmt)
    except ValueError:
        return value


def _clock(value: str | None) -> str:
    return _format_time(value, "%H:%M:%S")


def _when(value: str | None) -> str:
    return _format_time(value, "%Y-%m-%d %H:%M", "—")


def _present_turn(turn: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """A transcript turn with the labels the page shows."""
    speaker = turn.get("speaker")
    shown = dict(turn)
    shown["clock"] = _clock(turn.get("time"))
    shown["speaker_label"] = SPEAKERS.get(speaker, speaker or "")
    if speaker == "user":
        shown["button_text"] = _button_text(turn.get("text") or "")
        login = turn.get("login")
        if login:
            shown["speaker_label"] = names.get(login, login)
        intent = turn.get("intent")
        shown["intent_title"] = intent_titles().get(intent, "") if intent else ""
        confidence = turn.get("confidence")
        shown["confidence_pct"] = f"{float(confidence) * 100:.0f}%" if confidence is not None else ""
        shown["low_confidence"] = confidence is not None and float(confidence) < 0.5
    elif speaker == "action":
        shown["action_title"] = ACTION_TITLES.get(turn.get("text") or "", "")
    custom = turn.get("custom")
    shown["custom"] = custom if isinstance(custom, dict) else None
    return shown


def _phone(identity, call: Call) -> dict[str, Any] | None:
    if call.client is None or not access.may_read_client(identity, call.client):
        return None
    return {"shown": access.phone_for(identity, call.client),
            "revealable": not access.may_see_full_phone(identity, call.client)
            and access.may_reveal_phone(identity, call.client)}


def _conversation(session: Session, identity, conversation_id: str):
    """Every call row of the conversation (one per client) with the phone as the user may see it,
    and the clients looked up in it without a logged outcome; None if the user may not read it."""
    if not access.may_read_conversation(session, identity, conversation_id):
        return None
    calls = [{**call_json(call), "phone": _phone(identity, call)}
             for call in conversation_calls(session, conversation_id)]
    unlogged = unlogged_lookups(session, identity, conversation_id)
    names = {u.login: u.name for u in session.scalars(select(User))}
    return calls, unlogged, names, product_names(session)


@review.get("/conversations/<conversation_id:path>")
@conversation_route
async def conversation_page(request: Request, conversation_id: str):
    identity = await current_identity(request)
    if identity is None:
        return response.redirect("/")
    found = await in_session(_conversation, identity, conversation_id)
    if found is None:
        return error_page(request, identity, 403, "无权查看",
                          "这是其他坐席的会话，您无权查看。如需查看，请联系主管。")
    calls, unlogged, names, products = found
    turns = await asyncio.to_thread(transcript, conversation_id)
    if not turns and not calls:
        return error_page(request, identity, 404, "没有这个会话", "找不到这个会话的记录，可能编号有误。")
    # Stored text (notes, turns, the bot's cards) shows numbers as this reader may see them.
    calls, turns = await in_session(masking.for_reader, identity, [calls, turns])
    user_turns = [t for t in turns if t.get("speaker") == "user"]
    return _render(
        "transcript.html", identity=identity, csrf=_csrf(request), conversation_id=conversation_id,
        calls=calls, unlogged=unlogged, client_names=[e["client"] or "未知客户" for e in calls + unlogged],
        turns=[_present_turn(t, names) for t in turns], when=_when,
        started=turns[0]["time"] if turns else None, user_turn_count=len(user_turns),
        labels=labels.for_pages(), intent_titles=intent_titles(),
        product_names=products, opening_titles=opening_titles(),
        back_url="/" if identity.role != "supervisor" else "/#calls",
    )


@review.get("/rehearsals/<rehearsal_id:int>")
async def rehearsal_page(request: Request, rehearsal_id: int):
    """One rehearsal: the transcript with each trainee line's function tags, the score card beside
    it, and the coaching comments (a form for supervisors). For its trainee and supervisors."""
    identity = await current_identity(request)
    if identity is None:
        return response.redirect("/")
    try:
        rehearsal = await in_session(rehearsal_detail, identity, rehearsal_id)
    except PermissionError as error:
        return error_page(request, identity, 403, "无权查看", str(error))
    except LookupError as error:
        return error_page(request, identity, 404, "没有这条练习记录", str(error))
    back = {"supervisor": ("/#rehearsals", "陪练记录"), "trainee": ("/", "练习")}.get(identity.role,
                                                                                    ("/rehearsal", "练习"))
    return _render("rehearsal_detail.html", identity=identity, csrf=_csrf(request), rehearsal=rehearsal,
                   when=_when, labels=labels.for_pages(), back_url=back[0], back_title=back[1])


def _meta(session: Session) -> dict[str, Any]:
    agents = session.scalars(select(User).where(User.role.in_(("agent", "trainee"))).order_by(User.login))
    return {
        "agents": [{"login": u.login, "name": u.name, "role": u.role} for u in agents],
        "dispositions": labels.dispositions(),
        "stages": [{"stage": code, "label": label} for code, label in labels.stages().items()],
        "intents": intent_titles(),
        "products": product_names(session),
        "openings": opening_titles(),
    }


@review.get("/meta.json")
async def meta(request: Request):
    """Labels and the staff list for the review page's filters (supervisors only)."""
    identity = await current_identity(request)
    if identity is None:
        return response.json({"error": "未登录或令牌无效。"}, status=401)
    if not access.is_supervisor(identity):
        return response.json({"error": "只有主管可以查看。"}, status=403)
    return response.json(await in_session(_meta))


@review.get("/")
async def review_home(request: Request):
    return response.redirect("/")
