"""The supervisor's dashboard: outcomes per agent, forgotten outcomes, the client funnel, objection
frequency, and conversion by opening style and by client segment, over what the reader may see."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import access
from bot.auth import Identity
from bot.models import DISPOSITION_LABELS, DISPOSITIONS, STAGE_LABELS, STAGES, Call, Client
from bot.outcomes import REACHED
from bot.playbook import playbook
from bot.profile import OTHER_SEGMENT, Profile
from bot.queries import opening_titles, unlogged_lookups
from bot.transcripts import ClientLookup


def other_segment() -> tuple[str, str]:
    """(code, label) of the segment of clients in none."""
    return OTHER_SEGMENT, playbook().messages["segment_other"]


def client_segments(client: Client) -> list[tuple[str, str]]:
    """(code, label) of each segment the client belongs to; ``other_segment()`` when none."""
    profile = Profile.from_row(client)
    return list(zip(profile.segments, profile.segment_labels, strict=True)) or [other_segment()]


def conversion_rows(calls: list[Call], key_of: Callable[[Call], Iterable[str]],
                    titles: dict[str, str]) -> list[dict[str, Any]]:
    """Per key: logged calls, calls that reached the customer, deals, interested, and the deal
    rate among reached calls (None when none was reached); most calls first."""
    rows: dict[str, dict[str, Any]] = {}
    for call in calls:
        for key in key_of(call):
            row = rows.setdefault(key, {"key": key, "label": titles.get(key, key), "calls": 0, "reached": 0,
                                        "deals": 0, "interested": 0})
            row["calls"] += 1
            row["reached"] += call.disposition in REACHED
            row["deals"] += call.disposition == "deal"
            row["interested"] += call.disposition == "interested"
    for row in rows.values():
        row["rate"] = round(row["deals"] / row["reached"], 3) if row["reached"] else None
    return sorted(rows.values(), key=lambda r: (-r["calls"], r["key"]))


def conversion_data(calls: list[Call]) -> dict[str, list[dict[str, Any]]]:
    """Conversion by opening style (calls that used one) and by client segment (a client in two
    segments counts in both)."""
    logged = [c for c in calls if c.disposition]
    segments: dict[int, list[tuple[str, str]]] = {}
    for call in logged:
        if call.client is not None and call.client_id not in segments:
            segments[call.client_id] = client_segments(call.client)
    other = other_segment()
    segment_titles = {code: label for found in segments.values() for code, label in found}
    segment_titles.setdefault(*other)
    return {
        "by_opening": conversion_rows([c for c in logged if c.opening_style], lambda c: [c.opening_style],
                                      opening_titles()),
        "by_segment": conversion_rows(
            logged, lambda c: [code for code, _label in segments.get(c.client_id, [other])],
            segment_titles),
    }


def dashboard_data(session: Session, identity: Identity, lookups: list[ClientLookup] | None = None) -> dict[str, Any]:
    """Disposition counts per agent, conversations without a logged outcome per agent, the client
    funnel by stage, objection frequency."""
    owner = access.scope_user_id(session, identity)
    calls = select(Call)
    clients = select(Client.stage, func.count()).group_by(Client.stage)
    if owner is not None:
        calls = calls.where(Call.agent_id == owner)
        clients = clients.where(Client.agent_id == owner)
    unknown = playbook().messages["agent_unknown"]
    per_agent: dict[str, dict[str, int]] = {}
    unlogged: dict[str, int] = {}
    objections: dict[str, int] = {}
    visible = list(session.scalars(calls).unique())
    for call in visible:
        agent = call.agent.name if call.agent else unknown
        row = per_agent.setdefault(agent, {d: 0 for d in DISPOSITIONS})
        if call.disposition:
            row[call.disposition] += 1
        else:
            unlogged[agent] = unlogged.get(agent, 0) + 1
        for objection in call.objections or []:
            objections[objection] = objections.get(objection, 0) + 1
    for entry in unlogged_lookups(session, identity, lookups):
        agent = entry["agent_name"] or entry["agent"] or unknown
        unlogged[agent] = unlogged.get(agent, 0) + 1
    funnel = dict.fromkeys(STAGES, 0)
    funnel.update(dict(session.execute(clients).all()))
    return {
        "dispositions": per_agent,
        # Conversations about a client without a logged outcome, per agent (review: 未记录结果).
        "unlogged": dict(sorted(unlogged.items(), key=lambda kv: -kv[1])),
        "disposition_labels": DISPOSITION_LABELS,
        "funnel": [{"stage": s, "label": STAGE_LABELS[s], "count": funnel[s]} for s in STAGES],
        "objections": dict(sorted(objections.items(), key=lambda kv: -kv[1])),
        "conversion": conversion_data(visible),
    }
