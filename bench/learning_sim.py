"""Proof by simulation that the playbook learns from the team's calls (issue 24).

A team of agents shares one evidence table and calls synthetic clients of several segments. The clients
are real ``bot.profile.Profile`` objects; each call pitches one of the products the rules recommend for
the client, and the opening styles allowed are the ones ``bot.profile.rank_openings`` gives for that
client and product (the seed's order, best first). The true good-outcome rate of each (segment, style)
is known here and differs from the seed's ranking; a call is reached with REACH_RATE, and a reached call
is good with the true rate of the style used. The learner (``bot.learning.choose``) picks the style; on
every call the style is checked against the allowed list.

Time: CALLS_PER_DAY calls a day from START, so 3,000 calls span 300 days (more than three half-lives) and
the half-life matters; the evidence is recomputed once a day, as a nightly job would. The pace is a small
team's, on purpose: how fast old evidence fades is set in days (the half-life), so the 1,500 calls after
the change must span months for the change to be followed; at a faster pace they would not.

Scenarios: "static" (the true rates never change) and "drift" (half-way, the best style of 公职人员 changes
from 制造忧虑 to 同类借故: the learner must follow).

``python -m bench.learning_sim [PICTURE] [--calls N] [--seed S] [--seeds N]`` prints the figures (of the
seed, and their spread over N more seeds), the opening recommended for 张三 before and after 200 calls to
公职人员, and writes the regret curves to PICTURE.
"""

from __future__ import annotations

import argparse
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import accumulate
from pathlib import Path
from typing import Any

from bot.demo_data import read_demo_data
from bot.learning import Choice, Evidence, Outcome, choose, evidence
from bot.learning.bandit import EXPLORE_SHARE
from bot.learning.store import opening_labels
from bot.playbook import playbook
from bot.profile import ProductInfo, Profile, rank_openings, recommend_products, segment_choices
from bot.rehearsal.scenarios import live_product
from bot.settings import PROJECT_ROOT

START = datetime(2026, 1, 5, 9, 0)
CALLS_PER_DAY = 10
REACH_RATE = 0.7
RECOMMEND_WINDOW = 500  # the last calls over which each segment's recommendation is judged
ORACLE_WINDOW = 1000  # the last calls over which good outcomes are compared with the oracle's
RIGHT_SHARE = 0.8  # a segment is "right" when the recommended style was the truly best on this share of its calls
PRODUCTS_PER_CLIENT = 3  # each call pitches one of the client's first three recommended products
PICTURE = PROJECT_ROOT / "var" / "bench" / "learning-regret.png"
DOC_PICTURE = PROJECT_ROOT / "docs" / "learning-regret.png"  # beside docs/benchmark.md, which shows it

# Clients written like bot/data/demo_data.yml's, two or three in each of five segments: new prospects and
# clients who bank with us (the relationship styles join their list), with and without assets (制造忧虑
# needs a fitting product), so the allowed styles differ between clients of one segment. Five segments,
# not all nine: 3,000 calls give each about 600, which a 90-day half-life at this pace needs.
CLIENTS: tuple[dict[str, Any], ...] = (
    {"name": "钱处长", "gender": "男", "age": 47, "occupation": "省国税部门处长", "annual_income": 300000,
     "assets": 1500000, "risk_tolerance": "C2"},
    {"name": "孙科员", "gender": "女", "age": 41, "occupation": "区政府科员", "annual_income": 150000,
     "assets": 100000},
    {"name": "周法官", "gender": "男", "age": 45, "occupation": "法院法官", "annual_income": 200000,
     "assets": 800000, "stage": "general", "holdings": ["PLATINUM_CARD"]},
    {"name": "吴老板", "gender": "男", "age": 45, "occupation": "私营企业主", "annual_income": 1200000,
     "assets": 5000000},
    {"name": "郑店主", "gender": "女", "age": 42, "occupation": "个体店主", "annual_income": 200000,
     "assets": 200000, "stage": "deal", "holdings": ["MOBILE_BANKING"]},
    {"name": "王老师", "gender": "女", "age": 63, "occupation": "退休教师", "assets": 400000},
    {"name": "冯师傅", "gender": "男", "age": 66, "occupation": "退休工人", "assets": 100000, "stage": "general",
     "contact_source": "existing_customer"},
    {"name": "卫工", "gender": "男", "age": 45, "occupation": "工程师", "contact_source": "payroll_employer",
     "annual_income": 200000, "assets": 300000},
    {"name": "蒋主管", "gender": "男", "age": 48, "occupation": "车间主管", "contact_source": "payroll_employer",
     "annual_income": 120000, "assets": 80000, "card_spend_per_year": 60000},
    {"name": "沈经理", "gender": "女", "age": 33, "occupation": "外企部门经理", "annual_income": 300000,
     "assets": 200000},
    {"name": "韩工", "gender": "男", "age": 28, "occupation": "程序员", "annual_income": 200000,
     "card_spend_per_year": 150000},
)

