"""Three months of call history for the demo clients, so a fresh `make run` shows real shapes.

Deterministic: a seeded random generator and times relative to an injected ``now`` (same ``now``,
same rows). Each client's story is a fixed list of dispositions that ends in the stage the
demo data gives them (replaying ``bot.outcomes.next_stage`` over it reproduces that stage), so
the history never contradicts the client card; the details (days, hours, objections, opening
styles, follow-up times) come from the generator. 孙丽 asked not to be called again: her
history stops with that call and her open follow-up is cancelled by it.

Conversation ids start with ``demo-`` and do not depend on ``now``: loading again, on any day,
adds nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import call_counts, clock
from bot.demo_data import read_demo_data
from bot.models import Call, Client, FollowUp, User
from bot.outcomes import REACHED
from bot.playbook import playbook

SEED = 20261123
PREFIX = "demo-"
DAYS = 90


@dataclass(frozen=True)
class Story:
    """One client's calls in order, and what the last call left open."""

    dispositions: tuple[str, ...]
    products: tuple[str, ...]  # what the agent pitched (product codes), deals sell the first ones
    styles: tuple[str, ...]  # opening styles that fit this client (bot.playbook.OPENING_STYLES)
    # Days from ``now`` when the follow-up booked on the last call is due (negative: overdue);
    # None: the last call booked nothing.
    last_due_days: int | None = None
    amounts: tuple[float, ...] = ()  # per deal, in order


# By phone (the demo data's fixed key). The stories end in the demo data's stages:
# 张三 general, 李四 potential, 朱丽 unknown, 王华 loyal, 赵敏 unknown (first call still to come),
# 陈刚 deal, 刘洋 general, 孙丽 general and do-not-call.
STORIES: dict[str, Story] = {
    "13800000001": Story(("no_answer", "refused", "no_answer", "refused"), ("LARGE_CD", "STEADY_WEALTH"),
                         ("direct", "find_fault", "self_intro")),
    "13800000002": Story(("no_answer", "thinking", "callback", "interested"), ("PLATINUM_CARD",),
                         ("direct", "herd", "self_intro"), last_due_days=-2),
    "13800000003": Story(("no_answer",), ("LARGE_CD",), ("referral",), last_due_days=1),
    "13800000004": Story(("interested", "deal", "callback", "deal", "interested"),
                         ("PLATINUM_CARD", "STEADY_WEALTH", "LARGE_CD"), ("familiar", "peer_reference", "worry"),
                         last_due_days=3, amounts=(0, 500000)),
    "13800000006": Story(("callback", "thinking", "deal", "interested"), ("PAYROLL", "CORP_ACCOUNT"),
                         ("peer_reference", "self_intro", "familiar"), last_due_days=-1, amounts=(0,)),
    "13800000007": Story(("no_answer", "refused", "refused"), ("CORP_ACCOUNT", "MOBILE_BANKING"),
                         ("self_intro", "herd", "direct")),
    "13800000008": Story(("no_answer", "refused", "do_not_call"), ("LARGE_CD", "TIME_DEPOSIT"),
                         ("self_intro", "direct")),
}

# What customers said on calls that ended this way (objection intents, contract section 5).
OBJECTIONS: dict[str, tuple[tuple[str, ...], ...]] = {
    "refused": (("objection_not_interested",), ("objection_has_provider",), ("objection_hate_sales",),
                ("objection_no_money", "objection_not_interested")),
    "thinking": (("objection_think_it_over",), ("objection_price", "objection_think_it_over"),
                 ("objection_send_materials",)),
    "callback": (("objection_busy",), ("objection_busy", "objection_send_materials")),
    "interested": ((), ("objection_risk",), ("objection_price",)),
    "deal": ((), ("objection_price",), ("objection_trust",)),
    "do_not_call": (("objection_do_not_call",), ("objection_hate_sales", "objection_do_not_call")),
}
# The agent's note on the call (demo data, as an agent would type it).
NOTES = {
    "no_answer": "未接通",
    "refused": "客户表示暂不需要",
    "thinking": "客户说再考虑，已发产品资料",
    "callback": "客户在忙，约好改天再聊",
    "interested": "客户有兴趣，想了解办理流程",
    "deal": "客户同意办理",
    "do_not_call": "客户要求不要再打电话，已登记勿扰",
}
FOLLOWUP_REASONS = {
    "no_answer": "上次未接通，再打一次",
    "refused": "客户暂不需要，一段时间后再问问",
    "thinking": "客户说再考虑，回访听听想法",
    "callback": "客户在忙，约定回电",
    "interested": "客户有意向，跟进办理",
    "deal": "办理后回访，了解使用情况",
}


