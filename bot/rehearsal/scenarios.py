"""Rehearsal scenarios: fictional customers the bot plays for trainees (issue 10, point 1).

The scenarios are data (``scenarios.yml`` beside this file); this module loads them into frozen
dataclasses and validates them against the playbook and the catalogue when they are loaded, so a
bad scenario fails at start-up, not in the middle of a rehearsal. No Rasa, no database.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot import labels
from bot.demo_data import read_demo_data
from bot.models import RISK_TOLERANCES
from bot.playbook import OPENING_STYLES, playbook
from bot.profile import ProductInfo, Profile, rank_openings, within_tolerance
from bot.text import normalize

SCENARIOS_FILE = Path(__file__).resolve().parent / "scenarios.yml"

logger = logging.getLogger(__name__)

DIFFICULTIES = ("easy", "medium", "hard")
SUCCESS_KINDS = ("deal_step", "callback_agreed", "polite_end")
# Not an objection in the playbook's sense, but a customer move all the same (contract section 3).
EXTRA_MOVES = ("customer_asks_purpose",)
MAX_AGE_GAP = 5  # a persona's age stays within this many years of the profile it is modelled on
# Where a scenario comes from: the shipped file, or a supervisor's reviewed live call (from_calls.py).
PLAYBOOK, REAL_CALL = "playbook", "real_call"
# The ids of scenarios made from calls (call_<n>): only these are looked for in the CRM.
FROM_CALL_ID = re.compile(r"call_[0-9]+")


class ScenarioError(ValueError):
    """The scenario file is malformed (raised when it is loaded)."""


@dataclass(frozen=True)
class Persona:
    name: str  # fictional full name, never a real CRM client's
    title: str  # how the trainee addresses them: 黄先生
    modelled_on: str  # the demo client whose profile this persona follows
    gender: str
    age: int
    occupation: str
    temperament: str
    needs: str
    risk_tolerance: str | None  # C1-C5; None = never assessed (no wealth products)
    contact_source: str | None = None  # bot.models.CONTACT_SOURCES, as for the profile
    contact_detail: str = ""
    holdings: tuple[str, ...] = ()  # product codes the fictional customer already has
    referrer: str | None = None  # fictional, for referral openings
    company: str | None = None  # fictional, for corporate personas
    # Hangs up at the first promise or false fact, however patient otherwise (temperament: 听到夸大的话马上警觉).
    alarmed_by_exaggeration: bool = False
    # Made from a real call (bot.rehearsal.from_calls): modelled on no demo client; only the gender, a
    # rounded age, the risk tolerance and the kind of contact source were taken from the call's client.
    from_call: bool = False


@dataclass(frozen=True)
class Move:
    objection: str  # a contract intent: objection_* or customer_asks_purpose
    says: tuple[str, ...]


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    difficulty: str
    persona: Persona
    product: str  # catalogue product code
    opening_reaction: str
    moves: tuple[Move, ...]
    patience: int  # poor replies before the customer hangs up
    hang_up_lines: tuple[str, ...]
    agree_lines: tuple[str, ...]
    success: str  # deal_step / callback_agreed / polite_end
    opening_style: str | None = None
    opening_raises: bool = True  # the opening reaction raises the first objection (else it asks to hear the offer)

    @property
    def modelled_on(self) -> str:
        return self.persona.modelled_on

    @property
    def objections(self) -> tuple[str, ...]:
        return tuple(move.objection for move in self.moves)

    @property
    def source(self) -> str:
        """PLAYBOOK (scenarios.yml) or REAL_CALL (made from a reviewed live call)."""
        return REAL_CALL if self.persona.from_call else PLAYBOOK


def _lines(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v).strip() for v in value if v is not None and str(v).strip())


def _reference() -> tuple[set[str], dict[str, dict[str, Any]], dict[str, dict[str, Any]], set[str]]:
    """What scenarios are checked against: move intents, catalogue, demo clients, opening styles."""
    data = read_demo_data()
    intents = set(playbook().objections) | set(EXTRA_MOVES)
    products = {p["code"]: p for p in data["products"]}
    clients = {c["name"]: c for c in data["clients"]}
    return intents, products, clients, set(OPENING_STYLES)


def _persona(raw: dict[str, Any]) -> Persona:
    return Persona(
        name=str(raw.get("name") or "").strip(),
        title=str(raw.get("title") or "").strip(),
        modelled_on=str(raw.get("modelled_on") or "").strip(),
        gender=str(raw.get("gender") or "").strip(),
        age=int(raw.get("age") or 0),
        occupation=str(raw.get("occupation") or "").strip(),
        temperament=str(raw.get("temperament") or "").strip(),
        needs=str(raw.get("needs") or "").strip(),
        risk_tolerance=raw.get("risk_tolerance") or None,
        contact_source=raw.get("contact_source") or None,
        contact_detail=str(raw.get("contact_detail") or "").strip(),
        holdings=tuple(raw.get("holdings") or ()),
        referrer=raw.get("referrer") or None,
        company=raw.get("company") or None,
        alarmed_by_exaggeration=bool(raw.get("alarmed_by_exaggeration")),
        from_call=bool(raw.get("from_call")),
    )


def _scenario(raw: dict[str, Any]) -> Scenario:
    moves = tuple(
        Move(
            objection=str(m.get("objection") or ""),
            says=_lines(m.get("says")),
        )
        for m in raw.get("moves") or ()
    )
    return Scenario(
        id=str(raw.get("id") or ""),
        title=str(raw.get("title") or "").strip(),
        difficulty=str(raw.get("difficulty") or ""),
        persona=_persona(raw.get("persona") or {}),
        product=str(raw.get("product") or ""),
        opening_reaction=str(raw.get("opening_reaction") or "").strip(),
        moves=moves,
        patience=int(raw.get("patience") or 0),
        hang_up_lines=_lines(raw.get("hang_up_lines")),
        agree_lines=_lines(raw.get("agree_lines")),
        success=str(raw.get("success") or ""),
        opening_style=raw.get("opening_style") or None,
        opening_raises=bool(raw.get("opening_raises", True)),
    )


def _persona_problems(p: Persona, clients: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    for field in ("name", "title", "gender", "occupation", "temperament", "needs"):
        if not getattr(p, field):
            problems.append(f"persona without {field}")
    # Fictional: the persona never carries a real client's name (nor does its referrer or company).
    real_names = set(clients)
    real_companies = {c["company"] for c in clients.values() if c.get("company")}
    if p.name in real_names:
        problems.append(f"persona {p.name} is a real demo client; personas are fictional")
    if p.referrer and p.referrer in real_names:
        problems.append(f"referrer {p.referrer} is a real demo client")
    if p.company and p.company in real_companies:
        problems.append(f"company {p.company} is a real demo client's company")
    tolerance = p.risk_tolerance
    if tolerance is not None and not (isinstance(tolerance, str) and tolerance in RISK_TOLERANCES):
        problems.append(f"risk_tolerance must be C1-C5 or null, not {p.risk_tolerance!r}")
    if p.from_call:
        # Follows a real call's client, whose few kept facts were checked when it was made.
        if p.modelled_on:
            problems.append("a persona made from a call is modelled on no demo client")
        return problems
    profile = clients.get(p.modelled_on)
    if profile is None:
        problems.append(f"modelled_on {p.modelled_on!r} is not a demo client")
        return problems
    # Consistent with the profile it is modelled on.
    if p.gender != profile.get("gender"):
        problems.append(f"gender {p.gender} differs from {p.modelled_on} ({profile.get('gender')})")
    if profile.get("age") and abs(p.age - int(profile["age"])) > MAX_AGE_GAP:
        problems.append(f"age {p.age} is far from {p.modelled_on}'s ({profile['age']})")
    if p.risk_tolerance != (profile.get("risk_tolerance") or None):
        problems.append(f"risk_tolerance {p.risk_tolerance} differs from {p.modelled_on}'s "
                        f"({profile.get('risk_tolerance')})")
    if p.contact_source and p.contact_source != profile.get("contact_source"):
        problems.append(f"contact_source {p.contact_source} differs from {p.modelled_on}'s "
                        f"({profile.get('contact_source')})")
    return problems


def live_profile(persona: Persona) -> Profile:
    """The persona as the live bot would see a client with the same facts (nothing else on file)."""
    return Profile(id=0, name=persona.name, phone="", gender=persona.gender, age=persona.age,
                   occupation=persona.occupation, company=persona.company, annual_income=None, assets=None,
                   card_spend=None, stage="new", do_not_call=False, agent_login=None, agent_name=None,
                   referrer=persona.referrer, note=None, holdings=persona.holdings,
                   contact_source=persona.contact_source, contact_detail=persona.contact_detail,
                   risk_tolerance=persona.risk_tolerance)


def live_product(entry: dict[str, Any]) -> ProductInfo:
    return ProductInfo(code=entry["code"], name=entry["name"], category=entry["category"],
                       risk_level=entry.get("risk_level"), min_amount=float(entry.get("min_amount") or 0),
                       comparison=entry.get("comparison"), selling_points=tuple(entry.get("advantages") or ()))


def opening_problem(s: Scenario, entry: dict[str, Any]) -> str | None:
    """Why the scenario's opening style is one the live bot would not use for this persona and
    product (the rehearsal never teaches what the live bot refuses), or None."""
    if s.opening_style is None:
        return None
    allowed = [style for style, _why in rank_openings(live_profile(s.persona), live_product(entry))]
    if s.opening_style in allowed:
        return None
    return f"opening_style {s.opening_style} does not fit this persona and product (the live bot allows {allowed})"


def suitability_problem(persona: Persona, product: dict[str, Any]) -> str | None:
    """Why ``product`` must not be pitched to ``persona`` (wealth above their tolerance), or None."""
    if product.get("category") != "wealth":
        return None
    level = product.get("risk_level")
    if not persona.risk_tolerance:
        return f"wealth product {product['code']} ({level}) for a persona without a risk assessment"
    if not within_tolerance(persona.risk_tolerance, level):
        return f"wealth product {product['code']} ({level}) is above the persona's tolerance {persona.risk_tolerance}"
    return None


def _move_problems(move: Move, intents: set[str]) -> list[str]:
    where = f"move {move.objection or '?'}"
    problems = []
    if move.objection not in intents:
        problems.append(f"unknown objection intent {move.objection!r} (known: {', '.join(sorted(intents))})")
    if not move.says:
        problems.append(f"{where}: empty says")
    return problems


def validate(scenarios: Iterable[Scenario], reference: tuple | None = None) -> None:
    """Raise ScenarioError listing every problem, each prefixed with its scenario id."""
    intents, products, clients, styles = reference or _reference()
    problems: list[str] = []
    seen: set[str] = set()
    last_difficulty = 0
    for s in scenarios:
        where = s.id or "?"

        def add(problem: str, where: str = where) -> None:
            problems.append(f"{where}: {problem}")

        if not s.id or not s.id.isascii() or not s.id.replace("_", "").isalnum():
            add("id must be ascii letters, digits and underscores")
        if s.id in seen:
            add("duplicate id")
        seen.add(s.id)
        if not s.title:
            add("no title")
        if s.difficulty not in DIFFICULTIES:
            add(f"difficulty must be one of {DIFFICULTIES}, not {s.difficulty!r}")
        else:
            if DIFFICULTIES.index(s.difficulty) < last_difficulty:
                add("scenarios go from easy to hard; this one is out of order")
            last_difficulty = max(last_difficulty, DIFFICULTIES.index(s.difficulty))
        if s.success not in SUCCESS_KINDS:
            add(f"success must be one of {SUCCESS_KINDS}, not {s.success!r}")
        if s.opening_style is not None and s.opening_style not in styles:
            add(f"unknown opening_style {s.opening_style!r}")
        if s.patience < 1:
            add("patience must be at least 1")
        for field in ("opening_reaction", "hang_up_lines", "agree_lines", "moves"):
            if not getattr(s, field):
                add(f"empty {field}")
        for problem in _persona_problems(s.persona, clients):
            add(problem)
        product = products.get(s.product)
        if product is None:
            add(f"unknown product code {s.product!r} (catalogue: {', '.join(sorted(products))})")
        else:
            for problem in (suitability_problem(s.persona, product), opening_problem(s, product)):
                if problem:
                    add(problem)
            if s.product in s.persona.holdings:
                add(f"the persona already holds {s.product}")
        for code in s.persona.holdings:
            if code not in products:
                add(f"persona holds unknown product {code!r}")
        for move in s.moves:
            for problem in _move_problems(move, intents):
                add(problem)
    if problems:
        raise ScenarioError("invalid rehearsal scenarios:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class Requests:
    """How a trainee asks for a kind of rehearsal in their own words (``requests`` in the file)."""

    repeat: tuple[str, ...] = ()
    difficulty: dict[str, tuple[str, ...]] | None = None  # difficulty -> words
    objection: dict[str, tuple[str, ...]] | None = None  # objection intent -> words
    wishes: dict[str, str] | None = None  # how an unmet wish is named: product/difficulty/objection


@dataclass(frozen=True)
class Choice:
    scenario: Scenario
    unmet: tuple[str, ...] = ()  # wishes no scenario has (Chinese, for the trainee), e.g. "推个人消费贷"


@lru_cache(maxsize=4)
def load_requests(path: Path | str = SCENARIOS_FILE) -> Requests:
    raw = (yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}).get("requests") or {}
    intents = _reference()[0]
    difficulty = {str(k): _lines(v) for k, v in (raw.get("difficulty") or {}).items()}
    objection = {str(k): _lines(v) for k, v in (raw.get("objection") or {}).items()}
    unknown = [k for k in difficulty if k not in DIFFICULTIES] + [k for k in objection if k not in intents]
    if unknown:
        raise ScenarioError(f"{path}: requests name unknown difficulties or intents: {unknown}")
    wishes = {str(k): str(v) for k, v in (raw.get("wishes") or {}).items()}
    if set(wishes) != {"product", "difficulty", "objection"}:
        raise ScenarioError(f"{path}: requests.wishes needs product, difficulty and objection")
    return Requests(repeat=_lines(raw.get("repeat")), difficulty=difficulty, objection=objection,
                    wishes=wishes)


def _words_in(text: str, table: dict[str, tuple[str, ...]]) -> list[str]:
    return [key for key, words in table.items() if any(w in text for w in words)]


def choose(text: str = "", *, scenario_id: str | None = None, product: str | None = None,
           last: str | None = None) -> Choice:
    """The scenario a trainee asked for: by id (the picker's buttons), else by what they said:
    "再练一次" repeats ``last``; a product (name or alias), a persona's (fictional) name, a
    difficulty word and an objection word narrow the choice. Real clients are never a filter: a
    trainee learns nothing about them from which persona comes back. A wish no scenario meets is
    dropped (and reported in ``unmet``); among equal matches the one after ``last`` is taken, so
    asking again gives another customer. KeyError for an unknown ``scenario_id``."""
    if scenario_id:
        return Choice(scenario(scenario_id))
    requests = load_requests()
    said = normalize(text or "")
    if last and any(w in said for w in requests.repeat):
        try:
            return Choice(scenario(last))
        except KeyError:
            pass
    wishes = requests.wishes or {}
    filters: list[tuple[str, object]] = []
    if product:
        wanted = normalize(product)
        filters.append((wishes["product"].format(label=product),
                        lambda s: wanted in _product_names(s.product)))
    named = [s for s in load_scenarios() if s.persona.name in said]
    if named:
        filters.append(("", lambda s: s in named))
    for level in _words_in(said, requests.difficulty or {})[:1]:  # the first named (file order: easy to hard)
        filters.append((wishes["difficulty"].format(label=labels.rehearsal("difficulties")[level]),
                        lambda s, level=level: s.difficulty == level))
    titles = labels.intent_titles()
    for intent in _words_in(said, requests.objection or {}):
        filters.append((wishes["objection"].format(label=titles.get(intent, intent)),
                        lambda s, intent=intent: intent in s.objections))
    candidates = list(load_scenarios())
    unmet: list[str] = []
    for wish, keep in filters:
        narrowed = [s for s in candidates if keep(s)]
        if narrowed:
            candidates = narrowed
        elif wish:
            unmet.append(wish)
    ids = [s.id for s in candidates]
    start = (ids.index(last) + 1) if last in ids else 0
    return Choice(candidates[start % len(candidates)], tuple(unmet))


@lru_cache(maxsize=32)
def product(code: str) -> dict[str, Any]:
    """A scenario's product, from the shipped catalogue (scenarios sell only catalogue products)."""
    for entry in _reference()[1].values():
        if entry["code"] == code:
            return entry
    raise KeyError(code)


def _product_names(code: str) -> tuple[str, ...]:
    """The product's normalised name and aliases."""
    entry = product(code)
    return tuple(normalize(n) for n in [entry["name"], *(entry.get("aliases") or ())])


@lru_cache(maxsize=4)
def load_scenarios(path: Path | str = SCENARIOS_FILE) -> tuple[Scenario, ...]:
    """The scenarios in ``path``, in file order (easy to hard), validated."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ScenarioError(f"{path}: not valid YAML: {error}") from error
    entries = raw.get("scenarios") if isinstance(raw, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ScenarioError(f"{path}: expected a non-empty list under 'scenarios'")
    try:
        scenarios = tuple(_scenario(entry) for entry in entries)
    except (AttributeError, TypeError, ValueError) as error:
        raise ScenarioError(f"{path}: malformed scenario: {error}") from error
    validate(scenarios)
    return scenarios


def scenarios_by_id() -> dict[str, Scenario]:
    """Every scenario by id: the shipped ones and those made from calls."""
    return {s.id: s for s in all_scenarios()}


def scenario(scenario_id: str) -> Scenario:
    """The scenario with this id, shipped or made from a call; KeyError if there is none."""
    for s in load_scenarios():
        if s.id == scenario_id:
            return s
    if FROM_CALL_ID.fullmatch(scenario_id or "") and _stored_loader is not None:
        for s in _checked(_stored_loader(scenario_id)):
            if s.id == scenario_id:
                return s
    raise KeyError(scenario_id)


# --- scenarios made from real calls ------------------------------------------------------------
# They live in the CRM (practice_scenarios), not in scenarios.yml. A shell sets where they are read
# at start-up (as bot.outbox.set_replayer), so this module stays without a database: the loader takes
# a scenario id (None: all of them) and returns the stored entries, each in scenarios.yml's schema.
StoredLoader = Callable[[str | None], list[dict[str, Any]]]
_stored_loader: StoredLoader | None = None


def set_stored_loader(loader: StoredLoader | None) -> None:
    global _stored_loader
    _stored_loader = loader


def from_call(raw: dict[str, Any]) -> Scenario:
    """A scenario made from a real call (one entry of scenarios.yml's schema), checked as the shipped
    ones are (``validate``); ScenarioError if it is malformed or fails a check."""
    try:
        s = _scenario(raw)
    except (AttributeError, TypeError, ValueError) as error:
        raise ScenarioError(f"malformed scenario: {error}") from error
    if not s.persona.from_call or not FROM_CALL_ID.fullmatch(s.id):
        raise ScenarioError(f"{s.id or '?'}: a scenario from a call has an id call_<n> and a persona from_call")
    validate([s])
    return s


@lru_cache(maxsize=256)
def _from_call_json(text: str) -> Scenario:
    # Keyed by the content, so a cached scenario is never stale (validating reads the catalogue).
    return from_call(json.loads(text))


def _checked(entries: Iterable[dict[str, Any]]) -> list[Scenario]:
    """The stored entries that still pass the checks (the catalogue may have changed since)."""
    found = []
    for raw in entries:
        try:
            found.append(_from_call_json(json.dumps(raw, sort_keys=True, ensure_ascii=False)))
        except ScenarioError as error:
            logger.warning("a stored scenario no longer passes the checks: %s", error)
    return found


def stored_scenarios() -> tuple[Scenario, ...]:
    """The scenarios made from calls, oldest first (none until a shell sets the loader)."""
    return tuple(_checked(_stored_loader(None))) if _stored_loader is not None else ()


def all_scenarios() -> tuple[Scenario, ...]:
    """The shipped scenarios (easy to hard), then those made from calls."""
    return load_scenarios() + stored_scenarios()


def pick(difficulty: str | None = None, modelled_on: str | None = None) -> Scenario | None:
    """The first shipped scenario (file order) matching the filters; None if none matches."""
    for s in load_scenarios():
        if difficulty is not None and s.difficulty != difficulty:
            continue
        if modelled_on is not None and s.modelled_on != modelled_on:
            continue
        return s
    return None