# The true good-outcome rate among reached calls per (segment, style): the best style of a segment about
# doubles the next (as 同类借故 against 制造忧虑 in the issue). Against the seed: 公职人员 do best with
# 制造忧虑 (the seed starts with 同类借故 or 故作熟悉), 企业主 with 直截了当, 代发工资客户 with 故意找茬,
# 年轻客户 with 从众心理, and 自报家门 where 从众心理 has no line for the product (the seed: 直截了当); for
# 退休人员 the seed's 直截了当 is right.
TRUE_RATES: dict[str, dict[str, float]] = {
    "civil_servant": {"worry": 0.36, "peer_reference": 0.18, "familiar": 0.16, "direct": 0.15,
                      "borrow_wind": 0.14, "self_intro": 0.12, "find_fault": 0.11, "herd": 0.10},
    "business_owner": {"direct": 0.34, "peer_reference": 0.17, "familiar": 0.16, "borrow_wind": 0.15,
                       "self_intro": 0.13, "worry": 0.12, "find_fault": 0.11, "herd": 0.10},
    "retiree": {"direct": 0.30, "peer_reference": 0.16, "familiar": 0.15, "borrow_wind": 0.13,
                "self_intro": 0.12, "find_fault": 0.10, "worry": 0.08, "herd": 0.08},
    "payroll_employee": {"find_fault": 0.32, "familiar": 0.17, "direct": 0.15, "borrow_wind": 0.14,
                         "peer_reference": 0.13, "self_intro": 0.12, "herd": 0.11, "worry": 0.10},
    "young": {"herd": 0.36, "self_intro": 0.22, "direct": 0.12, "peer_reference": 0.11, "worry": 0.10},
}
# "drift": from the middle call on, these rates replace the ones above (制造忧虑 wears out, 同类借故 takes over).
DRIFT: dict[str, dict[str, float]] = {"civil_servant": {"worry": 0.06, "peer_reference": 0.36}}


class UnsafeChoice(AssertionError):
    """The learner returned a style the rules do not allow for the client and product."""


def client_profile(facts: Mapping[str, Any], client_id: int = 0) -> Profile:
    """A Profile from facts written like a client of bot/data/demo_data.yml (no risk assessment date:
    the simulation keeps its own clock, so nothing may depend on today's)."""
    return Profile(
        id=client_id, name=facts["name"], phone=str(facts.get("phone", "")), gender=facts.get("gender"),
        age=facts.get("age"), occupation=facts.get("occupation"), company=facts.get("company"),
        annual_income=facts.get("annual_income"), assets=facts.get("assets"),
        card_spend=facts.get("card_spend_per_year"), stage=facts.get("stage", "unknown"), do_not_call=False,
        agent_login=None, agent_name=None, referrer=facts.get("referrer"), note=facts.get("note"),
        holdings=tuple(facts.get("holdings") or ()), deposits=facts.get("deposits"),
        loan_balance=facts.get("loan_balance"), contact_source=facts.get("contact_source"),
        contact_detail=facts.get("contact_detail"), risk_tolerance=facts.get("risk_tolerance"))


@lru_cache(maxsize=1)
def catalogue() -> tuple[ProductInfo, ...]:
    """The demo catalogue, as the rehearsal builds its products."""
    return tuple(live_product(entry) for entry in read_demo_data()["products"])


def context_of(profile: Profile) -> str:
    """The segment the learner uses for the client, as the live bot counts it."""
    return profile.main_segment


def allowed_styles(profile: Profile, product: ProductInfo) -> list[str]:
    return [style for style, _why in rank_openings(profile, product)]


@dataclass(frozen=True)
class Client:
    profile: Profile
    context: str  # context_of(profile), kept: segments are derived anew on every read
    products: tuple[ProductInfo, ...]


