"""Logging a call's outcome: the client's call row, and what the disposition changes in the CRM
(stage, holdings, follow-ups, do-not-call). No Rasa here: the actions only translate."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache

import yaml
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from bot import call_counts, crm
from bot.call_counts import Counted
from bot.logs import mask_phones
from bot.models import DISPOSITION_LABELS, DISPOSITIONS, STAGES, Call, Client, Holding, Product
from bot.playbook import playbook
from bot.profile import ProductInfo, Profile, profiles_of, suitability_problem
from bot.settings import PROJECT_ROOT
from bot.text import normalize
from bot.timeparse import parse_amount

# "Warm" dispositions, the one list: they show interest, so they lift a cold client to 潜在客户
# (next_stage), promise a next call (a callback booked in the same call stays open: see log_call),
# and the next call continues with the product discussed (bot.guidance.openings).
WARM_DISPOSITIONS = frozenset({"interested", "callback", "thinking"})


def next_stage(stage: str, disposition: str, previous_deals: int) -> str:
    """The client's stage after a call ended with ``disposition``.

    ``previous_deals``: deals logged for this client in *other* conversations.
    """
    rank = STAGES.index(stage) if stage in STAGES else 0
    if disposition == "deal":
        target = "loyal" if previous_deals >= 1 or stage == "loyal" else "deal"
    elif disposition in WARM_DISPOSITIONS:
        target = "potential"
    elif disposition == "refused":
        target = "general"  # reached and spoke with: no longer unknown
    else:
        return stage
    return target if STAGES.index(target) > rank else stage


@lru_cache(maxsize=1)
def _outcome_phrases() -> list[tuple[str, str]]:
    """(phrase, disposition) from the NLU synonyms, longest phrase first: one source of truth."""
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


# A phrase right after one of these is denied, not reported: 没成交, 还没有签, 不感兴趣.
# Matched against normalized (Simplified) text.
_NEGATED = re.compile(r"(?:没有?|未|不|并非|无)\s*$")


def find_outcome(text: str | None) -> tuple[int, int, str] | None:
    """The longest outcome phrase in ``text`` that is not denied: (start, end, disposition).

    Longest first, so 还没决定 (thinking) wins over 没接 inside it and 不要再打 over 不要. Offsets
    are into ``text`` itself (normalize keeps the length)."""
    plain = normalize(text or "")
    for phrase, code in _outcome_phrases():
        start = plain.find(phrase)
        while start != -1:
            if not _NEGATED.search(plain[:start]):
                return start, start + len(phrase), code
            start = plain.find(phrase, start + 1)
    return None


def disposition_for(text: str | None) -> str | None:
    """A disposition code for an outcome phrase the model extracted (没接电话 -> no_answer); the
    same matching as ``find_outcome``, so a denied phrase (没成交) is no outcome here either."""
    if text in DISPOSITIONS:
        return text
    found = find_outcome(text)
    return found[2] if found else None


class OutcomeRefused(Exception):
    """Logging was refused before anything was written; ``reason`` tells the agent why and
    what to do next (Chinese, from the playbook messages)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProductNeeded(OutcomeRefused):
    """A deal names no product of the catalogue: the agent must confirm which one was sold."""


class Unsuitable(OutcomeRefused):
    """A deal on a wealth product the client may not buy (no risk assessment, or its risk
    level above the client's tolerance): selling it would break the suitability rules."""


# Outcomes that promise a next call are the warm ones: a callback booked in the same call is that
# next call and stays open. Besides callback/thinking this includes interested: "有意向，明天再聊" is
# the usual way a busy-but-warm call ends, and the busy objection has already booked that callback.
# Any other outcome (a deal, a refusal, no answer) ends the matter the booking was for.
NOT_REACHED = frozenset({"no_answer", "invalid_number"})
# Calls on which the customer was reached (heard an opening): the denominator of a conversion rate.
REACHED = frozenset(DISPOSITIONS) - NOT_REACHED
# A good outcome among reached calls (有意向 or 成交), the one definition: what the playbook learns
# to win more of (bot.learning). Callback and thinking are warm but decided nothing yet.
GOOD_OUTCOMES = frozenset({"interested", "deal"})


def is_good(disposition: str | None) -> bool:
    """Whether a call's disposition is a good outcome (GOOD_OUTCOMES)."""
    return disposition in GOOD_OUTCOMES


