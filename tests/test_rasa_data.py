"""Rasa's own validation of domain, NLU data, stories and rules."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
UNUSED = re.compile(r"The utterance '(\w+)' is not used in any story or rule")


def _rasa(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2")
    rasa = str(Path(sys.executable).with_name("rasa"))
    return subprocess.run([rasa, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow  # Rasa's validator loads Rasa in a process of its own: make test only
def test_rasa_data_validate():
    result = _rasa("data", "validate", "--domain", "domain.yml", "--data", "data")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # Responses sent only by custom actions are "unused" to Rasa: each must really be
    # sent by an action, and no other warning may appear.
    action_code = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "actions").glob("*.py"))
    for name in UNUSED.findall(output):
        assert f'"{name}"' in action_code, f"response {name} is used nowhere"
    other = [line for line in output.splitlines()
             if "UserWarning" in line and not UNUSED.search(line)]
    assert not other, other


def test_every_contract_intent_has_training_data():
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(ROOT / "data" / "nlu"))
    counts = {intent: 0 for intent in domain["intents"]}
    for example in data.intent_examples:
        counts[example.get("intent")] = counts.get(example.get("intent"), 0) + 1
    assert all(n >= 30 for n in counts.values()), counts
    assert set(data.entities) >= {"client_name", "phone", "product", "outcome", "time", "amount"}


def test_training_is_skipped_only_while_every_input_is_unchanged(tmp_path, monkeypatch):
    """`salesbot train` compares a digest of the inputs instead of starting Rasa: any change to the
    data, config, jieba dictionary or our components' code must change it."""
    import shutil

    from bot import training

    for name in training.TRAINING_INPUTS:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, tmp_path / name)
    monkeypatch.setattr(training, "PROJECT_ROOT", tmp_path)
    before = training.training_inputs_digest()
    assert training.training_inputs_digest() == before
    (tmp_path / "bot" / "nlu" / "__pycache__").mkdir(exist_ok=True)
    (tmp_path / "bot" / "nlu" / "__pycache__" / "x.pyc").write_bytes(b"compiled")  # not an input
    assert training.training_inputs_digest() == before
    (tmp_path / "bot" / "rasa_ext" / "channels.py").write_text("# not part of a model\n")
    assert training.training_inputs_digest() == before
    for changed in ("data/nlu/staff.yml", "config.yml", "bot/nlu/phone_features.py",
                    "bot/rasa_ext/rehearsal_policy.py"):
        path = tmp_path / changed
        original = path.read_bytes()
        path.write_bytes(original + b"\n# edited\n")
        assert training.training_inputs_digest() != before, changed
        path.write_bytes(original)
    assert training.training_inputs_digest() == before
    (tmp_path / "data" / "nlu" / "new.yml").write_text("version: \"3.1\"\n", encoding="utf-8")
    assert training.training_inputs_digest() != before


def test_only_new_floor_lines_are_fine_tuned_and_every_few_rounds_trained_in_full():
    from bot.training import FINETUNE_ROUNDS, plan

    trained = {"inputs": "with-floor-1", "base": "data-1", "finetuned": 0}
    assert plan(trained, "with-floor-1", "data-1") == "current"
    assert plan(trained, "with-floor-2", "data-1") == "finetune"  # only the floor's lines changed
    assert plan(trained, "with-floor-2", "data-1", force=True) == "full"
    assert plan(trained, "with-floor-2", "data-2") == "full"  # data/, config or code changed
    assert plan(trained, "data-1", "data-1") == "full"  # the floor's lines are gone: none may stay learnt
    assert plan({}, "with-floor-1", "data-1") == "full"  # no model yet
    assert plan({**trained, "finetuned": FINETUNE_ROUNDS - 1}, "with-floor-2", "data-1") == "finetune"
    assert plan({**trained, "finetuned": FINETUNE_ROUNDS}, "with-floor-2", "data-1") == "full"  # new words
    assert plan({"inputs": "with-floor-1"}, "with-floor-2", "data-1") == "full"  # stamped before fine-tuning


def test_stored_events_find_their_classes_as_rasa_finds_them():
    """bot/rasa_ext/events.py remembers each type name's class: the same class as Rasa's own walk
    over Event's subclasses, a stored tracker reads back equal, and unknown names keep Rasa's answer."""
    from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.rasa_ext import events

    events.install()
    for cls in (UserUttered, SlotSet, ActionExecuted):
        assert Event.resolve_by_type(cls.type_name) is events._rasa_resolve(cls.type_name) is cls
    assert Event.resolve_by_type("no_such_event", UserUttered) is UserUttered
    assert Event.resolve_by_type("topic") is None
    with pytest.raises(ValueError):
        Event.resolve_by_type("no_such_event")
    stored = [ActionExecuted("action_listen").as_dict(), UserUttered("查一下张三", {"name": "lookup_client"}).as_dict(),
              SlotSet("current_client_id", 3).as_dict()]
    tracker = DialogueStateTracker.from_dict("s", stored, [])
    assert [e.as_dict() for e in tracker.events] == stored