def clients(segments: Sequence[str] | None = None) -> list[Client]:
    found = []
    for number, facts in enumerate(CLIENTS, start=1):
        profile = client_profile(facts, number)
        if context_of(profile) not in TRUE_RATES:
            raise ValueError(f"{profile.name}: segment {profile.segments} has no true rates")
        if segments is None or context_of(profile) in segments:
            products = tuple(p for p, _why in recommend_products(profile, catalogue())[:PRODUCTS_PER_CLIENT])
            found.append(Client(profile, context_of(profile), products))
    return found


@dataclass
class SimResult:
    scenario: str
    calls: int
    seed: int
    recommend_window: int
    segment_accuracy: dict[str, float]  # per segment, over the last ``recommend_window`` calls
    segments_right: float  # share of segments whose accuracy reaches RIGHT_SHARE
    oracle_share: float  # learner's expected good outcomes / oracle's, last ORACLE_WINDOW calls
    static_share: float  # the same for the seed's static ranking
    explored_share: float  # calls that explored, last ORACLE_WINDOW calls
    regret: list[float] = field(repr=False)  # cumulative expected regret against the oracle, per call
    static_regret: list[float] = field(repr=False)
    checked: int = 0  # calls whose style was checked against the allowed list
    rows: list[Outcome] = field(default_factory=list, repr=False)
    # Per call: (segment, the learner's best guess, the truly best allowed style).
    picks: list[tuple[str, str, str]] = field(default_factory=list, repr=False)

    @property
    def targets_met(self) -> bool:
        """The issue's: the best style for >= 90 % of segments, >= 95 % of the oracle, above the seed ranking."""
        return self.segments_right >= 0.9 and self.oracle_share >= 0.95 and self.oracle_share > self.static_share

    @property
    def followed(self) -> bool | None:
        """Whether each segment whose rates drift was right both in the last ``recommend_window`` calls
        before the change and at the end (RIGHT_SHARE of its calls); None for the static scenario, or
        when the old best had not been learnt before the change (there was nothing to follow)."""
        if self.scenario != "drift":
            return None
        half = self.calls // 2
        before = accuracy(self.picks[max(half - self.recommend_window, 0):half])
        if any(before.get(segment, 0) < RIGHT_SHARE for segment in DRIFT):
            return None
        return all(self.segment_accuracy.get(segment, 0) >= RIGHT_SHARE for segment in DRIFT)


def accuracy(picks: Sequence[tuple[str, str, str]]) -> dict[str, float]:
    """Per segment, the share of ``picks`` whose best guess was the truly best allowed style."""
    right: dict[str, list[bool]] = defaultdict(list)
    for segment, best, truly_best in picks:
        right[segment].append(best == truly_best)
    return {segment: sum(hits) / len(hits) for segment, hits in sorted(right.items())}


def _rates(scenario: str, call: int, calls: int) -> dict[str, dict[str, float]]:
    if scenario == "drift" and call >= calls // 2:
        return {segment: {**rates, **DRIFT.get(segment, {})} for segment, rates in TRUE_RATES.items()}
    return TRUE_RATES


def _disposition(rng: random.Random, good_rate: float) -> str:
    if rng.random() >= REACH_RATE:
        return "no_answer"
    if rng.random() < good_rate:
        return "deal" if rng.random() < 0.25 else "interested"
    return "refused" if rng.random() < 0.7 else "thinking"


