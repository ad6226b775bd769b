"""Load the shipped demo data into the CRM: inserts what is missing, never overwrites."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import clock
from bot.models import (
    CATEGORIES,
    CONTACT_SOURCES,
    RISK_LEVELS,
    RISK_TOLERANCES,
    ROLES,
    STAGES,
    Client,
    Holding,
    Product,
    SellingPoint,
    User,
)
from bot.passwords import hash_password, verify_password
from bot.playbook import overstated_fact
from bot.settings import PACKAGE_DIR

DEMO_DATA = PACKAGE_DIR / "data" / "demo_data.yml"
PRODUCT_EXTRAS = PACKAGE_DIR / "playbook" / "product_extras.yml"
CLIENT_EXTRAS = PACKAGE_DIR / "data" / "client_extras.yml"
# Columns filled from the data files when a row exists but the column is still empty (an older
# database gains the new facts; nothing a user entered is overwritten).
PRODUCT_FACTS = ("comparison", "target", "pricing", "eligibility", "signup")
CLIENT_FACTS = ("deposits", "loan_balance", "contact_source", "contact_detail", "risk_tolerance",
                "risk_assessed_at")
# The day the demo data describes. Its event dates (a risk assessment) move with the clock, so the
# demo bank never ages: an assessment valid on that day stays valid, an expired one stays expired.
DEMO_AS_OF = date(2026, 11, 23)
RELATIVE_DATES = ("risk_assessed_at",)
# The call list's facts (issue 21) are filled the same way: the birth date (moved with the clock, keeping
# the age: demo_birth_date), marketing consent, a held deposit's or wealth product's maturity and amount.


class DemoDataError(ValueError):
    """The demo data file is inconsistent (caught before anything is written)."""


def read_demo_data(path: Path = DEMO_DATA, extras_path: Path = PRODUCT_EXTRAS,
                   client_extras_path: Path = CLIENT_EXTRAS) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    client_extras = {}
    if client_extras_path.exists():
        client_extras = yaml.safe_load(client_extras_path.read_text(encoding="utf-8")) or {}
    # The extras win over the shipped file (its notes cite seed files, which agents must not see).
    data["clients"] = [{**c, **(client_extras.get(str(c["phone"])) or {})} for c in data["clients"]]
    extras = yaml.safe_load(extras_path.read_text(encoding="utf-8")) if extras_path.exists() else {}
    extras = extras or {}
    products = [dict(p) for p in data["products"]] + [dict(p) for p in extras.get("extra_products", [])]
    for product in products:
        for key, value in (extras.get(product["code"]) or {}).items():
            product.setdefault(key, value)
    data["products"] = products
    _validate(data)
    return data


def _validate(data: dict[str, Any]) -> None:
    problems = []
    for user in data["users"]:
        if user["role"] not in ROLES:
            problems.append(f"user {user['login']}: unknown role {user['role']}")
    codes = {p["code"] for p in data["products"]}
    for product in data["products"]:
        if product["category"] not in CATEGORIES:
            problems.append(f"product {product['code']}: unknown category")
        if len(product.get("advantages") or []) < 3:
            problems.append(f"product {product['code']}: needs at least three selling points")
        if product["category"] == "wealth" and product.get("risk_level") not in RISK_LEVELS:
            problems.append(f"product {product['code']}: wealth products need a risk level R1-R5")
        for fact in [*(product.get("advantages") or []), *(product.get(k) or "" for k in PRODUCT_FACTS)]:
            if overstated_fact(fact):
                problems.append(f"product {product['code']}: {overstated_fact(fact)!r} without its condition "
                                f"(a perk's rule, 以审批为准): {fact}")
    logins = {u["login"] for u in data["users"]}
    for client in data["clients"]:
        if client.get("stage", "unknown") not in STAGES:
            problems.append(f"client {client['name']}: unknown stage")
        if client.get("agent") and client["agent"] not in logins:
            problems.append(f"client {client['name']}: unknown agent")
        if client.get("contact_source") and client["contact_source"] not in CONTACT_SOURCES:
            problems.append(f"client {client['name']}: unknown contact source")
        if client.get("risk_tolerance") and client["risk_tolerance"] not in RISK_TOLERANCES:
            problems.append(f"client {client['name']}: risk tolerance must be C1-C5")
        for code in client.get("holdings") or []:
            if code not in codes:
                problems.append(f"client {client['name']}: unknown product {code}")
        for code in client.get("holding_facts") or {}:
            if code not in (client.get("holdings") or []):
                problems.append(f"client {client['name']}: holding facts for {code}, which the client does not hold")
    if problems:
        raise DemoDataError("; ".join(problems))


def load_demo_data(session: Session, data: dict[str, Any] | None = None,
                   catalogue_only: bool = False) -> dict[str, int]:
    """Insert missing users, products and clients; returns how many rows were added.

    ``catalogue_only``: just the product catalogue (real configuration every deployment needs),
    without the demo users (published passwords) and demo clients.
    """
    data = data or read_demo_data()
    added = {"users": 0, "products": 0, "clients": 0, "holdings": 0}

    users = {u.login: u for u in session.scalars(select(User))}
    for spec in [] if catalogue_only else data["users"]:
        if spec["login"] not in users:
            user = User(
                login=spec["login"],
                name=spec["name"],
                role=spec["role"],
                password_hash=hash_password(spec["password"]),
            )
            session.add(user)
            users[user.login] = user
            added["users"] += 1

    products = {p.code: p for p in session.scalars(select(Product))}
    for spec in data["products"]:
        if spec["code"] in products:
            _fill_missing(products[spec["code"]], spec, PRODUCT_FACTS)
            continue
        product = Product(
            code=spec["code"],
            name=spec["name"],
            category=spec["category"],
            risk_level=spec.get("risk_level"),
            min_amount=spec.get("min_amount") or 0,
            aliases=list(spec.get("aliases") or []),
            comparison=spec.get("comparison"),
            target=spec.get("target"),
            pricing=spec.get("pricing"),
            eligibility=spec.get("eligibility"),
            signup=spec.get("signup"),
            selling_points=[
                SellingPoint(position=i, text=text) for i, text in enumerate(spec["advantages"])
            ],
        )
        session.add(product)
        products[product.code] = product
        added["products"] += 1
    session.flush()

    existing = {c.phone: c for c in session.scalars(select(Client))}
    for spec in [] if catalogue_only else data["clients"]:
        if spec["phone"] in existing:
            row = existing[spec["phone"]]
            _fill_missing(row, spec, CLIENT_FACTS)
            _fill_book_facts(row, spec)
            if row.note and "seeds/" in row.note and spec.get("note"):
                row.note = spec["note"]  # the note first shipped cited a seed file; agents see this one
            continue
        client = Client(
            name=spec["name"],
            phone=spec["phone"],
            gender=spec.get("gender"),
            age=spec.get("age"),
            occupation=spec.get("occupation"),
            company=spec.get("company"),
            annual_income=spec.get("annual_income"),
            assets=spec.get("assets"),
            card_spend_per_year=spec.get("card_spend_per_year"),
            stage=spec.get("stage", "unknown"),
            do_not_call=bool(spec.get("do_not_call", False)),
            agent=users.get(spec.get("agent")),
            referrer=spec.get("referrer"),
            note=spec.get("note"),
            **{name: _value(spec.get(name), name) for name in CLIENT_FACTS},
            **_book_facts(spec),
        )
        for code in spec.get("holdings") or []:
            client.holdings.append(Holding(product=products[code], **_holding_facts(spec, code)))
            added["holdings"] += 1
        session.add(client)
        added["clients"] += 1
    return added


def _value(value: Any, name: str = "") -> Any:
    """YAML dates become datetimes (the columns are DateTime); event dates move with the clock."""
    if isinstance(value, date) and not isinstance(value, datetime):
        if name in RELATIVE_DATES:
            value += clock.now().date() - DEMO_AS_OF
        return datetime.combine(value, time.min)
    return value


def demo_birth_date(born: date, age: int | None, today: date) -> date:
    """A demo client's birth date on the day the demo is loaded: the birthday moves with the clock by
    whole weeks (a birthday in the demo day's week stays in the week of loading, on the same weekday)
    and the year is the one that keeps the client's age on ``today`` (the age is the demo data's)."""
    birthday = _on(born, DEMO_AS_OF.year) + timedelta(weeks=(today - DEMO_AS_OF).days // 7)
    if age is None:
        return _on(birthday, born.year + birthday.year - DEMO_AS_OF.year)
    return _on(birthday, today.year - age - (1 if (birthday.month, birthday.day) > (today.month, today.day) else 0))


def _on(day: date, year: int) -> date:
    """``day`` in ``year``; 29 February is 28 February in other years."""
    try:
        return day.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def _book_facts(spec: dict[str, Any]) -> dict[str, Any]:
    born = spec.get("birth_date")
    return {"birth_date": demo_birth_date(born, spec.get("age"), clock.now().date()) if born else None,
            "marketing_consent": spec.get("marketing_consent")}


def _holding_facts(spec: dict[str, Any], code: str) -> dict[str, Any]:
    facts = (spec.get("holding_facts") or {}).get(code) or {}
    days = facts.get("matures_in_days")
    return {"matures_at": clock.now().date() + timedelta(days=days) if days is not None else None,
            "amount": facts.get("amount")}


def _fill_book_facts(row: Client, spec: dict[str, Any]) -> None:
    """An older database gains the call list's facts; nothing a user entered is overwritten."""
    for target, facts in [(row, _book_facts(spec)),
                          *((h, _holding_facts(spec, h.product.code)) for h in row.holdings)]:
        for name, value in facts.items():
            if getattr(target, name) is None and value is not None:
                setattr(target, name, value)


def _fill_missing(row: Any, spec: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        if getattr(row, name) is None and spec.get(name) is not None:
            setattr(row, name, _value(spec[name], name))


def logins_with_published_passwords(session: Session, data: dict[str, Any] | None = None) -> list[str]:
    """Active demo accounts whose password is still the one the README publishes (one scrypt each)."""
    data = data or read_demo_data()
    published = {spec["login"]: spec["password"] for spec in data["users"]}
    users = session.scalars(select(User).where(User.login.in_(published), User.active.is_(True)).order_by(User.login))
    return [user.login for user in users if verify_password(published[user.login], user.password_hash)]
