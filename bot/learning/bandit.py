"""Which arm to use for this client: Thompson sampling among the arms the rules allow, within an
exploration budget and under the supervisor's controls; with a reason that cites the evidence when there
is enough of it. Only ``allowed`` arms are ever returned: learning orders what is allowed."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.learning.estimates import MIN_CALLS, Evidence, Posterior, pooled, posteriors
from bot.playbook import playbook

# At most this share of calls gets an arm other than the current best (issue 24: 20 % by default).
EXPLORE_SHARE = 0.2
# Once the best guess rests on more reached calls than this within the half-life, the share of exploration
# shrinks in proportion (twice the calls, half the share): a well-supported best is rarely worth doubting,
# a thin or new one (a change of the best) is explored at the full share. Chosen in the simulation
# (bench/learning_sim.py, five seeds each): 40, 60 and 100 gave 96.0 %, 96.1 % and 93.6 % of the oracle;
# 60 found the best style in every segment in every run and followed the change in 4 of 5 runs.
SUPPORT_CALLS = 60


@dataclass(frozen=True)
class Control:
    """A supervisor's settings for one context (the caller records who set them and when)."""

    pinned: str | None = None  # always used when the rules allow it for the client
    excluded: frozenset[str] = field(default_factory=frozenset)  # never used (unless nothing else is allowed)
    learning: bool = True  # False: the seed's order, as if nothing had been learnt


@dataclass(frozen=True)
class Labels:
    """What the reason calls things: ``kind`` picks the template (messages.yml ``learning_texts``:
    opening, product, answer), ``context`` is the segment's label, ``arms`` the arms' labels."""

    kind: str
    context: str
    arms: Mapping[str, str]


@dataclass(frozen=True)
class Choice:
    arm: str  # the arm to use
    best: str  # the current best guess (highest posterior mean; the seed's first with learning off)
    explored: bool  # ``arm`` is a Thompson draw other than the best, within the exploration budget
    posteriors: dict[str, Posterior]  # every allowed arm, in the seed's order
    reason: str | None = None  # cites the evidence; None: the caller keeps the seed's reason
    control: str | None = None  # "pinned" or "off" when a supervisor's control decided


def choose(allowed: Sequence[str], table: Mapping[tuple[str, str], Evidence], context: str,
           rng: random.Random, *, explore_share: float = EXPLORE_SHARE, min_calls: int = MIN_CALLS,
           controls: Mapping[str, Control] | None = None, labels: Labels | None = None) -> Choice:
    """The arm for a client in ``context``, among ``allowed`` (the seed's order, best first).

    The best arm is the one with the highest posterior mean (the seed's order breaks ties). One
    Thompson draw picks an arm; when it is not the best it is used with probability
    ``explore_share``, so at most that share of calls explores. Controls of the context: excluded
    arms are never used (an exclusion that would leave none is ignored: the client must get an
    arm), a pinned arm is always used when allowed (learning off or not), learning off gives the
    seed's first and no evidence reason."""
    if not allowed:
        raise ValueError("choose: nothing is allowed")
    control = (controls or {}).get(context) or Control()
    candidates = [arm for arm in allowed if arm not in control.excluded] or list(allowed)
    found = posteriors(allowed, table, context)
    # With learning off the seed's order stands, as if nothing had been learnt.
    best = max(candidates, key=lambda arm: found[arm].mean) if control.learning else candidates[0]
    if control.pinned in candidates:
        reason = evidence_reason(control.pinned, table, context, labels, min_calls, allowed) if control.learning \
            else None
        return Choice(control.pinned, best, False, found, reason, "pinned")
    if not control.learning:
        return Choice(best, best, False, found, None, "off")
    seen = pooled(found for (where, _arm), found in table.items() if where == context)
    if seen.calls < min_calls:
        explore_share = 0.0
    support = table.get((context, best))
    if support is not None and support.recent_calls > SUPPORT_CALLS:
        explore_share *= SUPPORT_CALLS / support.recent_calls
    draws = {arm: rng.betavariate(found[arm].alpha, found[arm].beta) for arm in candidates}
    drawn = max(candidates, key=draws.__getitem__)
    explored = drawn != best and rng.random() < explore_share
    arm = drawn if explored else best
    return Choice(arm, best, explored, found, evidence_reason(arm, table, context, labels, min_calls, allowed))


def _percent(good: int, calls: int) -> int:
    return round(100 * good / calls)


def evidence_reason(arm: str, table: Mapping[tuple[str, str], Evidence], context: str, labels: Labels | None,
                    min_calls: int = MIN_CALLS, among: Sequence[str] | None = None) -> str | None:
    """The reason citing the team's recent calls with ``arm`` in ``context``, or None when they are
    fewer than ``min_calls`` (or no labels were given). It compares with the other arms of the
    context (of ``among``, when given: those the client could have had) only when they too have
    ``min_calls`` recent calls and did worse."""
    own = table.get((context, arm))
    if labels is None or own is None or own.recent_calls < min_calls:
        return None
    texts = playbook().messages.learning_texts
    rate = _percent(own.recent_good, own.recent_calls)
    fields = {"segment": labels.context, "arm": labels.arms.get(arm, arm), "days": f"{own.days:g}",
              "reached": own.recent_calls, "good": own.recent_good, "rate": f"{rate}%"}
    others = pooled(found for (where, other), found in table.items()
                    if where == context and other != arm and (among is None or other in among))
    if others.recent_calls >= min_calls:
        others_rate = _percent(others.recent_good, others.recent_calls)
        if rate > others_rate:
            return texts[f"{labels.kind}_better"].format(**fields, others_rate=f"{others_rate}%")
    return texts[labels.kind].format(**fields)
