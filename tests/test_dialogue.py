"""Rasa's own evaluation: end-to-end test stories and NLU on the held-out split."""

from __future__ import annotations

import json

from tests.conftest import ARTIFACTS
from tests.test_rasa_data import _rasa

MIN_MACRO_F1 = 0.90


def test_end_to_end_stories(trained_model):
    out = ARTIFACTS / "rasa-test-stories"
    result = _rasa("test", "core", "--model", str(trained_model), "--stories", "tests/test_stories.yml",
                   "--endpoints", "tests/endpoints-none.yml", "--out", str(out), "--fail-on-prediction-errors")
    assert result.returncode == 0, (out / "failed_test_stories.yml").read_text(encoding="utf-8") \
        if (out / "failed_test_stories.yml").exists() else result.stdout[-3000:] + result.stderr[-3000:]


def test_held_out_nlu_macro_f1(trained_model):
    out = ARTIFACTS / "rasa-test-nlu"
    result = _rasa("test", "nlu", "--model", str(trained_model), "--nlu", "tests/nlu_holdout.yml",
                   "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((out / "intent_report.json").read_text(encoding="utf-8"))
    macro_f1 = report["macro avg"]["f1-score"]
    (ARTIFACTS / "nlu-macro-f1.txt").write_text(f"{macro_f1:.4f}\n")
    assert macro_f1 >= MIN_MACRO_F1, {k: v for k, v in report.items()
                                     if isinstance(v, dict) and v.get("f1-score", 1) < 0.9}
