"""One source for every label: bot/playbook/labels.yml, served to the widget and review pages
(which hold no label text of their own), and NLU product words that all name catalogue products."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from bot import labels
from bot.demo_data import read_demo_data
from bot.models import DISPOSITION_LABELS, DISPOSITIONS, STAGE_LABELS, STAGES
from bot.playbook import intent_titles
from tests.conftest import ROOT
from tests.test_accounts import browser_login, live_app, web  # noqa: F401 - fixtures used below

WEB = ROOT / "bot" / "web"
LABELS_YML = yaml.safe_load(labels.LABELS_FILE.read_text(encoding="utf-8"))
EMBEDDED = re.compile(r'<script type="application/json" id="labels">(.*?)</script>', re.DOTALL)


# --- labels.yml and its accessor -----------------------------------------------------------

def test_labels_cover_the_contract_codes_in_order():
    assert tuple(LABELS_YML["dispositions"]) == DISPOSITIONS
    assert tuple(LABELS_YML["stages"]) == STAGES
    # bot.models derives its dicts from the file (the actions read them there).
    assert LABELS_YML["dispositions"] == DISPOSITION_LABELS and LABELS_YML["stages"] == STAGE_LABELS
    assert labels.disposition("invalid_number") == "空号/错号"


@pytest.mark.parametrize("key, text", [
    ("next_opening", "换个开场白"),  # was also 换一种开场
    ("next_point", "再讲一个卖点"),  # was also 再讲一个
    ("first_point", "讲一个卖点"),
    ("callback_next_week", "约下周回访"),
    ("log_refused", "记为拒绝"),
    ("confirm_do_not_call", "确认登记勿扰"),
])
def test_button_texts_by_key(key, text):
    assert labels.button(key) == text


def test_an_unknown_button_key_fails_loudly():
    with pytest.raises(KeyError):
        labels.button("no_such_button")


def test_page_labels_name_only_known_keys():
    served = labels.for_pages()
    assert set(served["outcome_bar"]) <= set(DISPOSITIONS)
    assert "do_not_call" not in served["outcome_bar"]  # only after the customer asked (确认登记勿扰)
    assert all(s["button"] in served["buttons"] and s["say"] for s in served["shortcuts"])


# --- (1) what the pages receive is labels.yml ----------------------------------------------

def _embedded(html: str) -> dict:
    match = EMBEDDED.search(html)
    assert match, "the page carries no labels"
    return json.loads(match.group(1))


def _assert_is_labels_yml(served: dict) -> None:
    assert served["dispositions"] == LABELS_YML["dispositions"]
    assert served["disposition_order"] == list(LABELS_YML["dispositions"])
    assert served["stages"] == LABELS_YML["stages"]
    assert served["stage_order"] == list(LABELS_YML["stages"])
    assert served["buttons"] == LABELS_YML["buttons"]
    assert served["unlogged"] == LABELS_YML["unlogged"]
    assert served["outcome_bar"] == LABELS_YML["outcome_bar"]
    assert served["shortcuts"] == LABELS_YML["shortcuts"]
    assert served["intents"] == intent_titles()


@pytest.mark.parametrize("login, password, page", [
    ("agent01", "demo-agent", "widget"),
    ("super01", "demo-super", "review"),
])
def test_the_pages_receive_labels_yml(web, login, password, page):  # noqa: F811 - pytest fixture
    browser, reply = browser_login(web, login, password)
    assert reply.status_code in (302, 303)
    html = browser.get(f"{web}/", timeout=30).text
    assert ("outcome-bar" in html) is (page == "widget")
    _assert_is_labels_yml(_embedded(html))


def test_the_labels_route_serves_labels_yml(web):  # noqa: F811 - pytest fixture
    import requests

    reply = requests.get(f"{web}/api/labels", timeout=10)
    assert reply.status_code == 200
    _assert_is_labels_yml(reply.json())


# --- (2) no page file has a label of its own -------------------------------------------------

JS_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"|\'((?:[^\'\\\n]|\\.)*)\'')
HTML_TEXT = re.compile(r">([^<>{}]+)<")
HTML_ATTRIBUTE = re.compile(r'=\s*"([^"{}]*)"')


def _label_texts() -> set[str]:
    """Every label, and each alternative of a label like 空号/错号 (the old widget said 空号)."""
    texts = set(LABELS_YML["dispositions"].values()) | set(LABELS_YML["stages"].values())
    texts |= set(LABELS_YML["buttons"].values()) | {LABELS_YML["unlogged"]}
    return texts | {part for text in texts for part in text.split("/")}


def _literals(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    if path.suffix == ".js":
        return [a or b for a, b in JS_STRING.findall(source)]
    return [t.strip() for t in HTML_TEXT.findall(source)] + HTML_ATTRIBUTE.findall(source)


@pytest.mark.parametrize("path", sorted((WEB / "static").glob("*.js")) + sorted((WEB / "templates").glob("*.html")),
                         ids=lambda p: p.name)
def test_no_page_file_defines_a_label(path):
    found = sorted({text for text in _literals(path) if text in _label_texts()})
    assert found == [], f"{path.name} hard-codes labels {found}: take them from the served labels"


def test_the_check_would_catch_a_hard_coded_label(tmp_path):
    js = tmp_path / "x.js"
    js.write_text('var x = { invalid_number: "空号" }; el("span", "badge", "勿扰");', encoding="utf-8")
    html = tmp_path / "x.html"
    html.write_text('<option value="deal">成交</option>', encoding="utf-8")
    assert set(_literals(js)) & _label_texts() == {"空号", "勿扰"}
    assert set(_literals(html)) & _label_texts() == {"成交"}


# --- (3) NLU product words name catalogue products -------------------------------------------

ANNOTATION = re.compile(r"\[([^\]]+)\](?:\((\w+)(?::([^)]+))?\)|(\{[^}]*\}))")


def _catalogue() -> tuple[set[str], dict[str, str]]:
    """Product names, and every name or alias -> its product's name."""
    products = read_demo_data()["products"]
    names = {p["name"] for p in products}
    known = {text: p["name"] for p in products for text in [p["name"], *(p.get("aliases") or [])]}
    return names, known


