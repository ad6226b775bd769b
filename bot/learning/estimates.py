"""How well each arm (an opening style, a product, an answer's variant line) does in each context (a
client segment): the rate of good outcomes (bot.outcomes.GOOD_OUTCOMES) among reached calls, as a
Beta-Binomial posterior. Recent calls weigh more, and every estimate is shrunk towards a prior built from
the arm's team-wide rate and the seed's ranking, so a team with no calls starts at the playbook's order.

The numbers, and why:

- HALF_LIFE_DAYS = 90: a call counts 0.5 ** (age in days / 90); one a quarter old counts half, a year
  old 1/16. Products, seasons and the team change within a year, so older calls should fade.
- SEED_RATE = 0.2: the good-outcome rate assumed for any arm before a call is logged (a reached
  tele-sales call ends 有意向 or 成交 about one time in five).
- TEAM_PRIOR_STRENGTH = 20: an arm's team-wide rate is the mean of its rates in the contexts it was used
  in, each shrunk to SEED_RATE as if by 20 reached calls, so a style tried a handful of times in a segment
  does not look excellent or hopeless there.
- PRIOR_STRENGTH = 10: a context's estimate starts from the team-wide rate weighted as 10 reached calls;
  its own calls outweigh that after a few dozen. In the simulation (bench/learning_sim.py) 5, 10 and 20
  reached the same share of the oracle; 10 found the best style for the most segments.
- RANK_PSEUDO_GOOD = 1: the seed's ranking as pseudo-counts. Among n allowed arms the seed's first gets
  one extra good pseudo-call, the last none, linearly in between; with no calls the means fall in the
  seed's order (0.27 for the first against 0.20 for the last); after 40 reached calls its pull is
  under 0.02.
- MIN_CALLS = 20: no rate is shown from fewer reached calls (the 90 % interval is still about +-15 points).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.outcomes import REACHED, is_good

HALF_LIFE_DAYS = 90
MIN_CALLS = 20
SEED_RATE = 0.2
TEAM_PRIOR_STRENGTH = 10.0
PRIOR_STRENGTH = 10.0
RANK_PSEUDO_GOOD = 1.0
SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class Outcome:
    """Logged calls (``count`` of them, one by default) in one context, with one arm, ending one way, at one
    time (the store groups a day's calls: their ages differ by less than a day)."""

    context: str
    arm: str
    disposition: str
    at: datetime
    count: int = 1


@dataclass(frozen=True)
class Evidence:
    """The reached calls of one (context, arm), or of several pooled."""

    good: float = 0.0  # good outcomes, weighted by age
    reached: float = 0.0  # reached calls, weighted by age
    calls: int = 0  # reached calls, counted (all time)
    recent_good: int = 0  # good outcomes among the reached calls of the last ``days`` days, counted
    recent_calls: int = 0  # reached calls of the last ``days`` days, counted: what a reason may cite
    days: float = HALF_LIFE_DAYS  # the recent window: the half-life

    def __add__(self, other: Evidence) -> Evidence:
        return Evidence(self.good + other.good, self.reached + other.reached, self.calls + other.calls,
                        self.recent_good + other.recent_good, self.recent_calls + other.recent_calls,
                        max(self.days, other.days))


def pooled(items: Iterable[Evidence]) -> Evidence:
    """The evidence of several (context, arm) pairs taken together."""
    return sum(items, Evidence())


def evidence(rows: Iterable[Outcome], now: datetime,
             half_life_days: float = HALF_LIFE_DAYS) -> dict[tuple[str, str], Evidence]:
    """(context, arm) -> Evidence over the reached calls in ``rows`` (the others say nothing about
    an opening nobody heard). A call ``age`` days old weighs 0.5 ** (age / half_life_days); one
    logged after ``now`` (a clock skew) weighs 1."""
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0, 0, 0])
    for row in rows:
        if row.disposition not in REACHED:
            continue
        age = max((now - row.at).total_seconds() / SECONDS_PER_DAY, 0.0)
        weight = row.count * 0.5 ** (age / half_life_days)
        good = is_good(row.disposition)
        recent = row.count if age <= half_life_days else 0
        entry = sums[(row.context, row.arm)]
        entry[0] += weight * good
        entry[1] += weight
        entry[2] += row.count
        entry[3] += recent * good
        entry[4] += recent
    return {key: Evidence(good, reached, calls, recent_good, recent_calls, half_life_days)
            for key, (good, reached, calls, recent_good, recent_calls) in sums.items()}


@dataclass(frozen=True)
class Posterior:
    """Beta(alpha, beta) over an arm's good-outcome rate in a context."""

    alpha: float
    beta: float

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    def interval(self, level: float = 0.9) -> tuple[float, float]:
        """The central ``level`` interval (0.9: from the 5th to the 95th percentile)."""
        # Imported here: scipy costs a tenth of a second, and only the supervisor's page asks.
        from scipy.special import betaincinv

        tail = (1 - level) / 2
        return float(betaincinv(self.alpha, self.beta, tail)), float(betaincinv(self.alpha, self.beta, 1 - tail))


def posterior(found: Evidence | None, prior_mean: float, prior_strength: float) -> Posterior:
    """The Beta-Binomial posterior of ``found``, shrunk towards ``prior_mean`` with the weight of
    ``prior_strength`` reached calls."""
    found = found or Evidence()
    return Posterior(prior_mean * prior_strength + found.good,
                     (1 - prior_mean) * prior_strength + found.reached - found.good)


def team_rates(table: Mapping[tuple[str, str], Evidence]) -> dict[str, float]:
    """Each arm's team-wide rate: the mean over the contexts it was used in of its rate there, shrunk
    to SEED_RATE (TEAM_PRIOR_STRENGTH). Each context counts once: an arm is used most where it does
    best, so pooling its calls would make a segment's winner look good everywhere."""
    by_arm: dict[str, list[float]] = defaultdict(list)
    for (_context, arm), found in table.items():
        by_arm[arm].append(posterior(found, SEED_RATE, TEAM_PRIOR_STRENGTH).mean)
    return {arm: sum(rates) / len(rates) for arm, rates in by_arm.items()}


def prior(rank: int, count: int, team_rate: float = SEED_RATE) -> tuple[float, float]:
    """(mean, strength) of the prior of the arm the seed ranks ``rank`` (0 = first) among ``count``
    allowed: the team-wide rate weighted PRIOR_STRENGTH, plus the rank's good pseudo-calls."""
    bonus = RANK_PSEUDO_GOOD * (count - 1 - rank) / (count - 1) if count > 1 else 0.0
    strength = PRIOR_STRENGTH + bonus
    return (PRIOR_STRENGTH * team_rate + bonus) / strength, strength


def posteriors(allowed: Sequence[str], table: Mapping[tuple[str, str], Evidence],
               context: str) -> dict[str, Posterior]:
    """arm -> posterior in ``context`` for each of ``allowed`` (the seed's order, best first)."""
    team = team_rates(table)
    found = {}
    for rank, arm in enumerate(allowed):
        mean, strength = prior(rank, len(allowed), team.get(arm, SEED_RATE))
        found[arm] = posterior(table.get((context, arm)), mean, strength)
    return found