@dataclass
class HistoryCall:
    conversation_id: str
    phone: str
    agent: str
    started_at: datetime
    ended_at: datetime
    disposition: str
    objections: list[str]
    opening_style: str | None
    products: list[str]
    amount: float | None
    notes: str


@dataclass
class HistoryFollowUp:
    conversation_id: str
    phone: str
    agent: str
    due_at: datetime
    reason: str
    status: str
    created_at: datetime
    closed_at: datetime | None = None
    objection: str | None = None  # the cause, as data (bot.crm.FollowUpCause)
    product_code: str | None = None
    promise: str | None = None


@dataclass
class History:
    calls: list[HistoryCall] = field(default_factory=list)
    followups: list[HistoryFollowUp] = field(default_factory=list)


def _workday(day: datetime) -> datetime:
    """Calls happen Monday to Friday: a weekend day moves to the Friday before."""
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def _office_time(rng: random.Random, day: datetime) -> datetime:
    hour = rng.choice((9, 10, 10, 11, 14, 15, 15, 16))
    return datetime.combine(day.date(), time(hour, rng.randrange(0, 60, 5)))


def generate(clients: list[dict[str, Any]], now: datetime | None = None, seed: int = SEED) -> History:
    """The history of ``clients`` (demo data specs: phone, agent) up to ``now``."""
    now = now or clock.now()
    rng = random.Random(seed)
    history = History()
    for spec in sorted(clients, key=lambda c: str(c["phone"])):
        phone, story = str(spec["phone"]), STORIES.get(str(spec["phone"]))
        if story is None or not spec.get("agent"):
            continue
        count = len(story.dispositions)
        # Spread over the last three months; the last call a few days ago, and before the day its
        # follow-up is due when that is already past (an overdue follow-up).
        first = rng.randint(DAYS - 12, DAYS - 2)
        last = rng.randint(max(3, 4 - (story.last_due_days or 0)), 14)
        offsets = [round(first - (first - last) * i / max(1, count - 1)) for i in range(count)] if count > 1 \
            else [last]
        calls = []
        deals = 0
        for number, (disposition, offset) in enumerate(zip(story.dispositions, offsets, strict=True), start=1):
            started = _office_time(rng, _workday(now - timedelta(days=offset)))
            reached = disposition in REACHED
            minutes = rng.randint(4, 14) if reached else 1
            pitched = [story.products[min(deals, len(story.products) - 1)]] if reached else []
            amount = None
            if disposition == "deal":
                amount = story.amounts[deals] if deals < len(story.amounts) and story.amounts[deals] else None
                deals += 1
            calls.append(HistoryCall(
                conversation_id=f"{PREFIX}{phone}-{number:02d}", phone=phone, agent=spec["agent"],
                started_at=started, ended_at=started + timedelta(minutes=minutes), disposition=disposition,
                objections=list(rng.choice(OBJECTIONS[disposition])) if disposition in OBJECTIONS else [],
                opening_style=rng.choice(story.styles) if reached else None,
                products=pitched, amount=amount, notes=NOTES[disposition]))
        history.calls += calls
        history.followups += _followups(rng, calls, story, now)
    return history


