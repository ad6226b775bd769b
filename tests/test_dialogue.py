"""Rasa's own evaluation: end-to-end test stories and NLU on the held-out split."""

from __future__ import annotations

import json

from tests.conftest import ARTIFACTS
from tests.test_rasa_data import _rasa

# The clean held-out split (same style as the training data) and the realistic one (how agents
# really type: typos, dialect, English, fragments, run-ons), written before training and never
# used for it.
HOLDOUT_MIN_MACRO_F1 = 0.97
REALISTIC_MIN_MACRO_F1 = 0.92


def test_end_to_end_stories(trained_model):
    out = ARTIFACTS / "rasa-test-stories"
    result = _rasa("test", "core", "--model", str(trained_model), "--stories", "tests/test_stories.yml",
                   "--endpoints", "tests/endpoints-none.yml", "--out", str(out), "--fail-on-prediction-errors")
    assert result.returncode == 0, (out / "failed_test_stories.yml").read_text(encoding="utf-8") \
        if (out / "failed_test_stories.yml").exists() else result.stdout[-3000:] + result.stderr[-3000:]


def nlu_report(model, name: str, path: str) -> tuple[float, str]:
    """Evaluate the model on ``path`` with ``rasa test nlu``; (macro-F1, printable report)."""
    out = ARTIFACTS / f"rasa-test-nlu-{name}"
    result = _rasa("test", "nlu", "--model", str(model), "--nlu", path, "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((out / "intent_report.json").read_text(encoding="utf-8"))
    errors = json.loads((out / "intent_errors.json").read_text(encoding="utf-8")) \
        if (out / "intent_errors.json").exists() else []
    macro_f1 = report["macro avg"]["f1-score"]
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


def test_held_out_nlu_macro_f1(trained_model):
    macro_f1, report = nlu_report(trained_model, "holdout", "tests/nlu_holdout.yml")
    assert macro_f1 >= HOLDOUT_MIN_MACRO_F1, report


def test_realistic_nlu_macro_f1(trained_model):
    macro_f1, report = nlu_report(trained_model, "realistic", "tests/nlu_realistic.yml")
    assert macro_f1 >= REALISTIC_MIN_MACRO_F1, report
