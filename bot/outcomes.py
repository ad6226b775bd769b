"""Logging a call's outcome: the call row, and how the disposition moves the client along the funnel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import yaml
from sqlalchemy.orm import Session

from bot import crm
from bot.models import DISPOSITION_LABELS, DISPOSITIONS, STAGES, Call, Client, Holding
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


@dataclass
class LoggedCall:
    """What logging a call did, for the message to the agent."""

    call: Call
    created: bool
    old_stage: str
    new_stage: str
    cancelled_followups: int


def log_call(session: Session, *, conversation_id: str, agent_id: int, client: Client, outcome: str,
             started_at: datetime, now: datetime, objections: list[str], opening_style: str | None,
             products: list[str], deal_product: str | None = None, amount: float | None = None,
             notes: str | None = None) -> LoggedCall:
    """Write (or update) the conversation's call row and what follows from the outcome: the
    client's stage, holdings after a deal, and for 勿扰 the flag and the open follow-ups."""
    previous = crm.call_for(session, conversation_id, client.id)
    previous_deals = crm.count_deals(session, client.id) - (
        1 if previous is not None and previous.disposition == "deal" else 0)
    if previous is not None and previous.notes and notes and notes not in previous.notes:
        notes = f"{previous.notes}\n{notes}"
    call, created = crm.upsert_call(
        session, conversation_id, client.id, agent_id=agent_id,
        started_at=previous.started_at if previous else started_at, ended_at=now, disposition=outcome,
        objections=list(objections), opening_style=opening_style, products=list(products), amount=amount,
        notes=notes,
    )
    old_stage = client.stage
    client.stage = next_stage(client.stage, outcome, previous_deals)
    cancelled = 0
    if outcome == "do_not_call":
        client.do_not_call = True
        cancelled = crm.cancel_followups(session, client.id, now)
    else:
        # This call is the callback an earlier call booked: that follow-up is done.
        for followup in crm.pending_callbacks(session, client.id, now, conversation_id):
            followup.close("done", now)
    if outcome == "deal" and deal_product:
        held = {h.product.code for h in client.holdings}
        product = next((p for p in crm.catalogue(session) if p.code == deal_product), None)
        if product is not None and product.code not in held:
            client.holdings.append(Holding(product=product, amount=amount))
    session.flush()
    return LoggedCall(call, created, old_stage, client.stage, cancelled)