def _followups(rng: random.Random, calls: list[HistoryCall], story: Story, now: datetime) -> list[HistoryFollowUp]:
    """A follow-up after every call that leaves something to do, closed by the next call
    (done), or by a do-not-call request (cancelled); the last call's stays open."""
    followups = []
    for call, following in zip(calls, [*calls[1:], None], strict=True):
        if call.disposition in ("do_not_call", "invalid_number"):
            break  # nothing more to book: the client is not to be called again
        if following is None:
            if story.last_due_days is None:
                break
            due = _workday(now + timedelta(days=story.last_due_days))
            followups.append(HistoryFollowUp(
                call.conversation_id, call.phone, call.agent, datetime.combine(due.date(), time(rng.choice((10, 15)))),
                FOLLOWUP_REASONS[call.disposition], "open", call.ended_at, **_cause(call)))
            break
        cancelled = following.disposition == "do_not_call"
        # Booked for the day the next call happened (that call answered it) or, when the
        # client asked not to be called, for a few days after the request.
        due = following.started_at if not cancelled else following.started_at + timedelta(days=rng.randint(2, 6))
        followups.append(HistoryFollowUp(
            call.conversation_id, call.phone, call.agent, due, FOLLOWUP_REASONS[call.disposition],
            "cancelled" if cancelled else "done", call.ended_at, following.started_at, **_cause(call)))
    return followups


def _cause(call: HistoryCall) -> dict[str, str | None]:
    """Why a demo follow-up exists: a time agreed (a callback outcome), a call back after the customer's
    objection, or the agent's own plan; the last objection and product of the call that booked it."""
    objection = next((o for o in reversed(call.objections) if o in playbook().callback_objections), None)
    promise = "agreed_time" if call.disposition == "callback" else "call_back" if objection else "planned"
    return {"objection": objection, "product_code": call.products[-1] if call.products else None,
            "promise": promise}


def load_demo_history(session: Session, now: datetime | None = None,
                      clients: list[dict[str, Any]] | None = None) -> dict[str, int]:
    """Insert the demo history into a CRM that has the demo clients and agents; rows already
    there (same demo conversation id and client) are skipped, so loading twice adds nothing.
    Returns how many calls and follow-ups were added."""
    if clients is None:
        clients = read_demo_data()["clients"]
    if session.scalar(select(Call.id).where(Call.conversation_id.startswith(PREFIX)).limit(1)) is not None:
        # Loaded before: the follow-ups have lived on since (moved, closed), never load them again.
        return {"calls": 0, "followups": 0}
    history = generate(clients, now)
    by_phone = {c.phone: c for c in session.scalars(select(Client))}
    users = {u.login: u for u in session.scalars(select(User))}
    existing_calls = set(session.execute(select(Call.conversation_id, Call.client_id)
                                         .where(Call.conversation_id.startswith(PREFIX))).all())
    existing_followups = set(session.execute(select(FollowUp.conversation_id, FollowUp.client_id)
                                             .where(FollowUp.conversation_id.startswith(PREFIX))).all())
    added = {"calls": 0, "followups": 0}
    for call in history.calls:
        client, agent = by_phone.get(call.phone), users.get(call.agent)
        # Only the demo clients of their own agents: a renamed or reassigned client is left alone.
        if client is None or agent is None or client.agent_id != agent.id \
                or (call.conversation_id, client.id) in existing_calls:
            continue
        session.add(Call(conversation_id=call.conversation_id, agent_id=agent.id, client_id=client.id,
                         started_at=call.started_at, ended_at=call.ended_at, disposition=call.disposition,
                         objections=call.objections, opening_style=call.opening_style, products=call.products,
                         amount=call.amount, notes=call.notes, updated_at=call.ended_at))
        added["calls"] += 1
    for followup in history.followups:
        client, agent = by_phone.get(followup.phone), users.get(followup.agent)
        if client is None or agent is None or client.agent_id != agent.id \
                or (followup.conversation_id, client.id) in existing_followups:
            continue
        session.add(FollowUp(client_id=client.id, agent_id=agent.id, due_at=followup.due_at, reason=followup.reason,
                             objection=followup.objection, product_code=followup.product_code,
                             promise=followup.promise, status=followup.status, closed_at=followup.closed_at,
                             conversation_id=followup.conversation_id, created_at=followup.created_at))
        added["followups"] += 1
    session.flush()
    call_counts.rebuild(session)  # the rows were written here, not through bot.outcomes
    return added
