"""`make bench`: the sales bot against a minimal Rasa bot, same load, same machine, same run.

Steps (one at a time, so no step disturbs another's figures): train the minimal bot (and,
with BENCH_TRAIN=1, ours), time NLU parsing for both models in a separate process, then for
each bot: start it, warm it up, drive open-loop load at each rate, measure capacity with
closed-loop conversations, read the memory of its processes, stop it. Writes
docs/benchmark.md and var/bench/results.json.

Settings (environment): BENCH_SECONDS (per rate, default 30), BENCH_CAPACITY_SECONDS
(default BENCH_SECONDS), BENCH_RATES (default 2,10,30), BENCH_CONCURRENCY (default 16),
BENCH_WARMUP_SECONDS (default 10), BENCH_NLU_ROUNDS (default 5; 0 skips it), BENCH_TRAIN=1 (also time a
forced training of our model, ~5 minutes; `make bench` sets it unless BENCH_TRAIN=0), BENCH_KEEP=1 (keep
the temporary directory),
BENCH_BOTS (default salesbot,minimal; one of them alone for a quicker profiling round), BENCH_SIDES=0
(serving only: no call list, import, learning or growth benchmark; the report then is partial).
``--profile`` (make bench PROFILE=1) records py-spy profiles during the 10 msg/s phase.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from bench import call_list, growth, imports, learning_sim, load, profile, report, stack
from bench.flows import MINIMAL_FLOWS, SALESBOT_FLOWS, FlowSource, all_texts
from bench.results import BotResult, Settings
from bot.services import stop
from bot.settings import PROJECT_ROOT

OUT_DIR = PROJECT_ROOT / "var" / "bench"
DOC = PROJECT_ROOT / "docs" / "benchmark.md"
PROFILED_RATE = 10.0
DEMO_PASSWORDS = {"agent01": "demo-agent", "agent02": "demo-agent"}


def log(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", flush=True)


def nlu_latency(model: Path, texts: list[str], rounds: int, log_file: Path) -> dict:
    """Run bench.nlu in a child process (TensorFlow stays out of the load generator)."""
    result = subprocess.run([sys.executable, "-m", "bench.nlu", str(model), str(rounds), *texts],
                            cwd=PROJECT_ROOT, env=dict(os.environ), capture_output=True, text=True, check=False)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.write_text(result.stdout + result.stderr, encoding="utf-8")
    if result.returncode != 0:
        raise RuntimeError(f"NLU benchmark failed, see {log_file}")
    line = next(x for x in result.stdout.splitlines() if x.startswith("BENCH_NLU "))
    data = json.loads(line[len("BENCH_NLU "):])
    latencies = data["latencies"]
    return {"p50": load.percentile(latencies, 50), "p95": load.percentile(latencies, 95), "n": len(latencies),
            "texts": len(texts), "load_seconds": data["load_seconds"]}


async def fetch_tokens(web: str) -> dict[str, str]:
    """API tokens for the demo agents, from the web app's POST /api/token."""
    tokens = {}
    async with load.client_session() as http:
        for login, password in DEMO_PASSWORDS.items():
            async with http.post(f"{web}/api/token", json={"login": login, "password": password}) as response:
                response.raise_for_status()
                tokens[login] = (await response.json())["token"]
    return tokens


async def drive(result: BotResult, send: load.Sender, flows: list, settings: Settings, prefix: str,
                pids: dict[str, int]) -> None:
    """Warm-up, the open-loop rates, then capacity; profiles the PROFILED_RATE phase if asked."""
    log(f"{result.name}: warm-up {settings.warmup_seconds:.0f}s")
    await load.closed_loop(send, FlowSource(flows, f"{prefix}-warmup"), 2, settings.warmup_seconds, "warm-up")
    for rate in settings.rates:
        await asyncio.sleep(2)  # let the previous phase's stragglers settle
        recorders = []
        if settings.profile and rate == PROFILED_RATE:
            recorders = start_profiles(result, pids, settings.seconds)
        log(f"{result.name}: {rate:g} msg/s for {settings.seconds:.0f}s (open loop)")
        phase_task = asyncio.create_task(load.open_loop(send, FlowSource(flows, f"{prefix}-r{rate:g}"), rate,
                                                        settings.seconds, f"{rate:g} msg/s"))
        if recorders:
            await asyncio.sleep(settings.seconds / 2)
            for name, pid in pids.items():
                await asyncio.to_thread(profile.dump, pid, OUT_DIR / f"{result.name}-{name}-dump.txt")
        phase = await phase_task
        for recorder in recorders:
            await asyncio.to_thread(recorder.wait, 120)
        if recorders:
            summarise_profiles(result, phase.sent)
        result.phases.append(phase)
        log(f"  {report.phase_line(phase)}")
    await asyncio.sleep(2)
    log(f"{result.name}: capacity, {settings.concurrency} conversations for {settings.capacity_seconds:.0f}s")
    result.capacity = await load.closed_loop(send, FlowSource(flows, f"{prefix}-cap"), settings.concurrency,
                                             settings.capacity_seconds, "capacity")
    log(f"  {report.phase_line(result.capacity)}")
    result.rss = {name: stack.rss_bytes(pid) for name, pid in pids.items()}


def start_profiles(result: BotResult, pids: dict[str, int], seconds: float) -> list[subprocess.Popen]:
    recorders = []
    for name, pid in pids.items():
        if name == "web":
            continue  # the web app only issued the tokens
        output = OUT_DIR / f"{result.name}-{name}.txt"
        output.unlink(missing_ok=True)
        (OUT_DIR / f"{result.name}-{name}-dump.txt").unlink(missing_ok=True)
        recorders.append(profile.record(pid, int(seconds), output, OUT_DIR / "py-spy.log"))
        result.profiles[name] = str(output)
    return recorders


