"""Flat as the data grows (issue 23): a year of a 50-agent team on PostgreSQL, and what the review
pages, the dashboard, the CSV export and an agent's call list cost at a tenth, a third and all of it.

The data is made by the database itself (``INSERT ... SELECT`` over ``generate_series``), in the
shapes the product writes: 200,000 clients spread over 50 agents, 500,000 calls over 365 days with
their outcomes, objections, opening styles and segments, 50,000 conversations with a client looked up
and no outcome logged, 30,000 follow-ups, and 10 tracker events per call conversation (5 million: user
messages with the login in their metadata, actions, slots, the bot's replies, JSON as Rasa writes it).
The CRM and the tracker store are two databases of one PostgreSQL cluster (bench/postgres.py); the
web app runs in its own process on them, and every figure is of HTTP requests as the pages make them.

`python -m bench.growth` runs it alone (``--scale 0.02`` for a quick look); `make bench` runs it as one
step and reports it under its own heading with the cost curves (docs/growth.png).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import text

from bench import load, stack
from bench.postgres import Cluster
from bot import call_counts, clock, migrate
from bot.db import engine_for, sessions
from bot.demo_data import load_demo_data
from bot.models import User
from bot.outcomes import fill_call_segments
from bot.passwords import hash_password
from bot.services import service_commands, service_env, start_processes, stop
from bot.transcripts import _metadata

AGENTS = 50
FULL = {"clients": 200_000, "calls": 500_000, "unlogged": 50_000, "followups": 30_000, "events_per_call": 10}
STEPS = (0.1, 1 / 3, 1.0)  # fractions of FULL measured, the data grown from one to the next
ROUNDS = 20
TARGET_MS = 300
PROJECT_ROOT = Path(__file__).resolve().parent.parent
PICTURE = PROJECT_ROOT / "var" / "bench" / "growth.png"
DOC_PICTURE = PROJECT_ROOT / "docs" / "growth.png"  # beside docs/benchmark.md, which shows it
CLIENT_BASE = 1_000  # generated client ids start here (the demo catalogue loads no clients)
PG_SETTINGS = {"shared_buffers": "512MB", "work_mem": "32MB", "maintenance_work_mem": "256MB",
               "max_wal_size": "4GB", "checkpoint_timeout": "30min"}

# What the generated rows hold; codes as the product stores them.
DISPOSITIONS = ("deal", "interested", "callback", "thinking", "refused", "no_answer", "no_answer", "invalid_number")
STYLES = ("direct", "self_intro", "herd", "peer_reference", "worry", "find_fault", "familiar", "borrow_wind")
OBJECTIONS = ('[]', '[]', '["objection_busy"]', '["objection_think_it_over"]', '["objection_price"]',
              '["objection_send_materials", "objection_busy"]')
SEGMENTS = ("civil_servant", "business_owner", "retiree", "payroll_employee", "young", "",
            "civil_servant,payroll_employee")
OCCUPATIONS = ("公务员", "企业主", "教师", "医生", "程序员", "个体经营者", "退休", "销售经理")
STAGES = ("unknown", "general", "potential", "deal", "loyal")


def _array(values: tuple[str, ...]) -> str:
    """A PostgreSQL text array literal of trusted constants."""
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _pick(values: tuple[str, ...], expr: str) -> str:
    """The element of ``values`` chosen by the integer expression ``expr`` (deterministic, spread evenly)."""
    # Hashed, so that two picks from one row number are independent (n % 8 and n % 50 would share parity).
    return f"({_array(values)})[(1 + abs(hashint8(({expr})::bigint)) % {len(values)})::int]"


def users(url: str, password: str) -> None:
    """The team: 50 agents (gagent01..50) and a supervisor (gsuper), one password for all."""
    hashed = hash_password(password)
    with sessions(url).begin() as session:
        load_demo_data(session, catalogue_only=True)
        session.add_all([User(login=f"gagent{n:02d}", name=f"坐席{n:02d}", role="agent", password_hash=hashed)
                         for n in range(1, AGENTS + 1)])
        session.add(User(login="gsuper", name="主管", role="supervisor", password_hash=hashed))


def grow(crm: str, tracker: str, since: dict[str, int], until: dict[str, int], now: datetime) -> None:
    """Add the rows numbered from ``since`` to ``until`` (per kind), in the database."""
    moment = now.strftime("%Y-%m-%d %H:%M:%S")
    clients, calls = until["clients"], (since["calls"], until["calls"])
    crm_statements = [
        f"""INSERT INTO clients (id, name, phone, gender, age, occupation, stage, do_not_call, agent_id,
                contact_source, assets, created_at, updated_at)
            SELECT {CLIENT_BASE} + n, '客户' || n, '139' || lpad(n::text, 8, '0'), {_pick(('男', '女'), 'n')},
                   22 + (n * 7) % 54, {_pick(OCCUPATIONS, 'n * 13')}, {_pick(STAGES, 'n * 5')}, n % 97 = 0,
                   agents.ids[(1 + n % {AGENTS})::int], 'existing_customer', (n % 20) * 50000,
                   TIMESTAMP '{moment}' - interval '400 days', TIMESTAMP '{moment}'
            FROM generate_series({since['clients']}::bigint, {clients - 1}::bigint) AS n,
                 (SELECT array_agg(id ORDER BY login) AS ids FROM users WHERE login LIKE 'gagent%') AS agents""",
        f"SELECT setval('clients_id_seq', {CLIENT_BASE + clients})",
        f"""INSERT INTO calls (conversation_id, agent_id, client_id, started_at, ended_at, disposition,
                objections, opening_style, segments, segment, products, notes, updated_at)
            SELECT 'g-' || n, agents.ids[(1 + c % {AGENTS})::int], {CLIENT_BASE} + c, started,
                   started + interval '6 minutes',
                   CASE WHEN n % 20 = 0 THEN NULL ELSE {_pick(DISPOSITIONS, 'n * 3')} END,
                   CAST({_pick(OBJECTIONS, 'n * 11')} AS JSON), {_pick(STYLES, 'n * 7')},
                   {_pick(SEGMENTS, 'c')}, coalesce(nullif(split_part({_pick(SEGMENTS, 'c')}, ',', 1), ''), 'other'),
                   CAST('[]' AS JSON),
                   CASE WHEN n % 9 = 0 THEN '客户说下周再联系，第' || n || '通' END, started
            FROM generate_series({calls[0]}::bigint, {calls[1] - 1}::bigint) AS n,
                 LATERAL (SELECT (n * 7919) % {clients} AS c,
                                 TIMESTAMP '{moment}' - ((n * 7717) % 525600) * interval '1 minute' AS started) AS k,
                 (SELECT array_agg(id ORDER BY login) AS ids FROM users WHERE login LIKE 'gagent%') AS agents""",
        f"""INSERT INTO client_lookups (conversation_id, client_id, agent_id, first_at)
            SELECT 'u-' || n, {CLIENT_BASE} + c, agents.ids[(1 + c % {AGENTS})::int],
                   TIMESTAMP '{moment}' - ((n * 6337) % 525600) * interval '1 minute'
            FROM generate_series({since['unlogged']}::bigint, {until['unlogged'] - 1}::bigint) AS n,
                 LATERAL (SELECT (n * 104729) % {clients} AS c) AS k,
                 (SELECT array_agg(id ORDER BY login) AS ids FROM users WHERE login LIKE 'gagent%') AS agents""",
        # Every call's conversation looked its client up first (settled: its call row exists).
        """INSERT INTO client_lookups (conversation_id, client_id, agent_id, first_at, call_id)
            SELECT c.conversation_id, c.client_id, c.agent_id, c.started_at, c.id FROM calls AS c
            WHERE c.conversation_id LIKE 'g-%' AND NOT EXISTS (SELECT 1 FROM client_lookups AS l
                                                               WHERE l.call_id = c.id)""",
        f"""INSERT INTO followups (client_id, agent_id, due_at, reason, status, created_at, promise)
            SELECT {CLIENT_BASE} + c, agents.ids[(1 + c % {AGENTS})::int],
                   TIMESTAMP '{moment}' + ((n % 40) - 10) * interval '1 day', '回访',
                   CASE WHEN n % 3 = 0 THEN 'open' ELSE 'done' END, TIMESTAMP '{moment}', 'call_back'
            FROM generate_series({since['followups']}::bigint, {until['followups'] - 1}::bigint) AS n,
                 LATERAL (SELECT (n * 15485863) % {clients} AS c) AS k,
                 (SELECT array_agg(id ORDER BY login) AS ids FROM users WHERE login LIKE 'gagent%') AS agents""",
        "ANALYZE",
    ]
    with engine_for(crm).begin() as connection:
        for statement in crm_statements:
            connection.execute(text(statement))
    per_call = FULL["events_per_call"]
    # Ten events a conversation, as Rasa writes them (JSON with ASCII escapes for Chinese).
    kinds = ("user", "action", "slot", "bot", "action", "user", "action", "bot", "action", "action")
    with engine_for(tracker).begin() as connection:
        connection.execute(text(f"""
            INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data)
            SELECT 'g-' || n, kind, stamp, CASE WHEN kind = 'user' THEN 'lookup_client' END,
                   CASE WHEN kind = 'action' THEN 'action_lookup_client' END,
                   CASE kind
                     WHEN 'user' THEN '{{"event": "user", "timestamp": ' || stamp
                       || ', "text": "\\u67e5\\u4e00\\u4e0b\\u5ba2\\u6237' || n || '", "parse_data": '
                       || '{{"intent": {{"name": "lookup_client", "confidence": 0.93}}, "entities": []}}, '
                       || '"metadata": {{"login": "gagent'
                       || lpad((((n * 7919) % {clients}) % {AGENTS} + 1)::text, 2, '0') || '"}}}}'
                     WHEN 'slot' THEN '{{"event": "slot", "timestamp": ' || stamp
                       || ', "name": "current_client_id", "value": "' || ({CLIENT_BASE} + (n * 7919) % {clients})
                       || '"}}'
                     WHEN 'bot' THEN '{{"event": "bot", "timestamp": ' || stamp
                       || ', "text": "\\u5ba2\\u6237\\u5361\\u7247 ' || n || '", "data": {{"custom": null}}}}'
                     ELSE '{{"event": "action", "timestamp": ' || stamp || ', "name": "action_lookup_client"}}'
                   END
            FROM generate_series({calls[0]}::bigint, {calls[1] - 1}::bigint) AS n,
                 LATERAL (SELECT extract(epoch FROM TIMESTAMP '{moment}' - ((n * 7717) % 525600) * interval '1 minute')
                                 AS base) AS b,
                 LATERAL unnest({_array(kinds)}) WITH ORDINALITY AS e(kind, k),
                 LATERAL (SELECT b.base + e.k AS stamp) AS s
            WHERE e.k <= {per_call}"""))
        connection.execute(text("ANALYZE events"))


def _sizes(fraction: float) -> dict[str, int]:
    return {key: round(value * fraction) if key != "events_per_call" else value for key, value in FULL.items()}


class Timer:
    """Timed HTTP requests of one user against the web app."""

    def __init__(self, web: str, login: str, password: str) -> None:
        self.web, self.http = web, requests.Session()
        reply = self.http.post(f"{web}/api/token", json={"login": login, "password": password}, timeout=60)
        reply.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {reply.json()['token']}"

    def time(self, path: str, params: dict[str, Any] | None = None, rounds: int = ROUNDS) -> dict[str, Any]:
        self.http.get(f"{self.web}{path}", params=params, timeout=600).raise_for_status()  # warm-up
        latencies, reply = [], None
        for _ in range(rounds):
            started = time.monotonic()
            reply = self.http.get(f"{self.web}{path}", params=params, timeout=600)
            reply.raise_for_status()
            latencies.append(time.monotonic() - started)
        return {"p50": load.percentile(latencies, 50), "p95": load.percentile(latencies, 95),
                "mean": statistics.fmean(latencies), "total": reply.headers.get("X-Total-Count")}

    def export(self) -> dict[str, Any]:
        """The CSV of every call, streamed: time to the first bytes, rows and the rate."""
        started = time.monotonic()
        first = None
        rows = 0
        with self.http.get(f"{self.web}/api/calls.csv", stream=True, timeout=3600) as reply:
            reply.raise_for_status()
            for chunk in reply.iter_content(chunk_size=1 << 16):
                if first is None and chunk:
                    first = time.monotonic() - started
                rows += chunk.count(b"\n")
        seconds = time.monotonic() - started
        return {"first_byte": first or seconds, "seconds": seconds, "rows": rows - 1,
                "rate": (rows - 1) / seconds if seconds else 0.0}


def _measure_step(web: str, password: str, sizes: dict[str, int], now: datetime) -> dict[str, Any]:
    supervisor, agent = Timer(web, "gsuper", password), Timer(web, "gagent07", password)
    month = (now - timedelta(days=30)).date().isoformat()
    total = int(supervisor.http.get(f"{web}/api/conversations", params={"limit": 1}, timeout=600)
                .headers["X-Total-Count"])
    results = {
        "review_first_page": supervisor.time("/api/conversations", {"limit": 50}),
        "review_filtered": supervisor.time("/api/conversations", {"agent": "gagent07", "outcome": "interested",
                                                                   "from": month, "limit": 50}),
        "review_agent": agent.time("/api/conversations", {"limit": 50}),
        "review_last_page": supervisor.time("/api/conversations", {"limit": 50, "offset": max(total - 50, 0)}),
        "review_middle_page": supervisor.time("/api/conversations", {"limit": 50, "offset": total // 2}, rounds=5),
        "calls_first_page": supervisor.time("/api/calls", {"limit": 50}),
        "transcript": supervisor.time(f"/api/conversations/g-{sizes['calls'] // 2}"),
        "dashboard": supervisor.time("/api/dashboard", rounds=10),
        "dashboard_agent": agent.time("/api/dashboard", rounds=10),
        "call_list": agent.time("/api/call-list", rounds=10),
        "search_text": supervisor.time("/api/conversations", {"q": "下周再联系", "limit": 50}, rounds=3),
    }
    results["export"] = supervisor.export()
    return results


def measure(steps: tuple[float, ...] = STEPS, scale: float = 1.0, log_dir: Path | None = None,
            picture: Path | None = None) -> dict[str, Any]:
    """Grow the data step by step on a fresh PostgreSQL cluster and time the pages at each size; the
    cost curves go to ``picture``."""
    saved = {k: os.environ.get(k) for k in ("SALESBOT_DB_URL", "SALESBOT_TRACKER_URL", "SALESBOT_SECRET",
                                            "SALESBOT_CLOCK_OFFSET")}
    os.environ.setdefault("SALESBOT_SECRET", secrets.token_urlsafe(32))
    os.environ.setdefault("SALESBOT_CLOCK_OFFSET", str(stack.clock_offset_seconds()))
    password = secrets.token_urlsafe(16)
    cluster = Cluster(PG_SETTINGS)
    cluster.start()
    out: dict[str, Any] = {"steps": [], "scale": scale}
    try:
        crm, tracker = cluster.create_database("crm"), cluster.create_database("tracker")
        os.environ.update(SALESBOT_DB_URL=crm, SALESBOT_TRACKER_URL=tracker)
        migrate.upgrade(crm)
        users(crm, password)
        _metadata.create_all(engine_for(tracker))
        with engine_for(tracker).begin() as connection:
            connection.execute(text("CREATE INDEX IF NOT EXISTS ix_events_sender_id ON events (sender_id)"))
        now = clock.now()
        grown = {key: 0 for key in FULL}
        for fraction in steps:
            sizes = _sizes(fraction * scale)
            started = time.monotonic()
            grow(crm, tracker, grown, sizes, now)
            built = time.monotonic() - started
            started = time.monotonic()
            with sessions(crm).begin() as session:  # what `salesbot prepare` does at a deploy
                fill_call_segments(session)
                call_counts.rebuild(session)
            rebuilt = time.monotonic() - started
            grown = sizes
            with engine_for(tracker).connect() as connection:
                events = connection.execute(text("SELECT count(*) FROM events")).scalar_one()
            port = stack.free_port()
            command = service_commands(stack.free_port(), stack.free_port(), port, Path("unused"))["web"]
            processes = start_processes({"web": command}, {"web": f"http://127.0.0.1:{port}/health"},
                                        service_env(), log_dir=log_dir)
            try:
                timings = _measure_step(f"http://127.0.0.1:{port}", password, sizes, now)
            finally:
                stop(processes)
            out["steps"].append({"fraction": fraction * scale, "sizes": sizes, "events": events,
                                 "build_seconds": built,
                                 "rebuild_seconds": rebuilt, "timings": timings})
            print(f"growth: {sizes['calls']:,} calls, {events:,} events: "
                  + ", ".join(f"{k} {v['p95'] * 1000:.0f} ms" for k, v in timings.items() if "p95" in v)
                  + f", export {timings['export']['rate']:.0f} rows/s", file=sys.stderr, flush=True)
        if picture is not None:
            plot(out, picture)
            out["picture"] = str(picture)
    finally:
        engine_for(os.environ.get("SALESBOT_DB_URL", "sqlite://")).dispose()
        cluster.remove()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return out


LABELS = {
    "review_first_page": "review list, first page (supervisor)",
    "review_filtered": "review list, filtered: one agent, interested, last 30 days",
    "review_agent": "review list, first page (an agent: their own)",
    "review_last_page": "review list, last page (supervisor)",
    "review_middle_page": "review list, the middle page (supervisor; the worst offset)",
    "calls_first_page": "call list API `/api/calls`, first page",
    "transcript": "one transcript",
    "dashboard": "dashboard (supervisor: everyone)",
    "dashboard_agent": "dashboard (an agent: their own)",
    "call_list": "an agent's call list (4,000 clients at full size)",
    "search_text": "review list, full-text search `q` (tracker store)",
}


def markdown_lines(result: dict[str, Any] | None) -> list[str]:
    """The report's section (bench/report.py)."""
    if not result or not result.get("steps"):
        return []
    steps = result["steps"]
    head = "| request | " + " | ".join(f"{s['sizes']['calls']:,} calls" for s in steps) + " | target |"
    lines = [
        "## Flat as the data grows (PostgreSQL, `bench/growth.py`)",
        "",
        f"A year of a {AGENTS}-agent team made by the database in the product's shapes, grown in steps: at full "
        f"size {FULL['clients']:,} clients, {FULL['calls']:,} calls over 365 days (each with its client's lookup), "
        f"{FULL['unlogged']:,} conversations with a client looked up and no outcome, {FULL['followups']:,} follow-ups, "
        f"{FULL['events_per_call']} tracker events per call conversation. CRM and tracker store are two databases "
        "of one PostgreSQL cluster; the web app in its own process; p95 of "
        f"{ROUNDS} requests after a warm-up (10 for the dashboard and the call list, 5 for the middle page, 3 for the "
        "full-text search).",
        "",
        "| data | " + " | ".join(f"{s['fraction']:.0%}" for s in steps) + " |",
        "|---|" + "---:|" * len(steps),
        "| tracker events | " + " | ".join(f"{s['events']:,}" for s in steps) + " |",
        "| generated in (s) | " + " | ".join(f"{s['build_seconds']:.0f}" for s in steps) + " |",
        "| dashboard counts rebuilt from the calls, as `salesbot prepare` does (s) | "
        + " | ".join(f"{s['rebuild_seconds']:.1f}" for s in steps) + " |",
        "",
        head,
        "|---|" + "---:|" * len(steps) + "---|",
    ]
    for key, label in LABELS.items():
        values = [s["timings"][key]["p95"] * 1000 for s in steps]
        target = "-" if key == "search_text" else f"<= {TARGET_MS} ms: " + (
            "met" if values[-1] <= TARGET_MS else "**missed**")
        lines.append(f"| {label} | " + " | ".join(f"{v:.0f} ms" for v in values) + f" | {target} |")
    exports = [s["timings"]["export"] for s in steps]
    lines += [
        "| CSV export of every call: first bytes | " + " | ".join(f"{e['first_byte'] * 1000:.0f} ms" for e in exports)
        + " | streamed |",
        "| CSV export: rows, rate | " + " | ".join(f"{e['rows']:,} in {e['seconds']:.1f} s, {e['rate']:,.0f} rows/s"
                                                  for e in exports) + " | stated |",
        "",
    ]
    if result.get("picture"):
        shown = Path(result["picture"])
        shown = shown.relative_to(DOC_PICTURE.parent) if shown.is_relative_to(DOC_PICTURE.parent) else shown
        lines += [f"![time against data size]({shown})", ""]
    return lines


def plot(result: dict[str, Any], path: Path) -> None:
    """Cost curves: p95 against the number of calls, one line per request."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = result["steps"]
    calls = [s["sizes"]["calls"] for s in steps]
    figure, axis = plt.subplots(figsize=(11, 4.8), dpi=110)
    colours = plt.get_cmap("tab10")
    for number, (key, label) in enumerate(LABELS.items()):
        axis.plot(calls, [s["timings"][key]["p95"] * 1000 for s in steps], marker="os^D"[number % 4],
                  color=colours(number % 10), linestyle="-" if number < 10 else "--", label=label)
    axis.axhline(TARGET_MS, color="grey", linestyle=":", linewidth=1, label=f"target {TARGET_MS} ms")
    axis.set_xlabel("calls in the CRM (clients, lookups, follow-ups and tracker events grow with them)")
    axis.set_ylabel("p95 (ms)")
    axis.set_yscale("log")
    axis.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    axis.grid(True, alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.growth", description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="a fraction of the full year (0.02: a quick look)")
    args = parser.parse_args(argv)
    PICTURE.parent.mkdir(parents=True, exist_ok=True)
    result = measure(scale=args.scale, picture=PICTURE)
    print("\n".join(markdown_lines(result)))
    print(json.dumps(result, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