def _nlu_items() -> list[dict]:
    items = []
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        items += (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []
    return items


def _examples(item: dict) -> list[str]:
    return [line.strip()[2:].strip() for line in (item.get("examples") or "").splitlines()
            if line.strip().startswith("- ")]


def _product_annotations(items: list[dict]) -> list[tuple[str, str | None]]:
    """(text, explicit value or None) of every ``product`` entity annotation."""
    found = []
    for item in items:
        for example in _examples(item):
            for text, entity, short_value, spec in ANNOTATION.findall(example):
                if spec:
                    spec = json.loads(spec)
                    entity, value = spec.get("entity"), spec.get("value")
                else:
                    value = short_value or None
                if entity == "product":
                    found.append((text, value))
    return found


def _synonyms(items: list[dict]) -> dict[str, str]:
    return {example: str(item["synonym"]) for item in items if "synonym" in item for example in _examples(item)}


def test_every_nlu_product_word_resolves_to_a_catalogue_product():
    items = _nlu_items()
    names, known = _catalogue()
    synonyms = _synonyms(items)
    problems = []
    for text, value in _product_annotations(items):
        resolved = value or synonyms.get(text, text)
        if resolved not in names:
            problems.append(f"[{text}] -> {resolved}: not a catalogue product")
        elif text in known and known[text] != resolved:
            problems.append(f"[{text}] -> {resolved}, but the catalogue says {known[text]}")
    # Synonyms: the outcome ones map to disposition codes, every other one is a product's.
    for example, value in synonyms.items():
        if value in DISPOSITIONS:
            continue
        if value not in names:
            problems.append(f"synonym {example} -> {value}: not a catalogue product")
        elif example in known and known[example] != value:
            problems.append(f"synonym {example} -> {value}, but the catalogue says {known[example]}")
    for item in items:
        if item.get("lookup") == "product":
            problems += [f"lookup product: {t}" for t in _examples(item) if synonyms.get(t, t) not in names
                         and t not in known]
    assert _product_annotations(items), "no product annotations found: the parser is broken"
    assert problems == []


def _nlu_product_names() -> set[str]:
    items = _nlu_items()
    synonyms = _synonyms(items)
    named = {value or synonyms.get(text, text) for text, value in _product_annotations(items)}
    return named | {v for v in synonyms.values() if v not in DISPOSITIONS}


@pytest.mark.parametrize("name", sorted(_catalogue()[0]))
def test_every_catalogue_product_appears_in_the_nlu_data(name):
    assert name in _nlu_product_names()


def test_every_rehearsal_code_has_exactly_one_label():
    from bot.rehearsal.roleplay import ABANDONED, MOODS, OUTCOMES
    from bot.rehearsal.scenarios import DIFFICULTIES
    from bot.rehearsal.scoring import LINE_FUNCTIONS

    assert list(labels.rehearsal("rehearsal_outcomes")) == [*OUTCOMES, ABANDONED]
    assert list(labels.rehearsal("moods")) == list(MOODS)
    assert list(labels.rehearsal("difficulties")) == list(DIFFICULTIES)
    assert list(labels.rehearsal("line_functions")) == list(LINE_FUNCTIONS)
