"""Who the client is and what fits them: the profile, the products, the rules that pick openings
and products (seeds 000, 003, 004). Pure logic over plain data, unit-tested without a database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.models import Client, Product
from bot.playbook import playbook

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

    @classmethod
    def from_row(cls, client: Client) -> Profile:
        def num(value: Any) -> float | None:
            return None if value is None else float(value)

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
    def tier(self) -> str:
        assets = self.assets or 0
        for tier in playbook().messages["tiers"]:
            if assets >= tier["min_assets"]:
                return tier["label"]
        return ""


# ---- profile rules -------------------------------------------------------

def _conditions(p: Profile) -> dict[str, Callable[[], bool]]:
    income = p.annual_income or 0
    spend = p.card_spend or 0
    assets = p.assets or 0
    occupation = (p.occupation or "") + (p.company or "")
    return {
        "always": lambda: True,
        "has_referrer": lambda: bool(p.referrer),
        "is_loyal": lambda: p.stage == "loyal",
        "is_customer": lambda: p.stage in ("deal", "loyal") or bool(p.holdings),
        "holds_card": lambda: any(code.endswith("CARD") for code in p.holdings),
        "first_contact": lambda: p.stage in ("unknown", "general") and not p.holdings,
        "has_company": lambda: bool(p.company) or any(k in occupation for k in ("经理", "处长", "总监", "主任")),
        "has_assets": lambda: assets >= 300000,
        "high_card_spend": lambda: spend >= 100000,
        "corporate_contact": lambda: any(k in occupation for k in ("企业主", "财务", "老板", "集团", "公司")),
        "large_assets": lambda: assets >= 500000,
        "high_income_low_card_spend": lambda: income >= 200000 and spend < 10000,
        "low_income": lambda: p.annual_income is not None and income < 50000,
        "young": lambda: p.age is not None and p.age < 35,
    }


def _fields(p: Profile | None) -> dict[str, str]:
    if p is None:
        return {"name": "该客户", "referrer": "朋友"}
    return {"name": p.name, "referrer": p.referrer or "朋友"}


def rank_openings(profile: Profile | None) -> list[tuple[str, str]]:
    """Opening styles best first, each with a one-line reason."""
    # Without a profile every call is a first contact.
    conditions = _conditions(profile) if profile else {"always": lambda: True, "first_contact": lambda: True}
    ranked: dict[str, str] = {}
    for rule in playbook().opening_rules:
        check = conditions.get(rule["when"])
        if check and check() and rule["style"] not in ranked:
            ranked[rule["style"]] = rule["why"].format(**_fields(profile))
    return list(ranked.items())


def recommend_products(profile: Profile | None, catalogue: tuple[ProductInfo, ...]) -> list[tuple[ProductInfo, str]]:
    by_code = {p.code: p for p in catalogue}
    if profile is None:
        return [(p, "") for p in catalogue[:1]]
    conditions = _conditions(profile)
    chosen: dict[str, tuple[ProductInfo, str]] = {}
    for rule in playbook().product_rules:
        product = by_code.get(rule["product"])
        check = conditions.get(rule["when"])
        if product and check and check() and product.code not in profile.holdings and product.code not in chosen:
            chosen[product.code] = (product, rule["why"])
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
    if not product.risk_level or int(product.risk_level[1:]) > int(tolerance[1:]):
        return messages["unsuitable_above_tolerance"].format(
            product=product.name, risk_level=product.risk_level or "未评级", tolerance=tolerance)
    return None


def suitable(profile: Profile | None, product: ProductInfo) -> bool:
    return suitability_problem(profile, product) is None
