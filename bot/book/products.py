"""Products as supervisors add and edit them (issue 21, point 2), and the live catalogue every
conversation reads.

A save is checked whole before anything is written: the plain fields (code, name, category, risk level
only for wealth products, minimum amount, aliases, the facts, at least three selling points in order,
active), then every text through the compliance module: the promise judge (bot.compliance.findings),
the product-fact rules (bot/compliance/facts.yml: a benchmark as its range with the disclaimer, a
closed period stated as not redeemable, deposit insurance with its limit) and the card and loan facts
(bot.playbook.overstated_fact: a free perk names its condition, a high limit is 以审批为准). Any
problem refuses the save with its Chinese reason by field (ProductError). Every save that changes
something is one ``product`` change with the diff.

The conversations read the catalogue through ``live_catalogue``: kept per process, but checked
against the newest product change at every read, so a product deactivated on the supervisor's page
is not offered from the very next message, in every process."""

from __future__ import annotations

import re
import time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import crm, labels
from bot.book import changes
from bot.compliance import findings
from bot.compliance.facts import fact_findings
from bot.models import CATEGORIES, RISK_LEVELS, Change, Product, SellingPoint, User
from bot.playbook import overstated_fact, playbook
from bot.profile import ProductInfo
from bot.text import normalize
from bot.timeparse import parse_amount

PRODUCT = "product"  # Change.entity and Change.kind of a product save
CODE_PATTERN = re.compile(r"[A-Z][A-Z0-9_]{1,31}")
MAX_NAME_CHARS = 64
MAX_TEXT_CHARS = 300
MIN_POINTS, MAX_POINTS, MAX_POINT_CHARS = 3, 10, 200
MAX_ALIASES, MAX_ALIAS_CHARS = 20, 32
MAX_AMOUNT = 1e12
# The facts an answer may state (bot.models.Product), each said on its own: each is checked alone.
TEXT_FIELDS = ("comparison", "target", "pricing", "eligibility", "signup")
# What a save may change, in the order the form shows them (and the change's diff lists them).
FIELDS = ("name", "category", "risk_level", "min_amount", "aliases", *TEXT_FIELDS, "selling_points", "active")


class ProductError(ValueError):
    """A refused save: ``problems`` maps each field ("selling_points.0" for the first point) to its
    Chinese reason; ``status`` is the HTTP status (400, 404 no such product, 409 code taken)."""

    def __init__(self, problems: dict[str, str], status: int = 400) -> None:
        summary = _text("refused").format(count=len(problems)) if status == 400 else \
            next(iter(problems.values()))
        super().__init__(summary)
        self.problems, self.status = problems, status


def _text(key: str) -> str:
    return playbook().messages.product_texts[key]


# --- reading ------------------------------------------------------------------------------------

def listing(session: Session) -> list[Product]:
    """Every product, active ones first, in catalogue order."""
    return list(session.scalars(select(Product).order_by(Product.active.desc(), Product.id)))


def find(session: Session, code: Any) -> Product:
    product = session.scalars(select(Product).where(Product.code == code)).first() if isinstance(code, str) else None
    if product is None:
        raise ProductError({"code": _text("not_found").format(code=code)}, 404)
    return product


def product_json(product: Product) -> dict[str, Any]:
    return {"code": product.code, "name": product.name, "category": product.category,
            "category_label": labels.product_categories().get(product.category, product.category),
            "risk_level": product.risk_level, "min_amount": product.min_amount or 0,
            "aliases": list(product.aliases or []), **{f: getattr(product, f) for f in TEXT_FIELDS},
            "selling_points": [p.text for p in product.selling_points], "active": bool(product.active)}


# --- the live catalogue -------------------------------------------------------------------------

# A process keeps the catalogue (reading it for every message cost a quarter of the action server's
# time: bench/NOTES.md), keyed by database and checked against ``catalogue_version`` at every read.
# Edits that bypass this module (SQL, the demo data's loader) are picked up after CATALOGUE_SECONDS.
CATALOGUE_SECONDS = 30.0
_catalogues: dict[str, tuple[float, int, tuple[ProductInfo, ...]]] = {}


def catalogue_version(session: Session) -> int:
    """The newest product change's id (0: none yet): every save on the supervisor's page moves it."""
    return session.scalar(select(func.max(Change.id)).where(Change.entity == PRODUCT)) or 0