def run(calls: int = 3000, seed: int = 24, scenario: str = "static", *, segments: Sequence[str] | None = None,
        recommend_window: int = RECOMMEND_WINDOW, oracle_window: int = ORACLE_WINDOW,
        explore_share: float = EXPLORE_SHARE, calls_per_day: int = CALLS_PER_DAY) -> SimResult:
    """Simulate ``calls`` calls; ``segments`` limits the clients to those segments. Raises
    ``UnsafeChoice`` on the first call whose style the rules do not allow."""
    if scenario not in ("static", "drift"):
        raise ValueError(f"unknown scenario {scenario!r}")
    world, learner = random.Random(seed), random.Random(seed + 1)
    team = clients(segments)
    rows: list[Outcome] = []
    table: dict[tuple[str, str], Evidence] = {}
    day = -1
    chosen, oracle, static = [], [], []
    picks: list[tuple[str, str, str]] = []
    explored: list[bool] = []
    for call in range(calls):
        at = START + timedelta(days=call // calls_per_day, minutes=call % calls_per_day * (480 // calls_per_day))
        if call // calls_per_day != day:
            day = call // calls_per_day
            table = evidence(rows, at)
        client = world.choice(team)
        product = world.choice(client.products)
        allowed = allowed_styles(client.profile, product)
        choice = choose(allowed, table, client.context, learner, explore_share=explore_share)
        if choice.arm not in allowed or choice.best not in allowed:
            raise UnsafeChoice(f"{client.profile.name} {product.code}: {choice.arm} not in {allowed}")
        rates = _rates(scenario, call, calls)[client.context]
        truly_best = max(allowed, key=rates.__getitem__)
        chosen.append(rates[choice.arm])
        oracle.append(rates[truly_best])
        static.append(rates[allowed[0]])
        explored.append(choice.explored)
        picks.append((client.context, choice.best, truly_best))
        rows.append(Outcome(client.context, choice.arm, _disposition(world, rates[choice.arm]), at))
    found = accuracy(picks[-recommend_window:])
    tail = slice(max(calls - oracle_window, 0), calls)
    return SimResult(
        scenario=scenario, calls=calls, seed=seed, recommend_window=recommend_window, segment_accuracy=found,
        segments_right=sum(share >= RIGHT_SHARE for share in found.values()) / max(len(found), 1),
        oracle_share=sum(chosen[tail]) / sum(oracle[tail]), static_share=sum(static[tail]) / sum(oracle[tail]),
        explored_share=sum(explored[tail]) / len(explored[tail]),
        regret=list(accumulate(o - c for o, c in zip(oracle, chosen, strict=True))),
        static_regret=list(accumulate(o - s for o, s in zip(oracle, static, strict=True))),
        checked=calls, rows=rows, picks=picks)


def zhang_san(calls: int = 200, seed: int = 24) -> tuple[Choice, str, Choice, str]:
    """The opening recommended for 张三 (the best guess, no exploration) and the reason shown, before and
    after ``calls`` calls to 公职人员 in which 制造忧虑 works best: (choice before, reason, choice after,
    reason); the seed's reason where the evidence gives none."""
    facts = next(c for c in read_demo_data()["clients"] if c["name"] == "张三")
    profile = client_profile(facts)
    product = recommend_products(profile, catalogue())[0][0]
    ranked = dict(rank_openings(profile, product))
    history = run(calls, seed, segments=("civil_servant",)).rows
    at = START + timedelta(days=calls // CALLS_PER_DAY + 1)

    def recommended(rows: list[Outcome]) -> tuple[Choice, str]:
        choice = choose(list(ranked), evidence(rows, at), context_of(profile), random.Random(seed),
                        explore_share=0.0, labels=opening_labels(context_of(profile)))
        return choice, choice.reason or ranked[choice.arm]

    return *recommended([]), *recommended(history)


def markdown(results: Sequence[SimResult], spread: Mapping[str, Sequence[SimResult]] | None = None) -> str:
    """The figures as a markdown section (for docs/benchmark.md): the runs in ``results``, each segment's
    accuracy, and over the runs of ``spread`` (scenario -> runs with other seeds) the mean and the worst."""
    names = segment_choices()
    lines = ["| scenario | calls | seed | segments right | share of the oracle | static seed ranking | explored |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r.scenario} | {r.calls} | {r.seed} | {r.segments_right:.0%} | {r.oracle_share:.1%} | "
                     f"{r.static_share:.1%} | {r.explored_share:.1%} |")
    lines += ["", "| scenario | " + " | ".join(names[s] for s in TRUE_RATES) + " |",
              "|---|" + "---:|" * len(TRUE_RATES)]
    for r in results:
        cells = [f"{r.segment_accuracy[s]:.0%}" if s in r.segment_accuracy else "-" for s in TRUE_RATES]
        lines.append(f"| {r.scenario} | " + " | ".join(cells) + " |")
    if spread:
        lines += ["", "| scenario | seeds | segments right (mean, worst) | share of the oracle (mean, worst) | "
                      "static seed ranking (mean) | all targets met | followed the change |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for scenario, runs in spread.items():
            right, share = [r.segments_right for r in runs], [r.oracle_share for r in runs]
            learnt = [r.followed for r in runs if r.followed is not None]
            followed = f"{sum(learnt)} of {len(learnt)}" if scenario == "drift" else "-"
            lines.append(f"| {scenario} | {len(runs)} | {sum(right) / len(runs):.0%}, {min(right):.0%} | "
                         f"{sum(share) / len(runs):.1%}, {min(share):.1%} | "
                         f"{sum(r.static_share for r in runs) / len(runs):.1%} | "
                         f"{sum(r.targets_met for r in runs)} of {len(runs)} | {followed} |")
        lines += ["", "Followed the change: of the runs that had learnt 制造忧虑 for 公职人员 before it stopped "
                      "working, those whose recommendation was right again at the end."]
    return "\n".join(lines) + "\n"


def plot(results: Sequence[SimResult], path: Path) -> Path:
    """The cumulative regret of the learner and of the static seed ranking, one line each per scenario."""
    import matplotlib  # here: only the picture needs it

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(8, 4.5))
    for r in results:
        axes.plot(r.regret, label=f"learner ({r.scenario})")
        axes.plot(r.static_regret, linestyle="--", label=f"seed ranking ({r.scenario})")
    axes.set_xlabel("simulated calls")
    axes.set_ylabel("cumulative regret (expected good outcomes)")
    axes.legend()
    axes.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, bbox_inches="tight")
    pyplot.close(figure)
    return path


def measure(calls: int = 3000, seed: int = 24, seeds: int = 10, picture: Path = DOC_PICTURE) -> dict[str, Any]:
    """The full simulation for `make bench`: both scenarios at ``seed`` and the spread over ``seeds`` more,
    the regret picture, and 张三's opening before and after; as data for ``markdown_lines``."""
    scenarios = ("static", "drift")
    results = [run(calls, seed, scenario) for scenario in scenarios]
    spread = {scenario: [run(calls, seed + n, scenario) for n in range(seeds)] for scenario in scenarios}
    before, before_why, after, after_why = zhang_san(seed=seed)
    names = {s: t.name for s, t in playbook().openings.items()}
    return {"table": markdown(results, spread), "picture": str(plot(results, picture)),
            "targets_met": {r.scenario: r.targets_met for r in results},
            "followed": results[1].followed, "checked": sum(r.checked for r in results),
            "zhang_san": {"before": [names[before.arm], before_why], "after": [names[after.arm], after_why]}}


def markdown_lines(found: dict[str, Any] | None) -> list[str]:
    """The section of docs/benchmark.md (issue 24)."""
    if not found:
        return []
    picture = Path(found["picture"])
    shown = picture.relative_to(DOC_PICTURE.parent) if picture.is_relative_to(DOC_PICTURE.parent) else picture
    zhang = found["zhang_san"]
    return [
        "## The playbook learns from the team's calls (simulation, `bench/learning_sim.py`)",
        "",
        "A team calls synthetic clients of five segments whose true good-outcome rates per opening style are known "
        "and differ from the seed's ranking; 3,000 calls, 10 a day; the learner (`bot.learning`) chooses among the "
        "styles `rank_openings` allows for each client and product, and every call's style is checked against that "
        f"list ({found['checked']:,} calls checked, none outside it). Targets: the truly best allowed style for at "
        "least 90 % of segments over the last 500 calls, at least 95 % of the oracle's good outcomes over the last "
        "1,000, above the static seed ranking; in the drift scenario 制造忧虑 stops working for 公职人员 half-way.",
        "",
        found["table"],
        f"Targets met at the fixed seed: {', '.join(f'{k}: {v}' for k, v in found['targets_met'].items())}; "
        f"followed the change: {found['followed']}.",
        "",
        f"张三 (公职人员), before any call: {zhang['before'][0]}: {zhang['before'][1]}",
        "",
        f"张三 after 200 simulated calls to 公职人员 in which 制造忧虑 works best: {zhang['after'][0]}: "
        f"{zhang['after'][1]}",
        "",
        f"![cumulative regret against the oracle]({shown})",
        "",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("picture", nargs="?", type=Path, default=PICTURE, help="where to write the regret curves")
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--seeds", type=int, default=10, help="runs with other seeds for the spread (0: none)")
    args = parser.parse_args(argv)
    scenarios = ("static", "drift")
    results = [run(args.calls, args.seed, scenario) for scenario in scenarios]
    spread = {scenario: [run(args.calls, args.seed + n, scenario) for n in range(args.seeds)]
              for scenario in scenarios} if args.seeds else None
    print(markdown(results, spread))
    for r in results:
        followed = {None: "the old best was not learnt before the change", True: "yes", False: "no"}[r.followed]
        print(f"{r.scenario}: {r.checked} calls checked against the allowed styles; targets met: {r.targets_met}"
              + (f"; followed the change: {followed}" if r.scenario == "drift" else ""))
    before, before_why, after, after_why = zhang_san(seed=args.seed)
    names = {s: t.name for s, t in playbook().openings.items()}
    print(f"张三 before: {names[before.arm]}: {before_why}")
    print(f"张三 after 200 calls to 公职人员: {names[after.arm]}: {after_why}")
    print(f"regret curves: {plot(results, args.picture)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
