"""Practice from real calls (issue 20, point 6): a supervisor turns a reviewed live conversation into
a rehearsal scenario.

The customer's words the agent relayed in the call (客户说：…, read by the NLU as an objection; the
user messages of Rasa's tracker store) become the persona's objections: one move per distinct
objection intent, in the order the customer raised them, saying the customer's own words (relay
prefix removed, numbers and real names hidden), topped up with the shipped scenarios' lines for that
objection. The persona is fictional: a name from a fixed list, and from the real client only the
gender, the age rounded to five years, the risk tolerance (the suitability rule needs it) and the
kind of contact source. The scenario is one entry of scenarios.yml's schema, checked by the same
validation as the shipped ones (``scenarios.from_call``), kept in the CRM (``practice_scenarios``)
and found by id like any scenario once a shell has set ``stored`` as the scenarios' loader.

Chinese text (names, generic lines, refusals) lives in ``from_calls.yml`` beside this module.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import access, labels
from bot.auth import Identity
from bot.complaints import customer_words
from bot.crm import catalogue, conversation_calls, conversation_owners, get_client, get_user
from bot.db import sessions
from bot.logs import mask
from bot.models import Call, Client, PracticeScenario, Rehearsal, User
from bot.playbook import playbook
from bot.profile import ProductInfo, Profile, rank_openings, recommend_products
from bot.rehearsal.runner import SLOT as REHEARSAL_SLOT
from bot.rehearsal.scenarios import (
    EXTRA_MOVES,
    REAL_CALL,
    Persona,
    Scenario,
    from_call,
    live_product,
    live_profile,
    load_scenarios,
    product,
    suitability_problem,
)
from bot.settings import get_settings
from bot.transcripts import client_lookups, slot_values, transcript

TEXT_FILE = Path(__file__).resolve().parent / "from_calls.yml"
ID_PREFIX = "call_"
DIFFICULTY = "medium"
PATIENCE = 2
MAX_SAYS = 3  # the customer's own lines kept per move
MIN_SAYS = 2  # fewer own lines are topped up with the shipped scenarios' lines for the objection
AGE_STEP = 5
# A rehearsal's chat (the picker's payload, 结束练习) is no live call.
REHEARSAL_INTENTS = ("start_training", "stop_training")
# Where the call state keeps the product under discussion (actions/slots.py).
PRODUCT_SLOTS = ("current_product", "products_pitched")
# A long run of digits (or of a masked number's digits and stars): a phone, account or id number.
LONG_NUMBER = re.compile(r"[0-9０-９*＊]{5,}")
CJK = re.compile(r"[\u4e00-\u9fff]")


@lru_cache(maxsize=1)
def text() -> dict[str, Any]:
    """from_calls.yml, checked for the keys this module reads."""
    raw = yaml.safe_load(TEXT_FILE.read_text(encoding="utf-8")) or {}
    needed = ("names", "honorifics", "default_age", "title", "objection_separator", "occupation", "temperament",
              "needs", "redacted", "number", "name_suffixes", "opening_reactions", "opening_reaction",
              "hang_up_lines", "agree_lines", "made", "refusals")
    missing = [key for key in needed if key not in raw]
    if missing or set(raw["names"]) != set(raw["honorifics"]):
        raise ValueError(f"{TEXT_FILE.name}: missing {missing} or names and honorifics by different genders")
    return raw


def _refusal(key: str, **values: Any) -> str:
    return text()["refusals"][key].format(**values)


# --- what the customer said ----------------------------------------------------------------------

@dataclass(frozen=True)
class Relayed:
    """A customer line the agent relayed: its objection intent and the customer's words."""

    intent: str
    words: str


def move_intents() -> set[str]:
    """The intents a scenario move may have (the playbook's objections and EXTRA_MOVES)."""
    return set(playbook().objections) | set(EXTRA_MOVES)


def relayed_objections(turns: Iterable[dict[str, Any]]) -> list[Relayed]:
    """The user messages the NLU read as a customer objection, in order, with the relay prefix
    (客户说 …) removed; button payloads and empty words are left out."""
    intents = move_intents()
    found = []
    for turn in turns:
        said = str(turn.get("text") or "")
        if turn.get("speaker") != "user" or turn.get("intent") not in intents or said.startswith("/"):
            continue
        words = customer_words(said)
        if CJK.search(words):
            found.append(Relayed(str(turn["intent"]), words))
    return found


