"""Rehearsal scenarios (issue 10, point 1): the data file loads, covers every contract objection
from easy to hard, keeps its fictional customers apart from the real CRM, never pitches a wealth
product above a persona's tolerance, and a malformed file fails loudly at load."""

from __future__ import annotations

import copy
import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from bot.demo_data import read_demo_data
from bot.playbook import OPENING_STYLES
from bot.rehearsal.scenarios import (
    DIFFICULTIES,
    SCENARIOS_FILE,
    SUCCESS_KINDS,
    Move,
    Persona,
    Scenario,
    ScenarioError,
    load_scenarios,
    pick,
    scenario,
)

# Contract section 3: the customer moves a rehearsal must be able to practise.
CONTRACT_OBJECTIONS = (
    "objection_busy", "objection_not_interested", "objection_hate_sales", "objection_wrong_number",
    "objection_think_it_over", "objection_has_provider", "objection_price", "objection_trust",
    "objection_send_materials", "objection_no_money", "objection_risk", "customer_asks_purpose",
    "objection_referral_doubt", "objection_already_customer", "objection_do_not_call",
)
CJK = re.compile(r"[\u4e00-\u9fff]")
# Customers may be curt, never abusive.
ABUSE = ("滚", "傻", "妈的", "神经病", "有病", "去死", "蠢", "废物", "混蛋", "王八")

SCENARIOS = load_scenarios()
DEMO = read_demo_data()
CLIENTS = {c["name"]: c for c in DEMO["clients"]}
PRODUCTS = {p["code"]: p for p in DEMO["products"]}


def _all_lines(s: Scenario) -> list[str]:
    return [s.opening_reaction, *s.hang_up_lines, *s.agree_lines, *(line for m in s.moves for line in m.says)]


def test_the_shipped_file_loads_into_frozen_dataclasses():
    assert isinstance(SCENARIOS, tuple)
    assert load_scenarios() is SCENARIOS  # cached
    for s in SCENARIOS:
        assert isinstance(s, Scenario) and isinstance(s.persona, Persona)
        assert all(isinstance(m, Move) for m in s.moves)
        assert s.id.isascii() and s.title and CJK.search(s.title)
        assert s.success in SUCCESS_KINDS
        assert s.opening_style in OPENING_STYLES
        assert s.patience >= 1 and s.hang_up_lines and s.agree_lines and s.opening_reaction
    with pytest.raises(dataclasses.FrozenInstanceError):
        SCENARIOS[0].id = "changed"
    with pytest.raises(dataclasses.FrozenInstanceError):
        SCENARIOS[0].persona.name = "changed"


def test_at_least_eight_scenarios_from_easy_to_hard():
    assert len(SCENARIOS) >= 8
    assert len({s.id for s in SCENARIOS}) == len(SCENARIOS)
    difficulties = [s.difficulty for s in SCENARIOS]
    assert set(difficulties) == set(DIFFICULTIES)
    assert difficulties == sorted(difficulties, key=DIFFICULTIES.index), "easy first, hard last"
    # Harder customers raise more objections or have less patience.
    easy = [s for s in SCENARIOS if s.difficulty == "easy"]
    hard = [s for s in SCENARIOS if s.difficulty == "hard"]
    assert min(len(s.moves) for s in hard) >= max(len(s.moves) for s in easy)
    assert max(s.patience for s in hard) <= min(s.patience for s in easy)


def test_every_contract_objection_is_rehearsed_at_least_once():
    covered = {m.objection for s in SCENARIOS for m in s.moves}
    missing = set(CONTRACT_OBJECTIONS) - covered
    assert not missing, missing


def test_personas_are_fictional_and_kept_apart_from_the_real_crm():
    real_names = set(CLIENTS) | {u["name"] for u in DEMO["users"]}
    real_surnames = {name[0] for name in CLIENTS}
    real_companies = {c["company"] for c in CLIENTS.values() if c.get("company")}
    for s in SCENARIOS:
        p = s.persona
        assert p.name not in real_names, s.id
        assert p.name[0] not in real_surnames, f"{s.id}: {p.name} shares a surname with a real client"
        assert not any(name in p.title for name in real_names), s.id
        assert p.referrer is None or p.referrer not in real_names, s.id
        assert p.company is None or p.company not in real_companies, s.id
        assert not any(name in line for line in _all_lines(s) for name in CLIENTS), s.id
    # Together the personas follow all eight demo client profiles.
    assert {s.modelled_on for s in SCENARIOS} == set(CLIENTS)


def test_personas_are_consistent_with_the_profile_they_are_modelled_on():
    for s in SCENARIOS:
        p, profile = s.persona, CLIENTS[s.modelled_on]
        assert p.gender == profile["gender"], s.id
        assert abs(p.age - profile["age"]) <= 5, s.id
        assert p.risk_tolerance == profile.get("risk_tolerance"), s.id
        assert p.contact_source == profile.get("contact_source"), s.id
        assert p.temperament and p.needs and p.occupation, s.id
        assert set(p.holdings) <= set(PRODUCTS) and s.product not in p.holdings, s.id


