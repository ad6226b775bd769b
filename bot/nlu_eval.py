"""NLU evaluation on a held-out file, as `rasa test nlu` does it, on an already loaded model: the
test suite's reports and the floor's training report (bot/training.py) use this one function."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.clarify import Parsed


@dataclass(frozen=True)
class NluScores:
    accuracy: float
    macro_f1: float
    report: dict[str, Any]  # Rasa's intent_report.json
    errors: list[dict[str, Any]]  # Rasa's intent_errors.json

    def summary(self) -> dict[str, float]:
        return {"accuracy": round(self.accuracy, 4), "macro_f1": round(self.macro_f1, 4),
                "utterances": int(self.report["macro avg"]["support"])}


async def evaluate(processor: Any, path: str | Path, out_dir: Path) -> NluScores:
    """Evaluate ``processor`` (a loaded agent's) on the NLU file ``path``; Rasa's files go to ``out_dir``."""
    from rasa.nlu.test import run_evaluation

    out_dir.mkdir(parents=True, exist_ok=True)
    await run_evaluation(str(path), processor, output_directory=str(out_dir), errors=True, disable_plotting=True)
    report = json.loads((out_dir / "intent_report.json").read_text(encoding="utf-8"))
    errors_file = out_dir / "intent_errors.json"
    errors = json.loads(errors_file.read_text(encoding="utf-8")) if errors_file.exists() else []
    return NluScores(report["accuracy"], report["macro avg"]["f1-score"], report, errors)


async def evaluate_model(model: Path, sets: dict[str, Path], out_dir: Path) -> dict[str, dict[str, float]]:
    """Load ``model`` once and evaluate it on each named held-out file: {name: summary}."""
    from rasa.core.agent import Agent

    agent = Agent.load(model_path=str(model))
    return {name: (await evaluate(agent.processor, path, out_dir / name)).summary() for name, path in sets.items()}


async def parsed_lines(processor: Any, path: str | Path) -> list[Parsed]:
    """Each line of the NLU file ``path`` with its true intent and the model's full ranking."""
    from rasa.core.channels import UserMessage
    from rasa.shared.nlu.training_data.loading import load_data

    lines = []
    for example in load_data(str(path)).intent_examples:
        parse = await processor.parse_message(UserMessage(example.get("text")))
        lines.append(Parsed(example.get("text"), example.get("intent"), list(parse.get("intent_ranking") or [])))
    return lines


def pipeline_thresholds(config: Path) -> tuple[float, float, dict[str, float]]:
    """The FallbackClassifier's threshold and ambiguity threshold and the priority floors in ``config``."""
    import yaml

    pipeline = yaml.safe_load(config.read_text(encoding="utf-8"))["pipeline"]
    fallback = next(c for c in pipeline if c["name"] == "FallbackClassifier")
    priority = next((c for c in pipeline if c["name"].endswith("PriorityIntents")), {})
    return float(fallback["threshold"]), float(fallback["ambiguity_threshold"]), dict(priority.get("intents") or {})
