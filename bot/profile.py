"""Who the client is and what fits them: the profile with its tier and segments, the products,
and the rules that pick openings and products (seeds 000, 003, 004). Pure logic over plain data:
the thresholds and labels live in bot/playbook/segments.yml, the rules in opening_rules.yml and
product_rules.yml, the named conditions they use in CONDITIONS below."""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot import clock
from bot.db import batched
from bot.models import CATEGORIES, Client, Holding, Product
from bot.playbook import HERE as PLAYBOOK_DIR
from bot.playbook import OPENING_STYLES, OpeningLine, PlaybookError, find_forbidden, playbook

COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "慕容", "尉迟", "公孙", "令狐", "夏侯", "长孙")


@dataclass(frozen=True)
class ProductInfo:
    code: str
    name: str
    category: str
    risk_level: str | None
    min_amount: float
    comparison: str | None
    selling_points: tuple[str, ...]
    target: str | None = None
    pricing: str | None = None
    eligibility: str | None = None
    signup: str | None = None

    @property
    def is_wealth(self) -> bool:
        return self.category == "wealth"

    @classmethod
    def from_row(cls, product: Product) -> ProductInfo:
        return cls(
            code=product.code,
            name=product.name,
            category=product.category,
            risk_level=product.risk_level,
            min_amount=float(product.min_amount or 0),
            comparison=product.comparison,
            selling_points=tuple(p.text for p in product.selling_points),
            target=product.target,
            pricing=product.pricing,
            eligibility=product.eligibility,
            signup=product.signup,
        )


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class Profile:
    id: int
    name: str
    phone: str
    gender: str | None
    age: int | None
    occupation: str | None
    company: str | None
    annual_income: float | None
    assets: float | None
    card_spend: float | None
    stage: str
    do_not_call: bool
    agent_login: str | None
    agent_name: str | None
    referrer: str | None
    note: str | None
    holdings: tuple[str, ...] = ()
    holding_names: tuple[str, ...] = ()
    deposits: float | None = None
    loan_balance: float | None = None
    contact_source: str | None = None
    contact_detail: str | None = None
    risk_tolerance: str | None = None  # C1-C5; None = never assessed
    risk_assessed_at: datetime | None = None

    @classmethod
    def contribution_of(cls, client: Client) -> Profile:
        """Only what the tier reads (the contribution figures): a book of thousands of clients is
        graded without reading everyone's holdings."""
        return cls(id=client.id, name=client.name, phone="", gender=None, age=None, occupation=None, company=None,
                   annual_income=None, assets=_num(client.assets), card_spend=_num(client.card_spend_per_year),
                   stage=client.stage, do_not_call=client.do_not_call, agent_login=None, agent_name=None,
                   referrer=None, note=None, deposits=_num(client.deposits), loan_balance=_num(client.loan_balance))

    @classmethod
    def from_row(cls, client: Client) -> Profile:
        num = _num
        return cls(
            id=client.id,
            name=client.name,
            phone=client.phone,
            gender=client.gender,
            age=client.age,
            occupation=client.occupation,
            company=client.company,
            annual_income=num(client.annual_income),
            assets=num(client.assets),
            card_spend=num(client.card_spend_per_year),
            stage=client.stage,
            do_not_call=client.do_not_call,
            agent_login=client.agent.login if client.agent else None,
            agent_name=client.agent.name if client.agent else None,
            referrer=client.referrer,
            note=client.note,
            holdings=tuple(h.product.code for h in client.holdings),
            holding_names=tuple(h.product.name for h in client.holdings),
            deposits=num(client.deposits),
            loan_balance=num(client.loan_balance),
            contact_source=client.contact_source,
            contact_detail=client.contact_detail,
            risk_tolerance=client.risk_tolerance,
            risk_assessed_at=client.risk_assessed_at,
        )

    @property
    def surname(self) -> str:
        for compound in COMPOUND_SURNAMES:
            if self.name.startswith(compound):
                return compound
        return self.name[:1]

    @property
    def title(self) -> str:
        honorific = {"男": "先生", "女": "女士"}.get(self.gender or "")
        return f"{self.surname}{honorific}" if honorific else "您"

    @property
    def funds(self) -> float | None:
        """The client's known money: the larger of assets and deposits (deposits are usually part
        of the assets, so they are not added); None when neither is known."""
        known = [v for v in (self.assets, self.deposits) if v is not None]
        return max(known) if known else None

    @property
    def tier_code(self) -> str:
        return _grade(self)[0]

    @property
    def tier(self) -> str:
        """Tier label by contribution (assets, deposits, card spend, loans); says so when data is missing."""
        return _grade(self)[1]

    @property
    def tier_why(self) -> str:
        return _grade(self)[2]

    @property
    def segments(self) -> tuple[str, ...]:
        """Segment codes (segments.yml) derived from occupation, company, age and contact source."""
        return _segments(self)

    @property
    def segment_labels(self) -> tuple[str, ...]:
        specs = _config().segments
        return tuple(specs[code]["label"] for code in self.segments)

    @property
    def main_segment(self) -> str:
        """The one segment the client counts in where one must be chosen (what the team learns per
        segment, bot/learning): the first of ``segments``, OTHER_SEGMENT when none."""
        return self.segments[0] if self.segments else OTHER_SEGMENT