@dataclass(frozen=True)
class Privacy:
    """What must not reach a scenario from the call: the client's name (replaced by the fictional
    one), their phone, and other personal words (company, referrer, staff and other clients' names)."""

    real_name: str
    fictional_name: str
    phone: str = ""
    words: tuple[str, ...] = ()


def scrub(words: str, privacy: Privacy) -> str:
    """The customer's words with numbers and real names hidden: mobile numbers masked as everywhere
    (bot.logs), then every long number (and the client's phone tail) replaced; the client's name and
    the surname in 张先生/张总 … by the fictional ones; other personal words by 某某."""
    t = text()
    said = mask(words)
    said = LONG_NUMBER.sub(t["number"], said)
    if len(privacy.phone) >= 4:
        said = said.replace(privacy.phone[-4:], t["number"])
    if privacy.real_name:
        said = said.replace(privacy.real_name, privacy.fictional_name)
        suffixes = "|".join(map(re.escape, t["name_suffixes"]))
        said = re.sub(f"{re.escape(privacy.real_name[0])}(?={suffixes})", privacy.fictional_name[0], said)
    for word in sorted({w for w in privacy.words if w and w != privacy.real_name}, key=len, reverse=True):
        said = said.replace(word, t["redacted"])
    return said


# --- the fictional persona -------------------------------------------------------------------------

def fictional_name(gender: str | None, number: int, taken: Iterable[str], real_name: str = "") -> tuple[str, str]:
    """(name, gender) for scenario ``number``: the list of the client's gender taken in turn, skipping
    names in ``taken`` (real clients) and the client's surname; an unknown gender takes the first list."""
    names: dict[str, list[str]] = text()["names"]
    gender = gender if gender in names else next(iter(names))
    taken = set(taken)
    pool = [n for n in names[gender] if n not in taken and not (real_name and n[0] == real_name[0])]
    if not pool:
        raise ValueError(_refusal("invalid", problem="no fictional name left"))
    return pool[(number - 1) % len(pool)], gender


def rounded_age(age: int | None) -> int:
    return AGE_STEP * round(age / AGE_STEP) if age else int(text()["default_age"])


def persona(profile: Profile, number: int, product_name: str, taken: Iterable[str] = ()) -> dict[str, Any]:
    """The fictional customer of scenario ``number`` after ``profile`` (scenarios.yml's persona)."""
    t = text()
    name, gender = fictional_name(profile.gender, number, taken, profile.name)
    return {
        "name": name, "title": name[0] + t["honorifics"][gender], "modelled_on": "", "gender": gender,
        "age": rounded_age(profile.age), "occupation": t["occupation"], "temperament": t["temperament"],
        "needs": t["needs"].format(product=product_name), "risk_tolerance": profile.risk_tolerance,
        "contact_source": profile.contact_source, "contact_detail": "", "holdings": [], "referrer": None,
        "company": None, "alarmed_by_exaggeration": False, "from_call": True,
    }


def _persona_object(raw: dict[str, Any]) -> Persona:
    return Persona(**{**raw, "holdings": tuple(raw["holdings"])})


def _first_suitable(candidates: Sequence[str], profile: Profile) -> tuple[str, dict[str, Any]]:
    """The first catalogue product of ``candidates`` the fictional customer may be offered."""
    stand_in = _persona_object(persona(profile, 1, ""))  # the same tolerance as every persona of the client
    for code in dict.fromkeys(candidates):
        try:
            entry = product(code)
        except KeyError:
            continue  # not in the shipped catalogue: scenarios sell only catalogue products
        if suitability_problem(stand_in, entry) is None:
            return code, entry
    raise ValueError(_refusal("no_product"))


# --- the scenario ---------------------------------------------------------------------------------

def _says(intent: str, own: list[str]) -> list[str]:
    said = list(dict.fromkeys(own))[:MAX_SAYS]
    shipped = [line for s in load_scenarios() for move in s.moves if move.objection == intent for line in move.says]
    for line in shipped:
        if len(said) >= MIN_SAYS:
            break
        if line not in said:
            said.append(line)
    return said


def _success(last: str) -> str:
    if last == "objection_do_not_call":
        return "polite_end"
    return "callback_agreed" if last in playbook().callback_objections else "deal_step"


