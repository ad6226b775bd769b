"""How a call's disposition moves the client along the funnel."""

from __future__ import annotations

from bot.models import STAGES

# Dispositions that show interest lift a cold client to 潜在客户.
_WARM = {"interested", "callback", "thinking"}


def next_stage(stage: str, disposition: str, previous_deals: int) -> str:
    """The client's stage after a call ended with ``disposition``.

    ``previous_deals``: deals logged for this client in *other* conversations.
    """
    rank = STAGES.index(stage) if stage in STAGES else 0
    if disposition == "deal":
        target = "loyal" if previous_deals >= 1 or stage == "loyal" else "deal"
    elif disposition in _WARM:
        target = "potential"
    elif disposition == "refused":
        target = "general"  # reached and spoke with: no longer unknown
    else:
        return stage
    return target if STAGES.index(target) > rank else stage