@dataclass
class LoggedCall:
    """What logging a call did, for the message to the agent."""

    call: Call
    created: bool
    old_stage: str
    new_stage: str
    cancelled_followups: int
    done_followups: int = 0
    product: Product | None = None  # what a deal was for


def deal_product_for(session: Session, client: Client, product: str | None) -> Product:
    """The product of a deal, checked: it must name a catalogue product (code, name or alias)
    that the client may buy. Raises ``ProductNeeded`` or ``Unsuitable``; writes nothing."""
    found = crm.product_named(session, product)
    messages = playbook().messages
    if found is None:
        if product:
            raise ProductNeeded(messages["deal_unknown_product"].format(product=product))
        raise ProductNeeded(messages["deal_ask_product"])
    problem = suitability_problem(Profile.from_row(client), ProductInfo.from_row(found))
    if problem:
        raise Unsuitable(problem)
    return found


# The largest amount one call may record. Tele-sales serves retail clients: the largest product
# minimum is 200,000 yuan and private banking (not tele-sales) starts at 6,000,000 of assets, so
# 100,000,000 is never a real retail ticket, while a misheard 亿 or a run of extra zeros lands above
# it. It also keeps the value inside the amount columns (Numeric(16, 2)).
MAX_AMOUNT = 100_000_000


def _money(amount: float) -> str:
    return f"{amount:,.2f}".removesuffix(".00")


def check_amount(amount: float | None) -> None:
    """Any outcome's amount must be a real one: above zero and at most MAX_AMOUNT. Raises
    ``OutcomeRefused`` (nothing written) otherwise; None (no amount said) is fine."""
    if amount is None:
        return
    messages = playbook().messages
    if not math.isfinite(amount) or amount > MAX_AMOUNT:
        shown = _money(amount) if math.isfinite(amount) else str(amount)
        raise OutcomeRefused(messages["amount_too_large"].format(amount=shown, maximum=_money(MAX_AMOUNT)))
    if amount <= 0:
        raise OutcomeRefused(messages["amount_not_positive"].format(amount=_money(amount)))


def amount_from_text(text: str | None, message: str | None = None) -> float | None:
    """The amount the agent said (the ``amount`` entity), checked: None if none was said; raises
    ``OutcomeRefused`` for one that cannot be read (几千块) or is out of range (check_amount).

    ``message``: the whole message, for a minus sign the model left out of the entity (负五万)."""
    if text is None or not str(text).strip():
        return None
    text = str(text).strip()
    at = (message or "").find(text)
    sign = message[at - 1] if at > 0 else ""
    # 负 is always a sign; a dash only where it cannot be a separator (白金卡-5万).
    if sign == "负" or (sign in ("-", "−") and (at == 1 or not message[at - 2].isalnum())):
        text = sign + text
    amount = parse_amount(text)
    if amount is None:
        raise OutcomeRefused(playbook().messages["amount_unparsed"].format(text=text[:40]))
    check_amount(amount)
    return amount


def _check_amount(product: Product, amount: float | None) -> None:
    """A deal below the product's minimum cannot have happened (大额存单 from 200,000)."""
    if amount is not None and product.min_amount and amount < product.min_amount:
        raise OutcomeRefused(playbook().messages["deal_below_minimum"].format(
            product=product.name, amount=f"{amount:,.0f}", minimum=f"{product.min_amount:,.0f}"))


