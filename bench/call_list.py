"""The call list's response time (issue 21): GET /api/call-list for an agent with 2,000 assigned
clients, served by the web app in its own process, as an agent's widget asks for it.

The book is made up the way a working team's looks (seeded, relative to the clock, which reads 10:00
as in the rest of the benchmark): open follow-ups (overdue, due today, later), deposit and wealth
holdings maturing over the next months, birth dates with marketing consent for most, calls over the
last seven months (a third never called), today's calls, openings given today without an outcome.
Its own CRM in a temporary directory, so the sales bot's figures keep the demo CRM's table sizes.

`python -m bench.call_list` runs it alone and prints the figures; `make bench` runs it as one step
(bench/run.py) and reports it under its own heading (bench/report.py).
"""

from __future__ import annotations

import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from bench import load, stack
from bot import clock, migrate
from bot.book.call_list import call_list, forget_openings
from bot.db import engine_for, sessions
from bot.demo_data import load_demo_data
from bot.models import DISPOSITIONS, FOLLOWUP_PROMISES, Call, Client, FollowUp, Holding, MarketingContact, Product, User
from bot.passwords import hash_password
from bot.playbook import playbook
from bot.services import service_commands, service_env, start_processes, stop

CLIENTS = 2000
ROUNDS = 30
SEED = 2121
LOGIN = "bench_caller"
OBJECTIONS = ("objection_busy", "objection_think_it_over", "objection_send_materials", "objection_price", None)
STYLES = ("direct", "self_intro", "herd", "peer_reference", "worry")


def populate(session: Session, now: datetime, password: str, clients: int = CLIENTS, seed: int = SEED) -> User:
    """An agent with ``clients`` assigned clients and their follow-ups, holdings, calls and contacts."""
    rng = random.Random(seed)
    agent = User(login=LOGIN, name="压测坐席", role="agent", password_hash=hash_password(password))
    session.add(agent)
    session.flush()
    products = {p.code: p for p in session.scalars(select(Product))}
    maturing = [p for p in products.values() if p.category in ("deposit", "wealth")]
    rows: list[Any] = []
    for number in range(clients):
        age = rng.randint(22, 75)
        client = Client(
            name=f"压测客户{number:04d}", phone=f"186{number:08d}", agent_id=agent.id, gender=rng.choice("男女"),
            age=age, birth_date=(now - timedelta(days=age * 365 + rng.randint(0, 364))).date(),
            marketing_consent=rng.random() < 0.6, assigned_at=now - timedelta(days=rng.randint(0, 60)),
            assets=rng.choice((None, 20_000, 150_000, 600_000, 2_000_000)), stage=rng.choice(("unknown", "general")),
            contact_source=rng.choice(("existing_customer", "event_signup", "branch_visit")))
        session.add(client)
        session.flush()
        if rng.random() < 0.35:
            matures = (now + timedelta(days=rng.randint(-20, 240))).date()
            rows.append(Holding(client_id=client.id, product_id=rng.choice(maturing).id, since=now - timedelta(200),
                                amount=rng.choice((50_000, 200_000, 500_000)), matures_at=matures))
        called = rng.random() < 0.65
        for call_number in range(rng.randint(1, 4) if called else 0):
            started = now.replace(hour=rng.randint(9, 17)) - timedelta(days=rng.randint(1, 210))
            rows.append(Call(conversation_id=f"bench-{number}-{call_number}", agent_id=agent.id, client_id=client.id,
                             started_at=started, ended_at=started + timedelta(minutes=6),
                             disposition=rng.choice(DISPOSITIONS[:-1]), opening_style=rng.choice(STYLES),
                             objections=[o for o in (rng.choice(OBJECTIONS),) if o],
                             products=[rng.choice(list(products))]))
        if called and rng.random() < 0.03:  # called this morning already
            rows.append(Call(conversation_id=f"bench-{number}-today", agent_id=agent.id, client_id=client.id,
                             started_at=now.replace(hour=9), ended_at=now.replace(hour=9, minute=8),
                             disposition=rng.choice(("no_answer", "thinking", "deal")), opening_style="direct"))
        if rng.random() < 0.12:
            due = now.replace(hour=rng.choice((9, 11, 15, 16)), minute=0) + timedelta(days=rng.randint(-5, 10))
            promise = rng.choice(FOLLOWUP_PROMISES)
            rows.append(FollowUp(client_id=client.id, agent_id=agent.id, due_at=due, reason="回访", promise=promise,
                                 objection=rng.choice(OBJECTIONS[:3]) if promise == "call_back" else None,
                                 product_code=rng.choice(list(products))))
        if rng.random() < 0.03:  # an opening given, no outcome logged
            rows.append(MarketingContact(conversation_id=f"bench-open-{number}", client_id=client.id, agent_id=agent.id,
                                         at=now - timedelta(hours=rng.randint(1, 30)), opening_style="direct"))
    session.add_all(rows)
    session.flush()
    return agent