def _like(first: str, code: str) -> list[Scenario]:
    """Shipped scenarios opening with the same objection, the same product first."""
    return sorted((s for s in load_scenarios() if s.moves and s.moves[0].objection == first),
                  key=lambda s: s.product != code)


def build(relayed: Sequence[Relayed], profile: Profile, products: Sequence[str], *, number: int,
          taken_names: Iterable[str] = (), private_words: Iterable[str] = ()) -> dict[str, Any]:
    """Scenario ``call_<number>`` (one entry of scenarios.yml's schema) from the relayed customer
    lines, the client's profile and the products in order of preference (the one discussed in the call
    first), validated as the shipped scenarios are. ValueError (Chinese) if it cannot be made."""
    t = text()
    objections = list(dict.fromkeys(r.intent for r in relayed))
    if not objections:
        raise ValueError(_refusal("no_objection"))
    code, entry = _first_suitable(products, profile)
    who = persona(profile, number, entry["name"], taken_names)
    privacy = Privacy(profile.name, who["name"], profile.phone or "", tuple(private_words))
    scrubbed = [(r.intent, scrub(r.words, privacy)) for r in relayed]
    moves = [{"objection": intent, "says": _says(intent, [w for i, w in scrubbed if i == intent and CJK.search(w)])}
             for intent in objections]
    success = _success(objections[-1])
    like = _like(objections[0], code)
    override = t["opening_reactions"].get(objections[0])
    if override or not like:
        opening, raises = override or t["opening_reaction"], bool(override)
    else:
        opening, raises = like[0].opening_reaction, like[0].opening_raises
    agreeing = next((s for s in like if s.success == success and s.product == code), None)
    titles = labels.intent_titles()
    source = labels.rehearsal("scenario_sources")[REAL_CALL]
    styles = rank_openings(live_profile(_persona_object(who)), live_product(entry))
    raw = {
        "id": f"{ID_PREFIX}{number}",
        "title": t["title"].format(source=source, objections=t["objection_separator"].join(
            titles.get(intent, intent) for intent in objections)),
        "difficulty": DIFFICULTY,
        # The live bot's best style for this persona and product: the load check (opening_problem) holds.
        "opening_style": styles[0][0] if styles else None,
        "persona": who,
        "product": code,
        "opening_reaction": opening,
        "opening_raises": raises,
        "moves": moves,
        "patience": PATIENCE,
        "hang_up_lines": list(like[0].hang_up_lines) if like else list(t["hang_up_lines"]),
        "agree_lines": list(agreeing.agree_lines) if agreeing else list(t["agree_lines"][success]),
        "success": success,
    }
    try:
        from_call(raw)
    except ValueError as error:
        raise ValueError(_refusal("invalid", problem=error)) from error
    return raw


# --- from a conversation in the CRM and the tracker store ------------------------------------------

@dataclass(frozen=True)
class Made:
    scenario: Scenario
    created: bool  # False: the call had been made into this scenario before

    def json(self) -> dict[str, Any]:
        s = self.scenario
        return {"id": s.id, "title": s.title, "source": s.source, "created": self.created,
                "message": text()["made"].format(title=s.title, id=s.id)}


def _is_rehearsal(session: Session, conversation_id: str, turns: list[dict[str, Any]]) -> bool:
    if session.scalars(select(Rehearsal.id).where(Rehearsal.conversation_id == conversation_id)).first():
        return True
    if any(t.get("speaker") == "user" and (t.get("intent") in REHEARSAL_INTENTS
                                          or str(t.get("text") or "").startswith("/start_training"))
           for t in turns):
        return True
    if any(value for _slot, value in slot_values(conversation_id, (REHEARSAL_SLOT,))):
        return True
    # A trainee's conversation is a rehearsal whatever it holds: trainees never call real clients.
    login = conversation_owners(session, [conversation_id]).get(conversation_id)
    owner = get_user(session, login) if login else None
    return owner is not None and owner.role == "trainee"


def _clients(session: Session, conversation_id: str, calls: list[Call]) -> list[Client]:
    """The conversation's clients: its call rows' first, then those only looked up."""
    found = {c.client_id: c.client for c in calls if c.client is not None}
    for lookup in client_lookups(conversation_id=conversation_id):
        if lookup.client_id not in found:
            client = get_client(session, lookup.client_id)
            if client is not None:
                found[client.id] = client
    return list(found.values())