def summarise_profiles(result: BotResult, messages: int) -> None:
    parts = []
    for name, path in result.profiles.items():
        areas = profile.RASA_AREAS if name == "rasa" else profile.ACTION_AREAS
        if Path(path).exists():
            parts.append(profile.summarise(Path(path), areas, messages, f"{result.name}: {name} server"))
    summary = OUT_DIR / f"{result.name}-profile.md"
    summary.write_text("\n".join(parts), encoding="utf-8")
    log(f"  profile summary: {summary}")


async def bench_salesbot(result: BotResult, model: Path, workdir: Path, settings: Settings) -> None:
    log("sales bot: starting actions, Rasa and the web app")
    processes, urls, result.startup_seconds = stack.start_salesbot(model, OUT_DIR / "logs")
    try:
        log(f"sales bot: up in {result.startup_seconds:.1f}s")
        tokens = await fetch_tokens(urls["web"])
        send = load.rest_sender(f"{urls['rasa']}/webhooks/rest/webhook", tokens)
        pids = {name: p.pid for name, p in processes.items()}
        await drive(result, send, SALESBOT_FLOWS, settings, "bench", pids)
    finally:
        stop(processes)


async def bench_minimal(result: BotResult, model: Path, workdir: Path, settings: Settings) -> None:
    log("minimal bot: starting Rasa")
    processes, url, result.startup_seconds = stack.start_minimal(model, workdir, OUT_DIR / "logs")
    try:
        log(f"minimal bot: up in {result.startup_seconds:.1f}s")
        send = load.rest_sender(f"{url}/webhooks/rest/webhook")
        flows = [(None, messages) for messages in MINIMAL_FLOWS]
        await drive(result, send, flows, settings, "minimal", {"rasa": processes["rasa"].pid})
    finally:
        stop(processes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", action="store_true", help="py-spy the servers during the 10 msg/s phase")
    settings = Settings.from_env(parser.parse_args(argv).profile)
    model = PROJECT_ROOT / "models" / "salesbot.tar.gz"
    if not model.exists():
        print("bench: no trained model at models/salesbot.tar.gz; run `make train` first", file=sys.stderr)
        return 1
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="salesbot-bench-"))
    started = time.monotonic()
    context = report.machine_context()
    ours, minimal = BotResult("salesbot"), BotResult("minimal")
    try:
        stack.configure_salesbot_env(workdir)
        log(f"preparing the bench CRM in {workdir}")
        stack.prepare_crm()
        if settings.train:
            log("training the sales bot's model (forced, BENCH_TRAIN=1; ~5 minutes)")
            _trained, ours.training_seconds = stack.train_salesbot(workdir, OUT_DIR / "logs")
        if "minimal" in settings.bots:
            log("training the minimal bot")
            minimal_model, minimal.training_seconds = stack.train_minimal(workdir, OUT_DIR / "logs")
            log(f"  {minimal.training_seconds:.1f}s")
        log("NLU parse latency (in-process Agent.parse_message)")
        if "salesbot" in settings.bots and settings.nlu_rounds:
            ours.nlu = nlu_latency(model, all_texts([m for _login, m in SALESBOT_FLOWS]), settings.nlu_rounds,
                                   OUT_DIR / "logs" / "nlu-salesbot.log")
        if "minimal" in settings.bots and settings.nlu_rounds:
            minimal.nlu = nlu_latency(minimal_model, all_texts(MINIMAL_FLOWS), settings.nlu_rounds,
                                      OUT_DIR / "logs" / "nlu-minimal.log")
        if "salesbot" in settings.bots and settings.sides:
            log(f"call list: GET /api/call-list, an agent with {call_list.CLIENTS:,} clients (its own CRM)")
            context["call_list"] = call_list.measure(log_dir=OUT_DIR / "logs")
            log(f"import: a {imports.ROWS:,}-row .xlsx of clients, read, checked and written (its own CRM)")
            context["imports"] = imports.measure()
            log("learning: the simulated team, 3,000 calls in two scenarios and ten more seeds each")
            context["learning"] = learning_sim.measure()
            log("growth: a year of a 50-agent team on PostgreSQL, the pages timed at three sizes (~10 minutes)")
            context["growth"] = growth.measure(log_dir=OUT_DIR / "logs", picture=growth.DOC_PICTURE)
        if "salesbot" in settings.bots:
            asyncio.run(bench_salesbot(ours, model, workdir, settings))
        if "minimal" in settings.bots:
            asyncio.run(bench_minimal(minimal, minimal_model, workdir, settings))
    finally:
        if not settings.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    context["total_seconds"] = time.monotonic() - started
    context["load_after"] = report.load_average()
    text = report.markdown(ours, minimal, settings, context)
    print(text)
    # Only a full run (both bots, every part) replaces the committed report.
    doc = DOC if set(settings.bots) >= {"salesbot", "minimal"} and settings.sides else OUT_DIR / "benchmark-partial.md"
    doc.write_text(text, encoding="utf-8")
    (OUT_DIR / "results.json").write_text(json.dumps(
        {"settings": asdict(settings), "context": context, "bots": [report.as_dict(ours), report.as_dict(minimal)]},
        ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    log(f"wrote {doc.relative_to(PROJECT_ROOT)} and {(OUT_DIR / 'results.json').relative_to(PROJECT_ROOT)} "
        f"in {context['total_seconds'] / 60:.1f} min")
    return 0