def live_catalogue(session: Session) -> tuple[ProductInfo, ...]:
    """The active products as the conversations offer them, current as of the last product save."""
    key, now, version = str(session.get_bind().url), time.monotonic(), catalogue_version(session)
    cached = _catalogues.get(key)
    if cached is None or cached[1] != version or now - cached[0] > CATALOGUE_SECONDS:
        cached = _catalogues[key] = (now, version, tuple(ProductInfo.from_row(p) for p in crm.catalogue(session)))
    return cached[2]


# --- the form -----------------------------------------------------------------------------------

def _free_text(value: Any, limit: int) -> tuple[str | None, str | None]:
    """(the text, stripped, None if blank; a problem) of a free-text field."""
    if value is None:
        return None, None
    if not isinstance(value, str):
        return None, _text("text_invalid")
    value = value.strip()
    if len(value) > limit:
        return None, _text("text_too_long").format(max=limit)
    return value or None, None


def _aliases(value: Any) -> tuple[list[str], str | None]:
    if value is None:
        return [], None
    items = value if isinstance(value, list) else re.split(r"[\n、，,;；]+", value) if isinstance(value, str) else None
    if items is None or not all(isinstance(a, str) for a in items):
        return [], _text("aliases_invalid").format(count=MAX_ALIASES, max=MAX_ALIAS_CHARS)
    aliases = list(dict.fromkeys(a.strip() for a in items if a.strip()))
    if len(aliases) > MAX_ALIASES or any(len(a) > MAX_ALIAS_CHARS for a in aliases):
        return [], _text("aliases_invalid").format(count=MAX_ALIASES, max=MAX_ALIAS_CHARS)
    return aliases, None


def _points(value: Any, problems: dict[str, str]) -> list[str]:
    items = value if isinstance(value, list) else value.split("\n") if isinstance(value, str) else None
    if items is None or not all(isinstance(p, str) for p in items):
        problems["selling_points"] = _text("points_too_few").format(min=MIN_POINTS)
        return []
    points = [p.strip() for p in items if p.strip()]
    if len(points) < MIN_POINTS:
        problems["selling_points"] = _text("points_too_few").format(min=MIN_POINTS)
    elif len(points) > MAX_POINTS:
        problems["selling_points"] = _text("points_too_many").format(max=MAX_POINTS)
    for index, point in enumerate(points):
        if len(point) > MAX_POINT_CHARS:
            problems[f"selling_points.{index}"] = _text("text_too_long").format(max=MAX_POINT_CHARS)
    return points


def _amount(value: Any) -> float | None:
    if value is None or value == "":
        return 0.0
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        amount = float(value)
    else:
        amount = parse_amount(value) if isinstance(value, str) else None
    return amount if amount is not None and 0 <= amount < MAX_AMOUNT else None


