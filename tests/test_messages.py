"""messages.yml is typed: a missing, misspelt or malformed message fails `salesbot prepare`, never a call."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

import bot.playbook
from bot.playbook import PlaybookError, load_playbook
from bot.playbook.messages import Messages, MessagesError

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = ROOT / "bot" / "playbook" / "messages.yml"


def _raw() -> dict:
    return yaml.safe_load(MESSAGES.read_text(encoding="utf-8"))


def test_the_shipped_messages_load():
    messages = load_playbook().messages
    assert messages.ask_feeling == messages["ask_feeling"] == _raw()["ask_feeling"]
    assert isinstance(messages.decision_phrases, tuple)


@pytest.mark.parametrize(("change", "reason"), [
    (lambda raw: raw.pop("crm_unavailable"), "missing.*crm_unavailable"),
    (lambda raw: raw.update(crm_unavailabel="拼错了"), "not used by the code.*crm_unavailabel"),
    (lambda raw: raw.update(ask_feeling=["列表"]), "ask_feeling must be a str"),
    (lambda raw: raw.update(callback_created="已为{name创建回访"), "callback_created"),
    (lambda raw: raw["contact_sources"].update(referral=3), "non-text"),
])
def test_a_broken_message_is_refused_when_loading(change, reason):
    raw = _raw()
    change(raw)
    with pytest.raises(MessagesError, match=reason):
        Messages.load(raw)


def test_salesbot_prepare_stops_on_a_missing_message_before_writing(tmp_path, monkeypatch, crm_url):
    from bot.provision import prepare

    broken = tmp_path / "playbook"
    shutil.copytree(MESSAGES.parent, broken, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    raw = _raw()
    del raw["deal_ask_product"]
    (broken / "messages.yml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(bot.playbook, "HERE", broken)
    monkeypatch.setenv("SALESBOT_VAR_DIR", str(tmp_path / "var"))
    with pytest.raises(PlaybookError, match="deal_ask_product"):
        prepare(verbose=False)
    assert not (tmp_path / "var" / "jieba").exists()  # stopped before writing anything


def test_every_message_the_code_names_exists():
    """Literal keys (messages["x"], messages.get("x"), messages.x) and the prefixes of keys built at
    run time (messages[f"phone_{...}"]) all name fields of Messages."""
    fields = set(Messages.__dataclass_fields__)
    literal = re.compile(r"messages(?:\[\"(\w+)\"\]|\.get\(\"(\w+)\"|\.(\w+)\b(?!\())")
    prefix = re.compile(r"messages\[f\"(\w+)\{")
    used, prefixes = set(), set()
    for path in [*ROOT.joinpath("bot").rglob("*.py"), *ROOT.joinpath("actions").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        used |= {next(g for g in match.groups() if g) for match in literal.finditer(text)}
        prefixes |= set(prefix.findall(text))
    used -= {"load", "values", "keys", "get", "py", "yml"}
    assert len(used) > 40
    assert used <= fields, sorted(used - fields)
    assert all(any(f.startswith(p) for f in fields) for p in prefixes), prefixes
