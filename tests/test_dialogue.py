"""Rasa's own evaluation: end-to-end test stories and NLU on the held-out split.

The same functions `rasa test core` and `rasa test nlu` run, called in this process on one loaded
agent: loading the model once instead of once per command saves minutes of every `make test`.
"""

from __future__ import annotations

import json
import os

import pytest

from bot.clarify import tradeoff
from bot.nlu_eval import evaluate, parsed_lines, pipeline_thresholds
from tests.conftest import ARTIFACTS, ROOT

# The clean held-out split (same style as the training data) and the realistic one (how agents
# really type: typos, dialect, English, fragments, run-ons), written before training and never
# used for it.
HOLDOUT_MIN_MACRO_F1 = 0.97
REALISTIC_MIN_MACRO_F1 = 0.92
# tests/data/complaints_realistic.yml, first run (2026-12-06): customer_complaint precision and recall
# 0.98/0.96 (F1 0.97, 53 lines), do-not-call recall 6 of 7.
COMPLAINT_MIN, DO_NOT_CALL_RECALL_MIN = 0.90, 0.80
# tests/data/call_problems_realistic.yml (71 lines, 45 call_problem), first and only run before this floor
# (2026-12-07): call_problem precision 0.88, recall 1.00; its false alarms were unanswered calls being logged
# (占线, 没人接) and refusals typed in pinyin. A floor against regressions, not a target.
CALL_PROBLEM_MIN = 0.80
# tests/data/nlu_realistic_2.yml (issue 22), written blind on 2026-12-07; its first run is in the
# closing note. A floor against regressions, not a target.
REALISTIC_2_MIN_MACRO_F1 = 0.80
# At most this share of lines may be asked about on either held-out set.
MAX_ASKED = 0.10


@pytest.fixture(scope="module")
def agent(trained_model):
    """The trained model loaded as `rasa test` loads it: no action server, predictions only."""
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    from rasa.core.agent import Agent

    return Agent.load(model_path=str(trained_model))


async def test_end_to_end_stories(agent):
    from rasa.core.test import test as core_test

    out = ARTIFACTS / "rasa-test-stories"
    out.mkdir(parents=True, exist_ok=True)
    result = await core_test("tests/test_stories.yml", agent, out_directory=str(out), disable_plotting=True)
    conversations = result["report"]["conversation_accuracy"]
    failed = out / "failed_test_stories.yml"
    assert conversations["total"] > 0 and conversations["correct"] == conversations["total"], \
        failed.read_text(encoding="utf-8")


async def nlu_report(agent, name: str, path: str) -> tuple[float, str]:
    """Evaluate the model on ``path`` as ``rasa test nlu`` does; (macro-F1, printable report)."""
    scores = await evaluate(agent.processor, path, ARTIFACTS / f"rasa-test-nlu-{name}")
    report, errors, macro_f1 = scores.report, scores.errors, scores.macro_f1
    lines = [f"NLU {name} ({path}): macro-F1 {macro_f1:.3f}, accuracy {report['accuracy']:.3f}, "
             f"{int(report['macro avg']['support'])} utterances", "  per intent (F1, support):"]
    intents = sorted((k, v) for k, v in report.items() if isinstance(v, dict) and "support" in v
                     and k not in ("macro avg", "weighted avg", "micro avg"))
    for intent, row in sorted(intents, key=lambda kv: kv[1]["f1-score"]):
        lines.append(f"    {row['f1-score']:.2f}  {int(row['support']):3d}  {intent}")
    confusions: dict[tuple[str, str], list[str]] = {}
    for error in errors:
        key = (error["intent"], (error.get("intent_prediction") or {}).get("name", "?"))
        confusions.setdefault(key, []).append(error["text"])
    lines.append(f"  confusions ({len(errors)} errors), most frequent first:")
    for (expected, predicted), texts in sorted(confusions.items(), key=lambda kv: -len(kv[1]))[:15]:
        lines.append(f"    {len(texts):2d}x {expected} -> {predicted}: {' / '.join(texts[:3])}")
    text = "\n".join(lines)
    (ARTIFACTS / f"nlu-report-{name}.txt").write_text(text + "\n", encoding="utf-8")
    return macro_f1, text


async def test_held_out_nlu_macro_f1(agent):
    macro_f1, report = await nlu_report(agent, "holdout", "tests/nlu_holdout.yml")
    assert macro_f1 >= HOLDOUT_MIN_MACRO_F1, report


async def test_realistic_nlu_macro_f1(agent):
    macro_f1, report = await nlu_report(agent, "realistic", "tests/nlu_realistic.yml")
    assert macro_f1 >= REALISTIC_MIN_MACRO_F1, report