def _form(body: dict[str, Any], current: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The values a save asks for (a field left out keeps ``current``'s), and the problems found by
    reading them (not yet the compliance check)."""
    problems: dict[str, str] = {}
    given = {f: body[f] if f in body else current.get(f) for f in FIELDS}
    values: dict[str, Any] = {}
    name, problem = _free_text(given["name"], MAX_NAME_CHARS)
    if problem or not name:
        problems["name"] = _text("name_invalid").format(max=MAX_NAME_CHARS)
    values["name"] = name
    category = given["category"]
    if category not in CATEGORIES:
        problems["category"] = _text("category_invalid")
    values["category"] = category
    risk = given["risk_level"] or None
    if category == "wealth" and risk is None:
        problems["risk_level"] = _text("risk_required")
    elif risk is not None and risk not in RISK_LEVELS:
        problems["risk_level"] = _text("risk_invalid")
    elif risk is not None and category in CATEGORIES and category != "wealth":
        problems["risk_level"] = _text("risk_not_wealth").format(
            category=labels.product_categories().get(category, category))
    values["risk_level"] = risk
    values["min_amount"] = _amount(given["min_amount"])
    if values["min_amount"] is None:
        problems["min_amount"] = _text("amount_invalid")
    values["aliases"], problem = _aliases(given["aliases"])
    if problem:
        problems["aliases"] = problem
    for field in TEXT_FIELDS:
        values[field], problem = _free_text(given[field], MAX_TEXT_CHARS)
        if problem:
            problems[field] = problem
    values["selling_points"] = _points(given["selling_points"], problems)
    active = True if given["active"] is None else given["active"]
    if not isinstance(active, bool):
        problems["active"] = _text("active_invalid")
    values["active"] = active
    return values, problems


def compliance_problems(values: dict[str, Any]) -> dict[str, str]:
    """Each text of the product that the compliance module refuses, by field, with every reason."""
    texts = [("name", values.get("name")), *((f, values.get(f)) for f in TEXT_FIELDS),
             *((f"selling_points.{i}", p) for i, p in enumerate(values.get("selling_points") or []))]
    problems = {}
    for field, text in texts:
        if not text:
            continue
        said = [_text("finding").format(reason=f.reason, phrase=f.phrase)
                for f in findings(text, values.get("category")) + fact_findings(text)]
        if overstated := overstated_fact(text):
            said.append(_text("overstated").format(phrase=overstated))
        if said:
            problems[field] = "；".join(dict.fromkeys(said))
    return problems


def _taken(session: Session, values: dict[str, Any], product_id: int | None) -> dict[str, str]:
    """The name or aliases another product is already called by (the chat finds products by them)."""
    others = {}
    for other in session.scalars(select(Product).where(Product.id != (product_id or 0))):
        for word in [other.name, *(other.aliases or [])]:
            others.setdefault(normalize(str(word)).strip(), other.name)
    problems = {}
    if values.get("name") and normalize(values["name"]) in others:
        problems["name"] = _text("name_taken").format(name=values["name"], other=others[normalize(values["name"])])
    for alias in values.get("aliases") or []:
        if normalize(alias) in others:
            problems["aliases"] = _text("name_taken").format(name=alias, other=others[normalize(alias)])
            break
    return problems


def _current(product: Product | None) -> dict[str, Any]:
    return product_json(product) if product is not None else {}


def _apply(product: Product, values: dict[str, Any]) -> None:
    for field in FIELDS:
        if field != "selling_points":
            setattr(product, field, values[field])
    # Points are rewritten in place by position: replacing the list would insert the new rows before
    # deleting the old ones, against the unique (product, position).
    points, existing = values["selling_points"], list(product.selling_points)
    for point, text in zip(existing, points, strict=False):
        point.text = text
    for point in existing[len(points):]:
        product.selling_points.remove(point)
    for position in range(len(existing), len(points)):
        product.selling_points.append(SellingPoint(position=position, text=points[position]))


def _diff(before: dict[str, Any], values: dict[str, Any]) -> dict[str, list[Any]]:
    return changes.diff(before, {f: values[f] for f in FIELDS})


def _checked(session: Session, body: Any, product: Product | None) -> dict[str, Any]:
    if not isinstance(body, dict):
        body = {}
    values, problems = _form(body, _current(product))
    problems.update({k: v for k, v in _taken(session, values, product.id if product else None).items()
                     if k not in problems})
    problems.update({k: v for k, v in compliance_problems(values).items() if k not in problems})
    if problems:
        raise ProductError(problems)
    return values


def create(session: Session, *, by: User | None, body: Any) -> Product:
    """A new product from the form ``body`` (``code`` and the FIELDS); ProductError if refused."""
    raw_code = body.get("code") if isinstance(body, dict) else None
    code = raw_code.strip().upper() if isinstance(raw_code, str) else ""
    problems = {} if CODE_PATTERN.fullmatch(code) else {"code": _text("code_invalid")}
    if not problems and session.scalars(select(Product.id).where(Product.code == code)).first() is not None:
        problems["code"] = _text("code_taken").format(code=code)
    try:
        values = _checked(session, body, None)
    except ProductError as error:
        raise ProductError({**problems, **error.problems}) from None
    if problems:
        raise ProductError(problems)
    product = Product(code=code)
    _apply(product, values)
    session.add(product)
    _flush(session)
    changes.record(session, user=by, kind=PRODUCT, entity=PRODUCT, entity_id=product.id,
                   detail={"code": [None, code], **_diff({}, values)})
    return product


def update(session: Session, *, by: User | None, code: Any, body: Any) -> tuple[Product, dict[str, list[Any]]]:
    """Save the form ``body`` over the product ``code`` (fields left out keep their values); returns
    the product and the diff (empty: nothing changed, nothing recorded). The code never changes:
    calls, follow-ups and the playbook's rules name products by it."""
    product = find(session, code)
    if isinstance(body, dict) and body.get("code") not in (None, product.code):
        raise ProductError({"code": _text("code_fixed")})
    before = _current(product)
    values = _checked(session, body, product)
    diff = _diff(before, values)
    if diff:
        _apply(product, values)
        _flush(session)
        changes.record(session, user=by, kind=PRODUCT, entity=PRODUCT, entity_id=product.id, detail=diff)
    return product, diff


def _flush(session: Session) -> None:
    """Write now; another save that took the same code or name meanwhile is a refusal, not a crash
    (the caller's transaction is then rolled back: let ProductError leave it)."""
    try:
        session.flush()
    except IntegrityError:
        raise ProductError({"code": _text("conflict")}, 409) from None
