"""NLU parse latency, in its own process: ``python -m bench.nlu MODEL ROUNDS TEXT...``.

Loads the model with Rasa's Agent and times ``parse_message`` (the whole NLU pipeline, custom
components included) for every text, after one warm-up round. Prints one JSON line with the
latencies in seconds. A separate process so TensorFlow is not loaded into the load generator.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time


async def measure(model: str, rounds: int, texts: list[str]) -> dict:
    from rasa.core.agent import Agent

    started = time.monotonic()
    agent = Agent.load(model)
    load_seconds = time.monotonic() - started
    for text in texts:  # warm-up: first calls build TensorFlow's graph and fill caches
        await agent.parse_message(text)
    latencies = []
    for _ in range(rounds):
        for text in texts:
            t0 = time.perf_counter()
            await agent.parse_message(text)
            latencies.append(time.perf_counter() - t0)
    return {"latencies": latencies, "load_seconds": load_seconds}


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    model, rounds, texts = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    result = asyncio.run(measure(model, rounds, texts))
    print("BENCH_NLU " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
