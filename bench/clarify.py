"""When the assistant asks: the trade-off behind config.yml's FallbackClassifier thresholds.

``python -m bench.clarify [MODEL]`` parses the held-out sets with the trained model and prints, for a
grid of thresholds, how many lines the assistant would ask about, how often a direct answer is right,
and how often the right reading is answered or among the buttons (bot/clarify.py). The realistic set
chooses; the others show what the choice costs there. README, "When the assistant asks", quotes it.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from bot.clarify import sweep
from bot.nlu_eval import parsed_lines, pipeline_thresholds
from bot.settings import PROJECT_ROOT

SETS = {"realistic": "tests/nlu_realistic.yml", "clean": "tests/nlu_holdout.yml",
        "realistic_2 (blind)": "tests/data/nlu_realistic_2.yml"}
THRESHOLDS = [0.30, 0.40, 0.45, 0.50, 0.55, 0.60, 0.70]
MARGINS = [0.0, 0.05, 0.10, 0.15, 0.20]


async def main(model: Path) -> None:
    from rasa.core.agent import Agent

    agent = Agent.load(model_path=str(model))
    _t, _m, priority = pipeline_thresholds(PROJECT_ROOT / "config.yml")
    for name, path in SETS.items():
        lines = await parsed_lines(agent.processor, PROJECT_ROOT / path)
        print(f"\n{name} ({path}, {len(lines)} lines): exact accuracy "
              f"{sweep(lines, [0.0], [0.0], priority)[0].exact:.1%}")
        for row in sweep(lines, THRESHOLDS, MARGINS, priority):
            print("  " + row.row())


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else PROJECT_ROOT / "models" / "salesbot.tar.gz"))