def test_action_replies_are_judged_as_rasas_schema_judges_them():
    """bot/rasa_ext/remote_action.py checks each event of a reply against its own kind's schema; a
    reply passes exactly when Rasa's whole schema (``oneOf`` over every kind) passes it."""
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered

    from bot.rasa_ext.remote_action import _response_validator, valid_reply

    events = [e.as_dict() for e in (SlotSet("current_client_id", 3), SlotSet("stage", {"a": [1]}),
                                    BotUttered("开场白", {"custom": {"type": "guidance"}}),
                                    ActionExecuted("action_listen"), UserUttered("好的", {"name": "affirm"}),
                                    SessionStarted())]
    replies = [{"events": events, "responses": [{"text": "好", "buttons": [{"title": "是", "payload": "/affirm"}]}]},
               {"events": []}, {}, {"responses": []},
               {"events": [{"event": "slot", "name": "x"}]}, {"events": [{"event": "nope"}]},
               {"events": {"event": "slot"}}, {"events": [{"event": "slot", "name": 3, "value": 1}]},
               {"events": [{"event": "action", "confidence": "high"}]},
               {"events": [{"event": "bot", "timestamp": "t"}]},
               {"events": [1]}, [], "reply", {"responses": [1]}, {"events": [{"name": "x"}]},
               {"events": [{**events[0], "metadata": 5}]}]
    judged = [(valid_reply(r), _response_validator().is_valid(r)) for r in replies]
    assert [mine for mine, _ in judged] == [rasas for _, rasas in judged]
    assert sum(mine for mine, _ in judged) == 4  # the four well-formed replies, no more
    with pytest.raises(Exception, match="Failed to validate Action server response"):
        RemoteAction("action_x", None)._validate_action_result({"events": [{"event": "nope"}]})


