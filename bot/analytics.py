"""The supervisor's dashboard: outcomes per agent, forgotten outcomes, the client funnel, objection
frequency, and conversion by opening style and by client segment, over what the reader may see."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import access, call_counts
from bot.auth import Identity
from bot.models import DISPOSITION_LABELS, DISPOSITIONS, STAGE_LABELS, STAGES, Call, Client, User
from bot.outcomes import REACHED
from bot.playbook import playbook
from bot.profile import OTHER_SEGMENT, Profile, segment_choices
from bot.queries import opening_titles, unlogged_per_agent


def other_segment() -> tuple[str, str]:
    """(code, label) of the segment of clients in none."""
    return OTHER_SEGMENT, playbook().messages["segment_other"]


def client_segments(client: Client) -> list[tuple[str, str]]:
    """(code, label) of each segment the client belongs to; ``other_segment()`` when none."""
    return profile_segments(Profile.from_row(client))


def profile_segments(profile: Profile) -> list[tuple[str, str]]:
    return list(zip(profile.segments, profile.segment_labels, strict=True)) or [other_segment()]


def conversion_rows(counts: Iterable[tuple[str, str | None, int]], titles: dict[str, str]) -> list[dict[str, Any]]:
    """Per key, from (key, disposition, number of calls): logged calls, calls that reached the
    customer, deals, interested, and the deal rate among reached calls (None when none was
    reached); most calls first."""
    rows: dict[str, dict[str, Any]] = {}
    for key, disposition, number in counts:
        row = rows.setdefault(key, {"key": key, "label": titles.get(key, key), "calls": 0, "reached": 0,
                                    "deals": 0, "interested": 0})
        row["calls"] += number
        row["reached"] += number if disposition in REACHED else 0
        row["deals"] += number if disposition == "deal" else 0
        row["interested"] += number if disposition == "interested" else 0
    for row in rows.values():
        row["rate"] = round(row["deals"] / row["reached"], 3) if row["reached"] else None
    return sorted(rows.values(), key=lambda r: (-r["calls"], r["key"]))


def dashboard_data(session: Session, identity: Identity) -> dict[str, Any]:
    """Disposition counts per agent, conversations without a logged outcome per agent, the client
    funnel by stage, objection frequency, conversion by opening style and by segment. The counts come
    from bot.call_counts (kept as outcomes are logged), so the dashboard costs the same with a year of calls."""
    owner = access.scope_user_id(session, identity)
    clients = select(Client.stage, func.count()).group_by(Client.stage)
    # Call rows without an outcome: only from before outcomes were required (none are written now).
    open_calls = select(Call.agent_id, func.count()).where(Call.disposition.is_(None)).group_by(Call.agent_id)
    if owner is not None:
        clients = clients.where(Client.agent_id == owner)
        open_calls = open_calls.where(Call.agent_id == owner)
    counts = call_counts.read(session, owner)
    unknown = playbook().messages["agent_unknown"]
    names = dict(session.execute(select(User.id, User.name)).all())
    per_agent: dict[str, dict[str, int]] = {}
    for _key, agent_id, disposition, number in counts[call_counts.OUTCOME]:
        row = per_agent.setdefault(names.get(agent_id, unknown), {d: 0 for d in DISPOSITIONS})
        if disposition in row:
            row[disposition] += number
    unlogged: dict[str, int] = {}
    for agent_id, number in [*session.execute(open_calls).all(), *unlogged_per_agent(session, identity).items()]:
        agent = names.get(agent_id, unknown)
        unlogged[agent] = unlogged.get(agent, 0) + number
    objections: dict[str, int] = {}
    for objection, _disposition, number in call_counts.by_key(counts[call_counts.OBJECTION]):
        objections[objection] = objections.get(objection, 0) + number
    funnel = dict.fromkeys(STAGES, 0)
    funnel.update(dict(session.execute(clients).all()))
    other = other_segment()
    return {
        "dispositions": per_agent,
        # Conversations about a client without a logged outcome, per agent (review: 未记录结果).
        "unlogged": dict(sorted(unlogged.items(), key=lambda kv: -kv[1])),
        "disposition_labels": DISPOSITION_LABELS,
        "funnel": [{"stage": s, "label": STAGE_LABELS[s], "count": funnel[s]} for s in STAGES],
        "objections": dict(sorted(objections.items(), key=lambda kv: -kv[1])),
        "conversion": {
            "by_opening": conversion_rows(call_counts.by_key(counts[call_counts.OPENING]), opening_titles()),
            "by_segment": conversion_rows(call_counts.by_key(counts[call_counts.SEGMENT]),
                                          {**segment_choices(), other[0]: other[1]}),
        },
    }