def log_call(session: Session, *, conversation_id: str, agent_id: int, client: Client, outcome: str,
             started_at: datetime, now: datetime, objections: list[str], opening_style: str | None,
             products: list[str], deal_product: str | None = None, amount: float | None = None,
             notes: str | None = None, opening_explored: bool = False) -> LoggedCall:
    """Write (or update) this client's call row in the conversation and what follows from the
    outcome: the client's stage, the holding after a deal, the follow-ups (done, or cancelled
    for 勿扰) and the do-not-call flag. A conversation may cover several clients: everything
    here is keyed by (conversation, client).

    A deal needs the product the agent confirmed (``deal_product``: code, name or alias) and the
    client's suitability for it; otherwise ``OutcomeRefused`` is raised and nothing is written."""
    if outcome not in DISPOSITIONS:
        raise ValueError(f"unknown disposition {outcome!r}")
    check_amount(amount)
    sold = deal_product_for(session, client, deal_product) if outcome == "deal" else None
    if sold is not None:
        _check_amount(sold, amount)
    # A number typed in a note is stored masked: the note goes to lists, exports and supervisors.
    notes = mask_phones(notes) if notes else notes
    previous = crm.call_for(session, conversation_id, client.id)
    profile = Profile.from_row(client)
    # What the row counted for before (upsert_call changes it); a row logged before segments were kept
    # counted in the client's segments, as call_counts.rebuild counts it.
    counted_before = None
    if previous is not None:
        before_segments = previous.segments if previous.segments is not None else ",".join(profile.segments)
        counted_before = replace(Counted.of(previous), segments=before_segments)
    # Deals in other conversations: re-logging this call's deal is not a second deal.
    previous_deals = crm.count_deals(session, client.id) - (
        1 if previous is not None and previous.disposition == "deal" else 0)
    if previous is not None and previous.notes and notes and notes not in previous.notes:
        notes = f"{previous.notes}\n{notes}"
    discussed = list(products)
    if sold is not None and sold.code not in discussed:
        discussed.append(sold.code)  # the call row names what was sold, discussed or not
    call, created = crm.upsert_call(
        session, conversation_id, client.id, agent_id=agent_id,
        started_at=previous.started_at if previous else started_at, ended_at=now, disposition=outcome,
        objections=list(objections), opening_style=opening_style, products=discussed, amount=amount,
        notes=notes,
        # What the learner counts the call as (bot/learning): the segment it was made in, exploration or not.
        segment=profile.main_segment if opening_style else None,
        segments=",".join(profile.segments),
        opening_explored=bool(opening_explored) if opening_style else None,
    )
    crm.settle_lookup(session, call)
    call_counts.bump(session, counted_before, Counted.of(call))
    old_stage = client.stage
    # A corrected outcome (有意向 -> 成交, or a deal that was not one) moves the stage from where
    # it was before this call, and undoes the holding an earlier deal of this call created.
    base_stage = previous.stage_before if previous is not None and previous.stage_before else client.stage
    call.stage_before = base_stage
    client.stage = next_stage(base_stage, outcome, previous_deals)
    if previous is not None:
        for holding in [h for h in client.holdings if h.call_id == call.id]:
            if sold is None or holding.product_id != sold.id:
                client.holdings.remove(holding)
    cancelled = done = 0
    if outcome == "do_not_call":
        cancelled = crm.mark_do_not_call(session, client, now)
    elif outcome in NOT_REACHED:
        # Nobody answered (or wrong number): no callback happened, every follow-up stays open.
        done = 0
    else:
        # The client was reached: the callbacks due by today are done, and this call's own booking
        # too unless the outcome promises that next call (WARM_DISPOSITIONS).
        done = crm.close_followups_after_call(session, client.id, now, conversation_id,
                                              keep_this_calls_booking=outcome in WARM_DISPOSITIONS)
    # A product already held keeps its row and amount: the call cannot tell a top-up from a
    # re-logged deal, and the bank's core system is the record of balances.
    if sold is not None and all(h.product_id != sold.id for h in client.holdings):
        client.holdings.append(Holding(product=sold, amount=amount, since=now, call_id=call.id))
    session.flush()
    return LoggedCall(call, created, old_stage, client.stage, cancelled, done, sold)


def fill_call_segments(session: Session) -> int:
    """Calls logged before their segments were kept (migrations 0015 and 0016) get their client's
    segments of today, as the learner and the dashboard would otherwise work out on every read (a
    profile per client of a year of calls). ``salesbot prepare`` runs it; returns the calls filled."""
    pending = session.execute(select(Call.id, Call.client_id, Call.opening_style, Call.segment, Call.segments).where(
        Call.client_id.is_not(None), Call.disposition.is_not(None),
        or_(Call.segments.is_(None), and_(Call.segment.is_(None), Call.opening_style.is_not(None))))).all()
    profiles = profiles_of(session, {row.client_id for row in pending})
    filled = [{"id": row.id,
               "segments": row.segments if row.segments is not None else ",".join(profiles[row.client_id].segments),
               "segment": row.segment or (profiles[row.client_id].main_segment if row.opening_style else None)}
              for row in pending if row.client_id in profiles]
    session.bulk_update_mappings(Call, filled)
    return len(filled)
