"""How a call's disposition moves the client along the funnel."""

from __future__ import annotations

from functools import lru_cache

import yaml

from bot.models import DISPOSITION_LABELS, DISPOSITIONS, STAGES
from bot.settings import PROJECT_ROOT

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


@lru_cache(maxsize=1)
def _outcome_phrases() -> list[tuple[str, str]]:
    """(phrase, disposition) from the NLU synonyms, longest phrase first: one source of truth."""
    from bot.text import normalize

    data = yaml.safe_load((PROJECT_ROOT / "data" / "nlu" / "entities.yml").read_text(encoding="utf-8"))
    pairs = []
    for block in data.get("nlu", []):
        if block.get("synonym") in DISPOSITIONS:
            for line in block["examples"].splitlines():
                phrase = normalize(line.strip().lstrip("-").strip())
                if phrase:
                    pairs.append((phrase, block["synonym"]))
    pairs += [(label, code) for code, label in DISPOSITION_LABELS.items()]
    return sorted(pairs, key=lambda pair: -len(pair[0]))


def disposition_for(text: str | None) -> str | None:
    """A disposition code for an outcome phrase the model extracted (没接电话 -> no_answer)."""
    from bot.text import normalize

    if not text:
        return None
    if text in DISPOSITIONS:
        return text
    text = normalize(text)
    for phrase, code in _outcome_phrases():
        if phrase in text:
            return code
    return None