async def test_a_second_realistic_set_written_blind(agent):
    """Issue 22: a second realistic set by another author who never read the training data (dialect,
    pinyin, English, voice input, who speaks, near intents); reported beside the first."""
    macro_f1, report = await nlu_report(agent, "realistic-2", "tests/data/nlu_realistic_2.yml")
    assert macro_f1 >= REALISTIC_2_MIN_MACRO_F1, report


async def test_asking_when_unsure_meets_the_targets_on_both_held_out_sets(agent):
    """Issue 22, point 5, with config.yml's thresholds (chosen with `python -m bench.clarify`): on the
    realistic set the top reading is exact for at least 95 % of lines and, asking where the assistant
    is unsure, the right reading is answered or offered as a button for at least 98 %; the clean set's
    exact accuracy stays at least 97 %. A question costs a second, so it must stay rare."""
    threshold, margin, priority = pipeline_thresholds(ROOT / "config.yml")
    lines = {name: await parsed_lines(agent.processor, ROOT / path) for name, path in
             (("realistic", "tests/nlu_realistic.yml"), ("clean", "tests/nlu_holdout.yml"),
              ("realistic-2", "tests/data/nlu_realistic_2.yml"))}
    found = {name: tradeoff(rows, threshold, margin, priority) for name, rows in lines.items()}
    text = "\n".join(f"{name}: exact {t.exact:.1%}; {t.row()}" for name, t in found.items())
    (ARTIFACTS / "nlu-report-clarify.txt").write_text(text + "\n", encoding="utf-8")
    realistic, clean = found["realistic"], found["clean"]
    assert realistic.exact >= 0.95 and realistic.in_buttons >= 0.98, text
    assert clean.exact >= 0.97, text
    assert realistic.asked <= MAX_ASKED and clean.asked <= MAX_ASKED, text


async def test_complaints_are_told_from_near_intents_on_realistic_lines(agent):
    """Issue 19: complaints as agents really relay them (written before training, never trained on),
    beside the near intents they must not swallow (a threat to complain if called again stays
    do-not-call; a price without a grievance stays a price objection)."""
    _macro_f1, report = await nlu_report(agent, "complaints", "tests/data/complaints_realistic.yml")
    scores = json.loads((ARTIFACTS / "rasa-test-nlu-complaints" / "intent_report.json").read_text(encoding="utf-8"))
    assert scores["customer_complaint"]["precision"] >= COMPLAINT_MIN and \
        scores["customer_complaint"]["recall"] >= COMPLAINT_MIN, report
    assert scores["objection_do_not_call"]["recall"] >= DO_NOT_CALL_RECALL_MIN, report


async def test_line_problems_are_told_from_near_intents_on_realistic_lines(agent):
    """Issue 22 (contract intent call_problem): the line, not the customer (a bad line, silence, a hang-up
    without a reason), as agents really type it, written by someone who never saw the training lines and
    never trained on; beside a busy customer who hangs up, an unanswered call logged, a refusal."""
    _macro_f1, report = await nlu_report(agent, "call-problems", "tests/data/call_problems_realistic.yml")
    scores = json.loads((ARTIFACTS / "rasa-test-nlu-call-problems" / "intent_report.json").read_text(encoding="utf-8"))
    assert scores["call_problem"]["precision"] >= CALL_PROBLEM_MIN and \
        scores["call_problem"]["recall"] >= CALL_PROBLEM_MIN, report


async def test_the_model_loaded_for_answering_answers_as_rasas_own_load_does(agent, trained_model, monkeypatch):
    """bot/rasa_ext/model_load.py reads DIET's weights without Rasa's one-example training run: every
    held-out line gets the same ranking and entities as from a model loaded Rasa's way."""
    from rasa.core.agent import Agent
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.utils.tensorflow.models import RasaModel

    from bot.rasa_ext import model_load

    def diet(loaded) -> RasaModel:
        nodes = loaded.processor.graph_runner._instantiated_nodes.values()
        return next(n._component.model for n in nodes if type(n._component).__name__ == "DIETClassifier")

    assert getattr(diet(agent), model_load.ANSWERING_ONLY, False)  # not Rasa's way as a fallback
    monkeypatch.setattr(RasaModel, "load", classmethod(model_load._rasa_load))
    rasas = Agent.load(model_path=str(trained_model))
    assert not getattr(diet(rasas), model_load.ANSWERING_ONLY, False)

    def reading(parse: dict) -> tuple:
        return ([(i["name"], round(i["confidence"], 4)) for i in parse["intent_ranking"]],
                sorted((e["entity"], str(e["value"])) for e in parse["entities"]))

    lines = [e.get("text") for e in load_data("tests/nlu_holdout.yml").intent_examples]
    differ = [line for line in lines
              if reading(await agent.parse_message(line)) != reading(await rasas.parse_message(line))]
    assert not differ, differ[:5]