def _discussed(conversation_id: str, calls: list[Call]) -> list[str]:
    """Product codes discussed in the call, latest first: the call rows' (a deal's product), then the
    call state's current and pitched products."""
    codes = [code for call in reversed(calls) for code in reversed(call.products or [])]
    current, pitched = [], []
    for slot, value in slot_values(conversation_id, PRODUCT_SLOTS):
        if slot == "current_product" and isinstance(value, str):
            current.append(value)
        elif slot == "products_pitched" and isinstance(value, list):
            pitched = [str(v) for v in value]
    return codes + current[::-1] + pitched[::-1]


def _existing(session: Session, conversation_id: str) -> PracticeScenario | None:
    return session.scalars(select(PracticeScenario).where(PracticeScenario.conversation_id == conversation_id)).first()


def make(session: Session, identity: Identity | None, conversation_id: str) -> Made:
    """Turn the live conversation ``conversation_id`` into a stored scenario (the one made before if
    there is one), for a supervisor who may read it. Refusals: PermissionError (not a supervisor, may
    not read it), LookupError (no such conversation), ValueError (a rehearsal, no client, no relayed
    objection, no suitable product); each message is Chinese, for the supervisor."""
    if not access.is_supervisor(identity):
        raise PermissionError(_refusal("not_supervisor"))
    if not access.may_read_conversation(session, identity, conversation_id):
        raise PermissionError(_refusal("not_readable"))
    user = get_user(session, identity.login)
    if user is None:
        raise PermissionError(_refusal("not_supervisor"))
    existing = _existing(session, conversation_id)
    if existing is not None:
        return Made(from_call(existing.data), created=False)
    turns = transcript(conversation_id)
    calls = conversation_calls(session, conversation_id)
    if not turns and not calls:
        raise LookupError(_refusal("no_conversation"))
    if _is_rehearsal(session, conversation_id, turns):
        raise ValueError(_refusal("rehearsal"))
    clients = _clients(session, conversation_id, calls)
    if not clients:
        raise ValueError(_refusal("no_client"))
    relayed = relayed_objections(turns)
    if not relayed:
        raise ValueError(_refusal("no_objection"))
    profile = Profile.from_row(clients[0])
    shelf = tuple(ProductInfo.from_row(p) for p in catalogue(session))
    best = [p.code for p, _why in recommend_products(profile, shelf)]
    every_name = [n for names in text()["names"].values() for n in names]
    taken = set(session.scalars(select(Client.name).where(Client.name.in_(every_name))))
    private = [profile.company, profile.referrer, profile.contact_detail, *(c.name for c in clients[1:]),
               *session.scalars(select(User.name))]
    row = PracticeScenario(scenario_id=f"pending_{uuid.uuid4().hex}", conversation_id=conversation_id,
                           created_by=user.id, data={})
    try:
        with session.begin_nested():  # two clicks at once: the second finds the first's scenario
            session.add(row)
    except IntegrityError:
        return Made(from_call(_existing(session, conversation_id).data), created=False)
    raw = build(relayed, profile, [*_discussed(conversation_id, calls), *best], number=row.id,
                taken_names=taken, private_words=[w for w in private if w])
    row.scenario_id, row.data = raw["id"], raw
    session.flush()
    return Made(from_call(raw), created=True)


# --- the scenarios' loader (scenarios.set_stored_loader) -----------------------------------------

_loaded: dict[tuple[str, str], dict[str, Any]] = {}  # (CRM url, scenario id) -> data; rows never change


def stored(scenario_id: str | None) -> list[dict[str, Any]]:
    """The stored scenarios of the configured CRM, oldest first: the one with ``scenario_id``, or
    every one (None)."""
    url = get_settings().db_url
    if scenario_id is not None and (url, scenario_id) in _loaded:
        return [_loaded[(url, scenario_id)]]
    query = select(PracticeScenario.scenario_id, PracticeScenario.data).order_by(PracticeScenario.id)
    if scenario_id is not None:
        query = query.where(PracticeScenario.scenario_id == scenario_id)
    with sessions(url).begin() as session:
        rows = session.execute(query).all()
    for found_id, data in rows:
        _loaded[(url, found_id)] = data
    return [data for _found_id, data in rows]