def test_products_exist_and_suit_the_persona():
    for s in SCENARIOS:
        product = PRODUCTS[s.product]
        if product["category"] == "wealth":
            tolerance = s.persona.risk_tolerance
            assert tolerance, f"{s.id}: wealth product for a persona never assessed"
            assert int(product["risk_level"][1]) <= int(tolerance[1]), s.id
    # The suitability rule is exercised, not vacuous: at least one wealth scenario ships.
    assert any(PRODUCTS[s.product]["category"] == "wealth" for s in SCENARIOS)


def test_every_move_has_lines():
    for s in SCENARIOS:
        assert s.moves, s.id
        for move in s.moves:
            assert 2 <= len(move.says) <= 3, (s.id, move.objection)
            assert all(CJK.search(line) for line in move.says), (s.id, move.objection)
        for line in _all_lines(s):
            assert CJK.search(line), (s.id, line)
            assert not any(word in line for word in ABUSE), (s.id, line)


def test_seed_replies_open_the_scenarios():
    reactions = " ".join(s.opening_reaction for s in SCENARIOS)
    for seed_reply in ("推销产品，专搞欺骗", "我怎么没有听他讲起呢", "这没什么", "还好"):
        assert seed_reply in reactions


def test_scenario_by_id_and_deterministic_pick():
    first = SCENARIOS[0]
    assert scenario(first.id) is first
    with pytest.raises(KeyError):
        scenario("no_such_scenario")
    assert pick() is first
    for difficulty in DIFFICULTIES:
        chosen = pick(difficulty)
        assert chosen is next(s for s in SCENARIOS if s.difficulty == difficulty)
        assert pick(difficulty) is chosen
    for name in CLIENTS:
        chosen = pick(modelled_on=name)
        assert chosen is next(s for s in SCENARIOS if s.modelled_on == name)
    zhang_hard = pick("hard", "张三")
    assert zhang_hard.difficulty == "hard" and zhang_hard.modelled_on == "张三"
    assert pick("easy", "孙丽") is None


# --- a malformed file fails at load, saying what is wrong -------------------------------------

def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "scenarios.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _shipped() -> dict:
    return copy.deepcopy(yaml.safe_load(SCENARIOS_FILE.read_text(encoding="utf-8")))


def _by_id(data: dict, scenario_id: str) -> dict:
    return next(s for s in data["scenarios"] if s["id"] == scenario_id)


def test_an_unchanged_copy_loads(tmp_path):
    loaded = load_scenarios(_write(tmp_path, _shipped()))
    assert [s.id for s in loaded] == [s.id for s in SCENARIOS]


def test_unknown_objection_intent_is_rejected(tmp_path):
    data = _shipped()
    data["scenarios"][0]["moves"][0]["objection"] = "objection_weather"
    with pytest.raises(ScenarioError, match="unknown objection intent 'objection_weather'"):
        load_scenarios(_write(tmp_path, data))


def _break_product(data):
    data["scenarios"][0]["product"] = "GOLD_BARS"


def _wealth_above_tolerance(data):
    _by_id(data, "official_wealth_risk")["product"] = "FUND_SIP"  # R3 for a C2 persona


def _wealth_without_assessment(data):
    _by_id(data, "card_lover_platinum")["product"] = "POCKET_WEALTH"  # R1, persona never assessed


def _duplicate_id(data):
    data["scenarios"][1]["id"] = data["scenarios"][0]["id"]


def _empty_says(data):
    data["scenarios"][0]["moves"][0]["says"] = []


def _real_client_name(data):
    data["scenarios"][0]["persona"]["name"] = "王华"


def _tolerance_unlike_profile(data):
    _by_id(data, "official_wealth_risk")["persona"]["risk_tolerance"] = "C5"


def _out_of_order(data):
    data["scenarios"].append(copy.deepcopy(data["scenarios"][0]) | {"id": "easy_at_the_end"})


@pytest.mark.parametrize(("breakage", "message"), [
    (_break_product, "unknown product code 'GOLD_BARS'"),
    (_wealth_above_tolerance, "FUND_SIP .R3. is above the persona's tolerance C2"),
    (_wealth_without_assessment, "POCKET_WEALTH .R1. for a persona without a risk assessment"),
    (_duplicate_id, "duplicate id"),
    (_empty_says, "empty says"),
    (_real_client_name, "real demo client"),
    (_tolerance_unlike_profile, "risk_tolerance C5 differs"),
    (_out_of_order, "easy_at_the_end: scenarios go from easy to hard"),
])
def test_malformed_scenarios_are_rejected(tmp_path, breakage, message):
    data = _shipped()
    breakage(data)
    with pytest.raises(ScenarioError, match=message):
        load_scenarios(_write(tmp_path, data))


def test_a_file_without_scenarios_is_rejected(tmp_path):
    path = tmp_path / "scenarios.yml"
    path.write_text("scenarios: []\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="non-empty list"):
        load_scenarios(path)


def test_an_opening_style_the_live_bot_refuses_for_the_persona_is_rejected(tmp_path):
    """The rehearsal never teaches a style the live opening rules would not give this person."""
    data = _shipped()
    _by_id(data, "wary_stranger_deposit")["opening_style"] = "familiar"  # a stranger: nothing is familiar
    path = tmp_path / "scenarios.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ScenarioError, match="opening_style familiar does not fit"):
        load_scenarios(path)