def _crm(tmp: Path, password: str) -> str:
    url = f"sqlite:///{tmp / 'crm.sqlite3'}"
    os.environ.update(SALESBOT_DB_URL=url, SALESBOT_TRACKER_URL=f"sqlite:///{tmp / 'tracker.sqlite3'}")
    migrate.upgrade(url)
    with sessions(url).begin() as session:
        load_demo_data(session, catalogue_only=True)
        populate(session, clock.now(), password)
    engine_for(url).dispose()
    return url


def measure(rounds: int = ROUNDS, log_dir: Path | None = None) -> dict[str, Any]:
    """Build the book, start the web app on it, and time ``rounds`` requests after a warm-up one (the
    first request of a process loads the playbook's rules). Restores the environment it changes."""
    saved = {k: os.environ.get(k) for k in ("SALESBOT_DB_URL", "SALESBOT_TRACKER_URL", "SALESBOT_SECRET",
                                            "SALESBOT_CLOCK_OFFSET")}
    os.environ.setdefault("SALESBOT_SECRET", secrets.token_urlsafe(32))
    os.environ.setdefault("SALESBOT_CLOCK_OFFSET", str(stack.clock_offset_seconds()))
    password = secrets.token_urlsafe(16)
    try:
        with tempfile.TemporaryDirectory(prefix="salesbot-call-list-") as tmp:
            started = time.monotonic()
            url = _crm(Path(tmp), password)
            built = time.monotonic() - started
            port = stack.free_port()
            command = service_commands(stack.free_port(), stack.free_port(), port, Path("unused"))["web"]
            processes = start_processes({"web": command}, {"web": f"http://127.0.0.1:{port}/health"},
                                        service_env(), log_dir=log_dir)
            try:
                result = _timed(f"http://127.0.0.1:{port}", password, rounds)
            finally:
                stop(processes)
            return result | _cold(url) | {"build_seconds": built}
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _timed(web: str, password: str, rounds: int) -> dict[str, Any]:
    http = requests.Session()
    reply = http.post(f"{web}/api/token", json={"login": LOGIN, "password": password}, timeout=60)
    reply.raise_for_status()
    http.headers["Authorization"] = f"Bearer {reply.json()['token']}"
    started = time.monotonic()
    first = http.get(f"{web}/api/call-list", timeout=300)
    first.raise_for_status()
    warmup = time.monotonic() - started
    latencies = []
    for _ in range(rounds):
        started = time.monotonic()
        http.get(f"{web}/api/call-list", timeout=120).raise_for_status()
        latencies.append(time.monotonic() - started)
    data = first.json()
    return {"clients": CLIENTS, "rounds": rounds, "warmup_seconds": warmup,
            "p50": load.percentile(latencies, 50), "p95": load.percentile(latencies, 95), "max": max(latencies),
            "mean": statistics.fmean(latencies), "rows": len(data["items"]), "total": data["total"],
            "counts": data["counts"], "left_out": len(data["left_out"]), "unfinished": len(data["unfinished"])}


def _cold(url: str, rounds: int = 5) -> dict[str, Any]:
    """The list computed in this process with no opening kept from before (``forget_openings``): what
    the first request after a start, or after the clients changed, costs (the playbook loaded first)."""
    playbook()
    latencies = []
    for _ in range(rounds):
        forget_openings()
        with sessions(url).begin() as session:
            agent = session.scalars(select(User).where(User.login == LOGIN)).one()
            started = time.monotonic()
            call_list(session, agent, clock.now())
            latencies.append(time.monotonic() - started)
    engine_for(url).dispose()
    return {"cold_p50": load.percentile(latencies, 50), "cold_max": max(latencies)}


def markdown_lines(result: dict[str, Any] | None) -> list[str]:
    """The report's section (bench/report.py)."""
    if not result:
        return []
    counts = ", ".join(f"{kind} {n}" for kind, n in result["counts"].items())
    return [
        "## The call list (issue 21)",
        "",
        f"`GET /api/call-list` for an agent with {result['clients']:,} assigned clients (`bench/call_list.py`: "
        "follow-ups, maturing holdings, birthdays, seven months of calls, openings without an outcome), the web "
        f"app in its own process, {result['rounds']} requests one after another after a warm-up request "
        f"({result['warmup_seconds']:.1f} s: the first request of a process loads the playbook's rules):",
        "",
        "| p50 | p95 | max | cold list p50 / max | rows returned / on the list | left out | unfinished |",
        "|---|---|---|---|---|---|---|",
        f"| {result['p50'] * 1000:.0f} ms | {result['p95'] * 1000:.0f} ms | {result['max'] * 1000:.0f} ms | "
        f"{result['cold_p50'] * 1000:.0f} / {result['cold_max'] * 1000:.0f} ms | "
        f"{result['rows']} / {result['total']} ({counts}) | {result['left_out']} | {result['unfinished']} |",
        "",
        "The web app keeps the opening chosen for each client (keyed by all the choice reads); the cold list "
        "is `call_list()` in the benchmark's process with none kept, every row's opening chosen again.",
        "",
    ]


def main() -> int:
    result = measure()
    print("\n".join(markdown_lines(result)))
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
