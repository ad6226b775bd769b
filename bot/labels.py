"""The one source of the labels people read: dispositions, stages, intent titles, button texts.

The text lives in ``bot/playbook/labels.yml`` (and the intent titles in ``intents.yml``);
models, actions, the JSON API and both pages read it from here, so a label changed once
changes everywhere (the widget and the review pages receive ``for_pages()`` as JSON).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.playbook import intent_titles as titles
from bot.playbook import playbook

LABELS_FILE = Path(__file__).resolve().parent / "playbook" / "labels.yml"


class LabelsError(ValueError):
    """labels.yml is malformed (raised when it is first read, not when a page is drawn)."""


def _text_map(raw: Any, section: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not raw:
        raise LabelsError(f"labels.yml: {section} must be a non-empty mapping")
    for key, value in raw.items():
        if not isinstance(value, str) or not value.strip():
            raise LabelsError(f"labels.yml: {section}.{key} needs a text")
    return {str(k): v for k, v in raw.items()}


REHEARSAL_SECTIONS = ("difficulties", "moods", "rehearsal_outcomes", "line_functions", "rehearsal_buttons",
                      "scenario_sources")
COMPLAINT_SECTIONS = ("complaint_categories", "complaint_statuses")
DISPUTE_SECTIONS = ("dispute_statuses", "dispute_buttons")
# The change log (issue 21): change kinds, the fields a change names, why a client was unassigned.
CHANGE_SECTIONS = ("change_kinds", "change_fields", "change_reasons")
# The agent's daily call list (issue 21): the kinds' badges and the side panel's texts.
CALL_LIST_SECTIONS = ("call_list_kinds", "call_list_panel")
# The supervisor's 账号 and 产品 tabs (issue 21): roles, product categories (bot.models order).
TEAM_SECTIONS = ("roles", "product_categories")
# The floor's candidate training lines (issue 22): their statuses and where they came from.
FLOOR_SECTIONS = ("floor_statuses", "floor_sources")


@lru_cache(maxsize=1)
def _labels() -> dict[str, Any]:
    raw = yaml.safe_load(LABELS_FILE.read_text(encoding="utf-8")) or {}
    data = {
        "dispositions": _text_map(raw.get("dispositions"), "dispositions"),
        "stages": _text_map(raw.get("stages"), "stages"),
        "buttons": _text_map(raw.get("buttons"), "buttons"),
        "unlogged": raw.get("unlogged"),
        "outcome_bar": list(raw.get("outcome_bar") or []),
        "shortcuts": [dict(s) for s in raw.get("shortcuts") or []],
        **{section: _text_map(raw.get(section), section)
           for section in REHEARSAL_SECTIONS + COMPLAINT_SECTIONS + DISPUTE_SECTIONS + CHANGE_SECTIONS
           + CALL_LIST_SECTIONS + TEAM_SECTIONS + FLOOR_SECTIONS},
    }
    if not isinstance(data["unlogged"], str) or not data["unlogged"]:
        raise LabelsError("labels.yml: unlogged needs a text")
    unknown = [code for code in data["outcome_bar"] if code not in data["dispositions"]]
    unknown += [s.get("button") for s in data["shortcuts"] if s.get("button") not in data["buttons"]
                or not s.get("say")]
    if unknown:
        raise LabelsError(f"labels.yml: outcome_bar/shortcuts name unknown keys: {unknown}")
    return data


def rehearsal(section: str) -> dict[str, str]:
    """A rehearsal label map (one of REHEARSAL_SECTIONS): code -> label, in display order."""
    return dict(_labels()[section])


def dispute(section: str) -> dict[str, str]:
    """A score card dispute label map (one of DISPUTE_SECTIONS): code -> label, in display order."""
    return dict(_labels()[section])


def change_log(section: str) -> dict[str, str]:
    """A change log label map (one of CHANGE_SECTIONS): code -> label, in display order."""
    return dict(_labels()[section])


def call_list_kinds() -> dict[str, str]:
    """Call list kind code -> badge, in the list's order (bot/book/call_list.py KINDS)."""
    return dict(_labels()["call_list_kinds"])


def roles() -> dict[str, str]:
    """Role code -> label (坐席, 学员, 主管)."""
    return dict(_labels()["roles"])


def product_categories() -> dict[str, str]:
    """Product category code (bot.models.CATEGORIES) -> label, in display order."""
    return dict(_labels()["product_categories"])


def complaint_categories() -> dict[str, str]:
    """Complaint category code -> label, in display order."""
    return dict(_labels()["complaint_categories"])


def complaint_statuses() -> dict[str, str]:
    return dict(_labels()["complaint_statuses"])


def dispositions() -> dict[str, str]:
    """Disposition code -> label, in display order."""
    return dict(_labels()["dispositions"])


def disposition(code: str) -> str:
    return _labels()["dispositions"][code]


def stages() -> dict[str, str]:
    """Stage code -> label, funnel order."""
    return dict(_labels()["stages"])


def stage(code: str) -> str:
    return _labels()["stages"][code]


def unlogged() -> str:
    """What a conversation about a client without a logged disposition is called."""
    return _labels()["unlogged"]


def buttons() -> dict[str, str]:
    return dict(_labels()["buttons"])


def button(key: str) -> str:
    """The text of a quick-reply button; an unknown key is a programming error (KeyError)."""
    try:
        return _labels()["buttons"][key]
    except KeyError:
        raise KeyError(f"no button {key!r} in {LABELS_FILE.name}") from None


def intent_titles() -> dict[str, str]:
    return titles()


def learning_page() -> dict[str, str]:
    """The 话术效果 tab's texts: messages.yml ``learning_texts`` whose keys start with ``page_`` (the
    page's sentences live with the learner's other texts, and reach the page with the labels)."""
    return {key: text for key, text in playbook().messages.learning_texts.items() if key.startswith("page_")}


def for_pages() -> dict[str, Any]:
    """Everything the widget and the review pages show as labels (served as JSON)."""
    data = _labels()
    return {
        "dispositions": dict(data["dispositions"]),
        "disposition_order": list(data["dispositions"]),
        "stages": dict(data["stages"]),
        "stage_order": list(data["stages"]),
        "unlogged": data["unlogged"],
        "buttons": dict(data["buttons"]),
        "outcome_bar": list(data["outcome_bar"]),
        "shortcuts": [dict(s) for s in data["shortcuts"]],
        "intents": dict(intent_titles()),
        # The page's JSON sorts keys: the order of the floor's statuses travels apart.
        "floor_status_order": list(data["floor_statuses"]),
        "learning_page": learning_page(),
        **{section: dict(data[section])
           for section in REHEARSAL_SECTIONS + COMPLAINT_SECTIONS + DISPUTE_SECTIONS + CHANGE_SECTIONS
           + CALL_LIST_SECTIONS + TEAM_SECTIONS + FLOOR_SECTIONS},
    }