async def test_a_kept_tracker_is_used_only_while_the_table_agrees(tmp_path):
    """A server reuses the tracker it saved last for a conversation only while nothing else changed it: a
    second server's turn, or a turn changed in memory and never saved, make it read the table again, and
    what it returns is always what the table holds."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.rasa_ext import tracker_store

    tracker_store.install()
    domain = Domain.load(str(ROOT / "domain.yml"))
    url = f"sqlite:///{tmp_path / 'kept.db'}"
    one, two = SQLTrackerStore(domain, host=url), SQLTrackerStore(domain, host=url)

    def turn(tracker, text: str) -> None:
        for event in (UserUttered(text, {"name": "greet", "confidence": 0.9}), BotUttered(f"答：{text}"),
                      ActionExecuted("action_listen")):
            tracker.update(event)

    async def table() -> list:
        fresh = await SQLTrackerStore(domain, host=url).retrieve("c")
        return [e.as_dict() for e in fresh.events]

    tracker = DialogueStateTracker.from_events("c", [ActionExecuted("action_session_start"), SessionStarted(),
                                                     ActionExecuted("action_listen")], slots=domain.slots)
    await one.save(tracker)
    first = await one.retrieve("c")  # read from the table, then kept
    turn(first, "你好")
    await one.save(first)
    again = await one.retrieve("c")
    assert again is first and [e.as_dict() for e in again.events] == await table()

    other = await two.retrieve("c")  # a second server takes a turn
    turn(other, "第二台")
    await two.save(other)
    after = await one.retrieve("c")
    assert after is not first and [e.as_dict() for e in after.events] == await table()
    assert any(getattr(e, "text", None) == "第二台" for e in after.events)

    turn(after, "没有保存")  # changed, never saved (a failed turn)
    read = await one.retrieve("c")
    assert read is not after and not any(getattr(e, "text", None) == "没有保存" for e in read.events)
    turn(read, "再来")
    await one.save(read)
    assert [e.as_dict() for e in (await one.retrieve("c")).events] == await table()

    later = await one.retrieve("c")  # a new session (after a pause): the table gives that session only
    for event in (ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")):
        later.update(event)
    turn(later, "新的一段")
    await one.save(later)
    assert [e.as_dict() for e in (await one.retrieve("c")).events] == await table()

    assert await one.retrieve("new") is None  # a new conversation, as Rasa's processor makes it
    created = await one.create_tracker("new")
    for event in (ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")):
        created.update(event)
    turn(created, "第一句")
    await one.save(created)
    back = await one.retrieve("new")
    fresh = await SQLTrackerStore(domain, host=url).retrieve("new")
    assert [e.as_dict() for e in back.events] == [e.as_dict() for e in fresh.events]
    assert [getattr(e, "text", None) for e in fresh.events if isinstance(e, UserUttered)] == ["第一句"]


async def test_the_lean_tracker_store_keeps_the_rows_rasas_keeps(tmp_path, monkeypatch):
    """bot/rasa_ext/tracker_store.py reads fewer columns and trusts its own read's row count when it
    saves: the same conversation handled by it and by Rasa's SQL store (a message, a second store on
    the same table in between as a second Rasa server would, a new session, a save with no read
    before it) leaves the same rows, and reads back the same tracker."""
    import sqlite3

    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.rasa_ext import tracker_store

    domain = Domain.load(str(ROOT / "domain.yml"))

    def turn(text: str) -> list:
        return [UserUttered(text, {"name": "lookup_client", "confidence": 0.9}), ActionExecuted("action_lookup_client"),
                SlotSet("current_client_id", "1"), BotUttered(f"答：{text}"), ActionExecuted("action_listen")]

    async def play(path) -> list:
        url = f"sqlite:///{path}"
        one, two = SQLTrackerStore(domain, host=url), SQLTrackerStore(domain, host=url)
        assert await one.retrieve("c") is None
        tracker = DialogueStateTracker.from_events("c", [ActionExecuted("action_session_start"), SessionStarted(),
                                                         ActionExecuted("action_listen"), *turn("查一下张三")],
                                                   slots=domain.slots)
        await one.save(tracker)
        for store, text in ((two, "开场白"), (one, "客户说在开会"), (one, "记一下")):  # two servers, one table
            tracker = await store.retrieve("c")
            for event in turn(text):
                tracker.update(event)
            await store.save(tracker)
        for event in turn("再查一次"):  # saved again without a read in between
            tracker.update(event)
        await store.save(tracker)
        tracker = await one.retrieve("c")
        for event in [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
                      *turn("新的一天")]:
            tracker.update(event)
        await one.save(tracker)
        with sqlite3.connect(path) as connection:
            rows = connection.execute("SELECT type_name, intent_name, action_name, data FROM events ORDER BY id")
            stored = [(t, i, a, {k: v for k, v in json.loads(d).items() if k != "timestamp"}) for t, i, a, d in rows]
        back = await SQLTrackerStore(domain, host=url).retrieve("c")
        return [stored, [e.as_dict() for e in back.events] if back else None]

    tracker_store.install()
    lean = await play(tmp_path / "lean.db")
    read = await SQLTrackerStore(domain, host=f"sqlite:///{tmp_path / 'lean.db'}").retrieve("c")
    assert getattr(read, tracker_store.ROWS_READ) == 7  # the lean read was the one used
    monkeypatch.setattr(SQLTrackerStore, "_retrieve", tracker_store._rasa_retrieve)
    monkeypatch.setattr(SQLTrackerStore, "_additional_events", tracker_store._rasa_additional_events)
    monkeypatch.setattr(SQLTrackerStore, "save", tracker_store._rasa_save)
    rasas = await play(tmp_path / "rasa.db")
    assert len(lean[0]) == 36 and [(t, i, a) for t, i, a, _ in lean[0]] == [(t, i, a) for t, i, a, _ in rasas[0]]
    assert [d for *_, d in lean[0]] == [d for *_, d in rasas[0]]
    strip = [[{k: v for k, v in e.items() if k != "timestamp"} for e in events] for events in (lean[1], rasas[1])]
    assert strip[0] == strip[1] and len(strip[0]) == 7  # the new session only, from its SessionStarted


def test_action_calls_carry_the_tracker_but_not_the_domain(monkeypatch):
    """No action reads the domain: endpoints.yml's selective domain keeps Rasa from serialising all of it
    into every action call (the action server still gets the whole tracker)."""
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import read_endpoint_config

    monkeypatch.setenv("SALESBOT_ACTION_URL", "http://127.0.0.1:5055/webhook")
    monkeypatch.setenv("SALESBOT_TRACKER_URL", "sqlite:///unused.sqlite3")
    endpoint = read_endpoint_config(str(ROOT / "endpoints.yml"), "action_endpoint")
    domain = Domain.load(str(ROOT / "domain.yml"))
    call = RemoteAction("action_lookup_client", endpoint)._action_call_format(
        DialogueStateTracker("c", domain.slots), domain)
    assert "domain" not in call and call["tracker"]["sender_id"] == "c"


async def test_a_first_session_start_needs_no_action_server_and_a_later_one_asks_it(monkeypatch):
    """A brand-new conversation starts its session in the Rasa server (nothing to carry over, the same
    events the custom action gives); after slots were set, the custom action decides what the new
    session keeps, so the action server is asked (here unreachable: the agent is told so)."""
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    from bot.rasa_ext import remote_action

    monkeypatch.setenv("SALESBOT_SECRET", "s" * 8 + "-a-test-secret-of-enough-bytes-0123456789")
    remote_action.install()
    domain = Domain.load(str(ROOT / "domain.yml"))
    start = RemoteAction("action_session_start", EndpointConfig("http://127.0.0.1:9/webhook"))
    # Rasa's processor sets the message's metadata as a slot just before the session starts.
    fresh = DialogueStateTracker.from_events("new", [SlotSet("session_started_metadata", {"login": "agent01"})],
                                             slots=domain.slots)
    events = await start.run(None, None, fresh, domain)
    assert [type(e) for e in events] == [SessionStarted, ActionExecuted] and events[1].action_name == "action_listen"

    going_on = DialogueStateTracker.from_events("old", [SlotSet("current_client_id", "3")], slots=domain.slots)
    asked = await start.run(None, None, going_on, domain)
    assert [e.as_dict().get("data", {}).get("custom", {}).get("type") for e in asked] == [
        remote_action.UNAVAILABLE_TYPE]


def test_features_are_combined_as_rasa_combines_them():
    """bot/rasa_ext/features.py joins a message's features in one step: the same matrix (sparse or dense),
    type and origin as Rasa's one-by-one join, the message's own features untouched, Rasa's error for
    features that cannot be joined."""
    import numpy as np
    from rasa.shared.nlu.training_data.features import Features
    from scipy import sparse

    from bot.rasa_ext import features

    rng = np.random.default_rng(0)
    sparse_ones = [Features(sparse.random(6, width, density=0.2, format="coo", random_state=width), "sequence",
                            "text", f"f{width}") for width in (5, 40, 3, 17)]
    dense_ones = [Features(rng.random((1, width)), "sentence", "text", f"d{width}") for width in (4, 9)]
    for group in (sparse_ones, dense_ones, sparse_ones[:1]):
        before = [f.features.copy() for f in group]
        ours, rasas = features.combine_features(group, ["a", "b"]), features._rasa_combine(group, ["a", "b"])
        as_array = (lambda m: m.toarray()) if group[0].is_sparse() else np.asarray
        assert type(ours.features) is type(rasas.features) and ours.features.shape == rasas.features.shape
        assert (as_array(ours.features) == as_array(rasas.features)).all()
        assert (ours.type, ours.attribute, ours.origin) == (rasas.type, rasas.attribute, rasas.origin)
        assert all((as_array(f.features) == as_array(b)).all() for f, b in zip(group, before, strict=True))
    assert features.combine_features([], []) is None
    with pytest.raises(ValueError):
        features.combine_features([sparse_ones[0], Features(rng.random((6, 2)), "sequence", "text", "x")], [])


def test_a_turns_past_states_are_computed_once_and_stay_rasas():
    """bot/rasa_ext/states.py: the policies' repeated past-states question is answered from the tracker's
    last answer while its events are unchanged: the same states as Rasa's for every argument, a caller
    editing its copy changes nobody else's, and a new event is seen at once."""
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.rasa_ext import states

    states.install()
    domain = Domain.load(str(ROOT / "domain.yml"))
    tracker = DialogueStateTracker.from_events("c", [
        ActionExecuted("action_listen"), UserUttered("查一下张三", {"name": "lookup_client", "confidence": 0.9}),
        ActionExecuted("action_lookup_client"), SlotSet("current_client_id", "1"), BotUttered("张三"),
        ActionExecuted("action_listen"), UserUttered("开场白", {"name": "request_opening", "confidence": 0.9})],
        slots=domain.slots)
    rule_only = {"slots": ["rehearsal"], "active_loops": []}
    for arguments in ({}, {"omit_unset_slots": True}, {"ignore_rule_only_turns": True, "rule_only_data": rule_only}):
        theirs = states._rasa_past_states(tracker, domain, **arguments)
        first = tracker.past_states(domain, **arguments)
        assert first == theirs and len(first) >= 3
        first[-1].pop("user")  # the featurizers edit the last state of what they got
        assert tracker.past_states(domain, **arguments) == theirs
    before = len(tracker.past_states(domain))
    tracker.update(ActionExecuted("action_suggest_opening"))
    assert tracker.past_states(domain) == states._rasa_past_states(tracker, domain) and \
        len(tracker.past_states(domain)) == before + 1