OTHER_SEGMENT = "other"  # the segment of a client in none of the playbook's segments

# A client nobody has looked up yet: every call is a first contact, nothing is known.
_NOBODY = Profile(id=0, name="该客户", phone="", gender=None, age=None, occupation=None, company=None,
                  annual_income=None, assets=None, card_spend=None, stage="unknown", do_not_call=False,
                  agent_login=None, agent_name=None, referrer=None, note=None)


# ---- configuration: tiers and segments (segments.yml), style and product gates ----

@dataclass(frozen=True)
class _Config:
    tiers: dict[str, Any]
    segments: dict[str, dict[str, Any]]
    not_a_job: tuple[str, ...]
    formal_address: dict[str, Any]
    style_requires: dict[str, dict[str, Any]]
    product_targets: dict[str, dict[str, Any]]


def _read_yaml(name: str) -> Any:
    return yaml.safe_load((PLAYBOOK_DIR / name).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _config() -> _Config:
    segments_file = _read_yaml("segments.yml")
    config = _Config(
        tiers=segments_file["tiers"],
        segments=segments_file["segments"],
        not_a_job=tuple(segments_file["not_a_job"]),
        formal_address=segments_file["formal_address"],
        style_requires=_read_yaml("opening_rules.yml").get("requires") or {},
        product_targets=_read_yaml("product_rules.yml").get("targets") or {},
    )
    _validate(config)
    return config


def _validate(config: _Config) -> None:
    """Fail at start-up, not mid-call: unknown condition names, styles or placeholders, and
    labels with a forbidden promise."""
    pb = playbook()
    known = set(CONDITIONS) | set(config.segments)
    gates = [*config.style_requires.values(), *config.product_targets.values()]
    for spec in [*pb.opening_rules, *pb.product_rules, *gates]:
        unknown = [n for n in _names(spec.get("when")) + _names(spec.get("unless")) if n not in known]
        if unknown:
            raise PlaybookError(f"unknown condition {unknown} in {spec}")
    for rule in [*pb.opening_rules, *pb.product_rules]:
        fields = {f for _, f, _, _ in string.Formatter().parse(rule["why"]) if f}
        if fields - RULE_FIELDS:
            raise PlaybookError(f"unknown placeholder {fields - RULE_FIELDS} in: {rule['why']}")
    bad_styles = set(config.style_requires) - set(OPENING_STYLES)
    if bad_styles:
        raise PlaybookError(f"requires: unknown styles {bad_styles}")
    for rule in pb.opening_rules:
        if set(_names(rule.get("fits"))) - set(CATEGORIES):
            raise PlaybookError(f"unknown product category in {rule}")
    unknown_segments = set(config.formal_address["segments"]) - set(config.segments)
    if unknown_segments:
        raise PlaybookError(f"formal_address: unknown segments {unknown_segments}")
    check_opening_lines(pb.opening_lines, config)
    labels = [lv["label"] for lv in config.tiers["levels"]] + [s["label"] for s in config.segments.values()]
    labels += [config.tiers[k] for k in ("missing_label", "missing_why", "why", "unknown_suffix")]
    for label in labels:
        if find_forbidden(label):
            raise PlaybookError(f"forbidden promise in: {label}")


def _yuan(amount: float | None) -> str:
    if amount is None:
        return "未知"
    if amount >= 10000:
        return f"{round(amount / 10000, 1):g}万元"
    return f"{amount:g}元"


def _grade(p: Profile) -> tuple[str, str, str]:
    """(code, label, why): the highest tier any known contribution figure reaches (seed 000:
    grade clients by what they contribute). Unknown figures are left out, never read as 0."""
    return _graded(tuple(getattr(p, d) for d in _config().tiers["dimensions"]))


@lru_cache(maxsize=65_536)  # the call list grades an agent's whole book after every reply in the widget
def _graded(figures: tuple[float | None, ...]) -> tuple[str, str, str]:
    cfg = _config().tiers
    dimensions: dict[str, str] = cfg["dimensions"]
    known = {d: v for d, v in zip(dimensions, figures, strict=True) if v is not None}
    if not known:
        return "missing", cfg["missing_label"], cfg["missing_why"]
    unknown = [label for d, label in dimensions.items() if d not in known]
    for level in cfg["levels"]:
        reached = [d for d, minimum in level["min"].items() if d in known and known[d] >= minimum]
        if reached:
            why = cfg["why"].format(best="、".join(f"{dimensions[d]}{_yuan(known[d])}" for d in reached))
            if unknown:
                why += cfg["unknown_suffix"].format(unknown="、".join(unknown))
            return level["code"], level["label"], why
    # Only if the lowest level leaves a dimension out; say so rather than guess.
    return "missing", cfg["missing_label"], cfg["missing_why"]


def _has_job(p: Profile) -> bool:
    occupation = p.occupation or ""
    return bool(occupation) and not any(word in occupation for word in _config().not_a_job)


def _formal_address(p: Profile) -> bool:
    """A company's contact, a business owner, a civil servant or a client with a post: addressed
    formally, never with casual or personal lines (segments.yml `formal_address`)."""
    spec = _config().formal_address
    return (bool(set(spec["segments"]) & set(p.segments))
            or any(title in (p.occupation or "") for title in spec["titles"]))


def _segments(p: Profile) -> tuple[str, ...]:
    text = (p.occupation or "") + (p.company or "")
    found: list[str] = []
    for code, spec in _config().segments.items():
        keywords, sources = spec.get("keywords") or [], spec.get("contact_sources") or []
        if (keywords or sources) and not (any(k in text for k in keywords) or p.contact_source in sources):
            continue
        if any(k in text for k in spec.get("exclude_keywords") or []):
            continue
        if "min_age" in spec and not _at_least(p.age, spec["min_age"]):
            continue
        if "max_age" in spec and not (p.age is not None and p.age <= spec["max_age"]):
            continue
        if spec.get("needs_job") and not _has_job(p):
            continue
        if set(spec.get("exclude") or ()) & set(found):
            continue
        found.append(code)
    return tuple(found)


# ---- conditions: the one table the YAML rules name ----------------------
# Unknown figures (None) make every threshold condition false: missing data is missing,
# so an unknown card spend is neither high nor low.

def _at_least(value: float | None, threshold: float) -> bool:
    return value is not None and value >= threshold


def _below(value: float | None, threshold: float) -> bool:
    return value is not None and value < threshold


def _tolerance(p: Profile) -> int:
    return int(p.risk_tolerance[1:]) if p.risk_tolerance else 0


def _stable_income(p: Profile) -> bool:
    # A job and a known positive income; or a salary we know is steady (public sector, paid by us).
    return ((_at_least(p.annual_income, 1) and _has_job(p))
            or bool({"civil_servant", "payroll_employee"} & set(p.segments)))


CONDITIONS: dict[str, Callable[[Profile], bool]] = {
    "always": lambda p: True,
    "has_referrer": lambda p: bool(p.referrer),
    "has_relationship": lambda p: has_relationship(p),
    "new_prospect": lambda p: not has_relationship(p),
    "is_loyal": lambda p: p.stage == "loyal",
    "is_customer": lambda p: p.stage in ("deal", "loyal") or bool(p.holdings),
    "holds_card": lambda p: any(code.endswith("CARD") for code in p.holdings),
    "holds_payroll": lambda p: "PAYROLL" in p.holdings,
    "runs_company": lambda p: bool({"business_owner", "corporate_contact"} & set(p.segments)),
    "plans_subsidiary": lambda p: "子公司" in (p.note or ""),
    "has_assets": lambda p: _at_least(p.funds, 300_000),
    "large_assets": lambda p: _at_least(p.funds, 500_000),
    "large_cd_funds": lambda p: _at_least(p.funds, 200_000),  # LARGE_CD starts at 200,000
    "high_card_spend": lambda p: _at_least(p.card_spend, 100_000),
    "low_card_spend": lambda p: _below(p.card_spend, 10_000),
    "high_income": lambda p: _at_least(p.annual_income, 200_000),
    "low_income": lambda p: _below(p.annual_income, 50_000),
    "stable_income": _stable_income,
    "has_occupation": _has_job,  # a known occupation that is a job (not retired, not 无固定职业)
    "formal_address": _formal_address,
    "adult": lambda p: _at_least(p.age, 18),
    "loan_age": lambda p: _at_least(p.age, 22),  # consumer loan eligibility
    "can_get_card": lambda p: _stable_income(p) or _at_least(p.card_spend, 100_000),
    "risk_assessed": lambda p: bool(p.risk_tolerance),
    "accepts_fluctuation": lambda p: _tolerance(p) >= 3,
    "cautious_investor": lambda p: _tolerance(p) == 1,
}
# Segment codes (segments.yml) are conditions too: "civil_servant" holds for a civil servant.

RULE_FIELDS = {"name", "referrer", "company", "funds", "card_spend", "risk_tolerance", "risk_level"}


def _names(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _test(name: str, p: Profile) -> bool:
    check = CONDITIONS.get(name)
    return check(p) if check else name in p.segments


def _holds(spec: dict[str, Any], p: Profile) -> bool:
    """A rule's or gate's `when` all hold and its `unless` all fail."""
    return (all(_test(n, p) for n in _names(spec.get("when")))
            and not any(_test(n, p) for n in _names(spec.get("unless"))))


def _fields(p: Profile, product: ProductInfo | None = None) -> dict[str, str]:
    return {
        "name": p.name,
        "referrer": p.referrer or "朋友",
        "company": p.company or "客户单位",
        "funds": _yuan(p.funds),
        "card_spend": _yuan(p.card_spend),
        "risk_tolerance": p.risk_tolerance or "未测评",
        "risk_level": (product.risk_level if product else None) or "未评级",
    }


def check_opening_lines(lines: dict[str, tuple[OpeningLine, ...]], config: _Config | None = None) -> None:
    """Fail at start-up on an opening line that fits an unknown product category or needs an
    unknown condition, and unless every category has an opening that needs nothing of the client."""
    known = set(CONDITIONS) | set((config or _config()).segments)
    for style, style_lines in lines.items():
        for line in style_lines:
            unknown = sorted(line.fits - set(CATEGORIES)) + [n for n in (*line.needs, *line.unless) if n not in known]
            if unknown:
                raise PlaybookError(f"{style}: unknown category or condition {unknown} in: {line.text[:30]}")
    for category in CATEGORIES:
        if not any(category in line.fits and not (line.needs or line.unless) for line in lines.get("direct", ())):
            raise PlaybookError(f"direct: no opening line for {category} products that fits every client")


def _line_fits(line: OpeningLine, p: Profile, product: ProductInfo | None) -> bool:
    return ((product is None or product.category in line.fits)
            and _holds({"when": list(line.needs), "unless": list(line.unless)}, p))


def opening_lines(style: str, profile: Profile | None, product: ProductInfo | None = None) -> tuple[OpeningLine, ...]:
    """The lines of ``style`` that may be said to this client about ``product`` (any product when
    None): the product's category among the line's `fits`, the client meeting its `needs`/`unless`."""
    p = profile or _NOBODY
    return tuple(line for line in playbook().opening_lines[style] if _line_fits(line, p, product))


def rank_openings(profile: Profile | None, product: ProductInfo | None = None) -> list[tuple[str, str]]:
    """Opening styles best first, each with a one-line reason. Styles whose `requires` the
    client does not meet are left out, so a client without a relationship gets fewer than nine;
    with a product (anything with a ``category``), so are styles with no line that fits it, and
    rules whose reason speaks of other products (`fits`)."""
    p = profile or _NOBODY
    requires = _config().style_requires
    ranked: dict[str, str] = {}
    for rule in playbook().opening_rules:
        style = rule["style"]
        if style in ranked or not (_holds(requires.get(style, {}), p) and _holds(rule, p)):
            continue
        if product is not None and rule.get("fits") and product.category not in _names(rule["fits"]):
            continue
        if opening_lines(style, p, product):
            ranked[style] = rule["why"].format(**_fields(p))
    return list(ranked.items())


def product_fits(profile: Profile, product: ProductInfo) -> bool:
    """Whether ``product`` may be offered to the client at all, whichever rule suggests it:
    not held yet, suitable (wealth), affordable (known funds reach the minimum amount), and
    within the product's own target (product_rules.yml `targets`)."""
    if product.code in profile.holdings or suitability_problem(profile, product) is not None:
        return False
    if profile.funds is not None and product.min_amount > profile.funds:
        return False
    return _holds(_config().product_targets.get(product.code, {}), profile)


def recommend_products(profile: Profile | None, catalogue: tuple[ProductInfo, ...]) -> list[tuple[ProductInfo, str]]:
    if profile is None:
        # Nothing known: the first product that needs no assessment, without a reason.
        first = next((p for p in catalogue if suitable(None, p)), None)
        return [(first, "")] if first else []
    by_code = {p.code: p for p in catalogue}
    chosen: dict[str, tuple[ProductInfo, str]] = {}
    for rule in playbook().product_rules:
        product = by_code.get(rule["product"])
        if product and product.code not in chosen and product_fits(profile, product) and _holds(rule, profile):
            chosen[product.code] = (product, rule["why"].format(**_fields(profile, product)))
    return list(chosen.values())


# ---- relationship and suitability (used by rules, guidance, logging and the fact checks) ----

# Contact sources that mean the client already banks with us (an account, a card, payroll).
RELATIONSHIP_SOURCES = {"existing_customer", "payroll_employer", "corporate_contact"}


def has_relationship(profile: Profile | None) -> bool:
    """Whether the client already does business with the bank: only then may a line thank them
    for their support or speak of "your account" (故作熟悉, 巧借东风, 故意找茬)."""
    if profile is None:
        return False
    return (bool(profile.holdings) or profile.stage in ("deal", "loyal")
            or profile.contact_source in RELATIONSHIP_SOURCES)


def within_tolerance(tolerance: str | None, risk_level: str | None) -> bool:
    """C2 may buy R1 and R2: the product's risk level (R1-R5) at most the tolerance (C1-C5)."""
    return bool(tolerance and risk_level) and int(risk_level[1:]) <= int(tolerance[1:])


# A risk assessment is valid for a year (then the client repeats it in the app or at a branch).
RISK_ASSESSMENT_VALID = timedelta(days=365)


def suitability_problem(profile: Profile | None, product: ProductInfo) -> str | None:
    """Why ``product`` may not be recommended, pitched or sold to this client, or None.

    Wealth products need a risk assessment, and the product's risk level (R1-R5) may not be
    above the client's tolerance (C1-C5): C2 may buy R1 and R2.
    """
    if not product.is_wealth:
        return None
    messages = playbook().messages
    tolerance = profile.risk_tolerance if profile else None
    if not tolerance:
        return messages["unsuitable_no_assessment"].format(product=product.name)
    assessed = profile.risk_assessed_at
    if assessed is not None and clock.now() - assessed > RISK_ASSESSMENT_VALID:
        return messages["unsuitable_expired"].format(product=product.name, assessed=assessed.strftime("%Y-%m-%d"))
    if not within_tolerance(tolerance, product.risk_level):
        return messages["unsuitable_above_tolerance"].format(
            product=product.name, risk_level=product.risk_level or "未评级", tolerance=tolerance)
    return None


def suitable(profile: Profile | None, product: ProductInfo) -> bool:
    return suitability_problem(profile, product) is None


# ---- the choices of the supervisor's client filters (bot/book/assignment.py) ----

def tier_choices() -> dict[str, str]:
    """Tier code -> label, highest first, then the tier of clients with no known figure (``tier_code``)."""
    cfg = _config().tiers
    return {**{level["code"]: level["label"] for level in cfg["levels"]}, "missing": cfg["missing_label"]}


def segment_choices() -> dict[str, str]:
    """Segment code -> label, in segments.yml order (``Profile.segments``)."""
    return {code: spec["label"] for code, spec in _config().segments.items()}


def profiles_of(session: Session, client_ids: set[int]) -> dict[int, Profile]:
    """The profiles of these clients, read in bounded batches with their holdings (never a query per client)."""
    found: dict[int, Profile] = {}
    for batch in batched(sorted(client_ids)):
        stmt = select(Client).where(Client.id.in_(batch)).options(
            selectinload(Client.holdings).joinedload(Holding.product))
        found.update((client.id, Profile.from_row(client)) for client in session.scalars(stmt).unique())
    return found
