"""What the 话术效果 page shows (issue 24, point 4): per segment, each opening style's rate of good outcomes
with its interval and count, the style the bot now prefers, how that preference changed over time, and the
supervisors' controls. Rates from fewer than MIN_CALLS recent reached calls are not shown."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.learning.bandit import EXPLORE_SHARE, Control, evidence_reason
from bot.learning.estimates import HALF_LIFE_DAYS, MIN_CALLS, Evidence, evidence, pooled, posteriors
from bot.learning.store import HISTORY_DAYS, OPENING, controls, opening_labels, opening_outcomes, segment_labels
from bot.models import ALL_SEGMENTS, LearningControl
from bot.playbook import OPENING_STYLES, playbook

TREND_WEEKS = 12  # how far back the page shows which style was preferred, week by week


def _preferred(table: Mapping[tuple[str, str], Evidence], segment: str, control: Control) -> str | None:
    """The style the bot prefers for a segment: the pinned one; else, once the segment has MIN_CALLS reached
    calls and learning is on, the tried style (not excluded) with the highest estimate; None: the
    playbook's order decides, client by client (as it does for the live bot until then)."""
    if control.pinned is not None:
        return control.pinned
    tried = [style for style in OPENING_STYLES
             if style not in control.excluded and (segment, style) in table]
    if not control.learning or not tried or pooled(table.get((segment, style)) for style in tried).calls < MIN_CALLS:
        return None
    found = posteriors(list(OPENING_STYLES), table, segment)
    return max(tried, key=lambda style: found[style].mean)


def effect(session: Session, now: datetime, weeks: int = TREND_WEEKS) -> dict[str, Any]:
    """The page's data: ``segments`` (one entry per segment, those with calls first), the team-wide control,
    the settings (half-life, minimum calls, exploration share) and the style names."""
    rows = opening_outcomes(session, now, days=HISTORY_DAYS + 7 * weeks)
    table = evidence([row for row in rows if row.at >= now - timedelta(days=HISTORY_DAYS)], now)
    found_controls = controls(session)
    own = {row.segment: row for row in session.scalars(select(LearningControl)
                                                         .where(LearningControl.kind == OPENING))}
    names = {style: technique.name for style, technique in playbook().openings.items()}
    seed_order = playbook().messages.learning_texts["page_seed_order"]
    # The evidence as it stood at the end of each past week: the same for every segment, read once.
    weekly = []
    for week in range(weeks, -1, -1):
        at = now - timedelta(weeks=week)
        weekly.append((at, evidence([row for row in rows if at - timedelta(days=HISTORY_DAYS) <= row.at <= at], at)))
    segments = []
    for segment, label in segment_labels().items():
        control = found_controls.get(segment, Control())
        found = posteriors(list(OPENING_STYLES), table, segment)
        styles = []
        for style in OPENING_STYLES:
            seen = table.get((segment, style))
            low, high = found[style].interval()
            shown = seen is not None and seen.recent_calls >= MIN_CALLS
            styles.append({
                "style": style, "name": names[style],
                "calls": seen.calls if seen else 0, "recent_calls": seen.recent_calls if seen else 0,
                "recent_good": seen.recent_good if seen else 0,
                "rate": round(seen.recent_good / seen.recent_calls, 3) if shown else None,
                "estimate": round(found[style].mean, 3) if shown else None,
                "interval": [round(low, 3), round(high, 3)] if shown else None,
                "pinned": control.pinned == style, "excluded": style in control.excluded,
            })
        trend = []
        for at, then in weekly:
            style = _preferred(then, segment, control)
            trend.append({"at": at.date().isoformat(), "style": style, "name": names.get(style, seed_order)})
        reached = sum(entry["calls"] for entry in styles)
        preferred = _preferred(table, segment, control)
        change = own.get(segment)
        segments.append({
            "segment": segment, "label": label, "calls": reached, "styles": styles,
            "preferred": preferred, "preferred_name": names.get(preferred, seed_order),
            "reason": evidence_reason(preferred, table, segment, opening_labels(segment)) if preferred else None,
            "trend": trend,
            "control": {"pinned": control.pinned, "excluded": sorted(control.excluded), "learning": control.learning,
                        "own": _own(change),
                        "changed_by": change.changer.login if change and change.changer else None,
                        "changed_at": change.changed_at.isoformat(timespec="seconds") if change else None},
        })
    segments.sort(key=lambda entry: -entry["calls"])
    team = own.get(ALL_SEGMENTS)
    return {"segments": segments, "styles": names,
            "team": {"learning": team.learning if team else True, "own": _own(team),
                     "changed_by": team.changer.login if team and team.changer else None,
                     "changed_at": team.changed_at.isoformat(timespec="seconds") if team else None},
            "settings": {"half_life_days": HALF_LIFE_DAYS, "min_calls": MIN_CALLS, "explore_share": EXPLORE_SHARE}}



def _own(row: LearningControl | None) -> dict[str, Any]:
    """A control row's own setting (none: nothing pinned or excluded, learning on). The control in force
    merges the team-wide one into each segment's; a page that sent that back would copy the team's
    "learning off" into the segment for good, so it edits this one."""
    if row is None:
        return {"pinned": None, "excluded": [], "learning": True}
    return {"pinned": row.pinned, "excluded": sorted(row.excluded or ()), "learning": row.learning}
