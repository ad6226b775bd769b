"""Shared fixtures: a fresh, migrated SQLite CRM per test; one trained model per session."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from bench.postgres import Cluster

ROOT = Path(__file__).resolve().parent.parent
# make test-fast runs the property tests with a fifth of the examples (tests/test_bad_input.py).
hypothesis_settings.register_profile("fast", max_examples=20)
ARTIFACTS = ROOT / "test-artifacts"
# SALESBOT_SECRET for tests: 32+ random-looking bytes, as start-up demands (bot/settings.py).
TEST_SECRET = "tEst-7fQ2pZ9xK4mW1vR8sL3nB6yH0cJ5dG"
SERVICES_SECRET = "sErvices-Vb3Nq8Lx2Pk7Mz4Rw9Tc1Hy6Jd5Fs0"


@pytest.fixture(scope="session")
def crm_template(tmp_path_factory) -> Path:
    """A migrated CRM with the demo data, built once per test session (hashing the demo
    passwords at full scrypt strength takes seconds); ``crm_url`` copies it for each test."""
    import sqlite3

    from bot import clock, migrate
    from bot.db import engine_for, sessions
    from bot.demo_data import load_demo_data

    path = tmp_path_factory.mktemp("crm-template") / "crm.sqlite3"
    url = f"sqlite:///{path}"
    # Loaded on the frozen clock the tests run on (the demo's assessment dates move with the clock).
    with pytest.MonkeyPatch.context() as mp, clock.frozen(WORKDAY_MORNING):
        mp.setenv("SALESBOT_DB_URL", url)
        mp.setenv("SALESBOT_SECRET", TEST_SECRET)
        migrate.upgrade(url)
        with sessions(url).begin() as session:
            load_demo_data(session)
    engine_for(url).dispose()
    with sqlite3.connect(path) as connection:  # fold the WAL into the file: one file to copy
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture()
def crm_url(crm_template, tmp_path, monkeypatch):
    """A migrated CRM database with the demo data, used by everything in the test."""
    import sqlite3

    from bot.db import secure_sqlite_file

    path = tmp_path / "crm.sqlite3"
    url = f"sqlite:///{path}"
    monkeypatch.setenv("SALESBOT_DB_URL", url)
    monkeypatch.setenv("SALESBOT_TRACKER_URL", f"sqlite:///{tmp_path / 'tracker.sqlite3'}")
    monkeypatch.setenv("SALESBOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SALESBOT_SECRET", TEST_SECRET)
    secure_sqlite_file(url)
    with sqlite3.connect(crm_template) as source, sqlite3.connect(path) as target:
        source.backup(target)
    source.close()
    target.close()
    yield url
    from bot.db import engine_for

    engine_for(url).dispose()  # the pooled connections to this test's file go with it


# A Monday morning in office hours: what "in an hour" means does not depend on when CI runs.
WORKDAY_MORNING = datetime(2026, 11, 23, 10, 0)


@pytest.fixture()
def frozen_clock():
    """Freeze bot.clock at WORKDAY_MORNING; returns a function to move it elsewhere."""
    from bot import clock

    moments = [WORKDAY_MORNING]
    with clock.frozen_by(lambda: moments[-1]):
        yield moments.append


@pytest.fixture(autouse=True)
def _clock_frozen_by_default(request):
    """Every test runs on the frozen clock (the same at any hour of the day), except tests marked
    `real_clock` and tests that talk to running services, which keep their own clock (SALESBOT_CLOCK_OFFSET)."""
    if request.node.get_closest_marker("real_clock") or "trained_model" in request.fixturenames:
        yield
    else:
        request.getfixturevalue("frozen_clock")
        yield


@pytest.fixture()
def session(crm_url):
    from bot.db import sessions

    with sessions(crm_url).begin() as session:
        yield session


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """The project's model, trained once; Rasa's fingerprint skips retraining if nothing changed."""
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2")
    subprocess.run([sys.executable, "-m", "bot.cli", "train"], cwd=ROOT, env=env, check=True)
    model = ROOT / "models" / "salesbot.tar.gz"
    assert model.exists()
    return model


def service_clock_offset() -> timedelta:
    """How far the services' clock is moved so that it reads 10:00 today now."""
    from bot.settings import timezone

    real = datetime.now(timezone()).replace(tzinfo=None)
    return datetime.combine(real.date(), datetime.min.time()).replace(hour=10) - real


def service_now(servers) -> datetime:
    """What the services' clock reads now."""
    from bot import clock

    return clock.now() + servers["clock_offset"] - clock.offset()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def services(trained_model, tmp_path_factory):
    """Action server, Rasa server and web app on free ports, with their own CRM and tracker store.

    Started once per test session (per worker); tests reach them through ``servers``.
    """
    import sqlite3

    from bot import migrate
    from bot.db import engine_for, sessions
    from bot.demo_data import load_demo_data
    from bot.services import start_services, stop

    tmp = tmp_path_factory.mktemp("services")
    crm, tracker = tmp / "crm.sqlite3", tmp / "tracker.sqlite3"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SALESBOT_DB_URL", f"sqlite:///{crm}")
        mp.setenv("SALESBOT_TRACKER_URL", f"sqlite:///{tracker}")
        mp.setenv("SALESBOT_SECRET", SERVICES_SECRET)
        # The services' clock starts at 10:00 today, whatever the hour of the run (bot/clock.py).
        offset = service_clock_offset()
        mp.setenv("SALESBOT_CLOCK_OFFSET", str(offset.total_seconds()))
        migrate.upgrade(f"sqlite:///{crm}")
        with sessions(f"sqlite:///{crm}").begin() as session:
            load_demo_data(session)
        engine_for(f"sqlite:///{crm}").dispose()
        demo_state = tmp / "crm-demo-state.sqlite3"  # what every test module starts from
        with sqlite3.connect(crm) as source, sqlite3.connect(demo_state) as target:
            source.backup(target)
        source.close()
        target.close()
        ports = {"rasa_port": free_port(), "actions_port": free_port(), "web_port": free_port()}
        # One log folder per pytest-xdist worker: each worker runs its own services.
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        logs = ARTIFACTS / (f"service-logs-{worker}" if worker else "service-logs")
        processes = start_services(**ports, model=trained_model, log_dir=logs)
        try:
            yield {"clock_offset": offset, "rasa": f"http://127.0.0.1:{ports['rasa_port']}",
                   "actions": f"http://127.0.0.1:{ports['actions_port']}",
                   "web": f"http://127.0.0.1:{ports['web_port']}", "crm": crm, "tracker": tracker,
                   "demo_state": demo_state}
        finally:
            stop(processes)


@pytest.fixture(scope="module")
def servers(services):
    """The running services, their CRM back at the demo state for each test module: no module sees
    the calls, callbacks or account changes another one left behind (the services keep running)."""
    import sqlite3

    with sqlite3.connect(services["demo_state"]) as source, sqlite3.connect(services["crm"], timeout=30) as target:
        source.backup(target)
    source.close()
    target.close()
    return services


def socketio_client():
    """A socket.io client for tests (no reconnection) whose disconnect returns at once.

    Over long-polling, python-engineio's graceful disconnect waits for the pending poll to come
    back, up to the server's ping interval (25 s); the close packet is still sent, so the server
    sees the same disconnect, but the test does not sit out the interval.
    """
    import socketio

    client = socketio.AsyncClient(reconnection=False)
    graceful = client.eio.disconnect
    client.eio.disconnect = lambda abort=False, reason=None: graceful(abort=True, reason=reason)
    return client


DEMO_PASSWORDS = {"agent01": "demo-agent", "agent02": "demo-agent", "trainee01": "demo-trainee",
                  "super01": "demo-super"}


def api_token(servers, login: str) -> str:
    import requests

    reply = requests.post(f"{servers['web']}/api/token", timeout=30,
                          json={"login": login, "password": DEMO_PASSWORDS[login]})
    reply.raise_for_status()
    return reply.json()["token"]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print the NLU reports written by this run (tests/test_dialogue.py) at the end of `make test`."""
    for name in ("holdout", "realistic", "realistic-2", "clarify", "call-problems"):
        path = ARTIFACTS / f"nlu-report-{name}.txt"
        if path.exists() and path.stat().st_mtime >= config._salesbot_started:
            terminalreporter.write_sep("-", f"NLU report: {name}")
            terminalreporter.write_line(path.read_text(encoding="utf-8"))
    reports = (("compliance-report.txt", "compliance report"),  # tests/test_compliance.py
               ("rehearsal-moves-report.txt", "trainee moves report"),  # tests/test_rehearsal_moves.py
               ("rehearsal-validity-report.txt", "rehearsal validity report"))  # tests/test_rehearsal_validity.py
    for name, title in reports:
        path = ARTIFACTS / name
        if path.exists() and path.stat().st_mtime >= config._salesbot_started:
            terminalreporter.write_sep("-", title)
            terminalreporter.write_line(path.read_text(encoding="utf-8"))


def pytest_configure(config):
    import time

    config._salesbot_started = time.time()


# `make test` runs two pytest-xdist workers with `--dist loadgroup`. Every file is one unit of
# work, except that all the tests using the running services (`servers`) form one unit: one
# start-up of the services (about a minute, 1.3 GB) serves them all, on one worker; each module
# starts from the demo CRM (`servers`), so none depends on another's leftovers.
SERVICES_GROUP = "shared-services"
# The shared-services unit goes first; then files that start whole stacks of their own or train
# a model (minutes each), so that they run beside it instead of one of them being left alone at
# the end; then the slowest of the rest (password hashing at full strength), so the two workers
# finish together. The Makefile runs pytest-xdist with --no-loadscope-reorder: the units are handed
# out in this order (xdist would otherwise hand out the units with the most tests first).
SLOW_FIRST = ("test_floor_e2e.py", "test_scaleout.py", "test_service_faults.py", "test_dialogue.py",
              "test_login_safety.py", "test_accounts.py", "test_rehearsal_web.py", "test_bad_input.py",
              "test_outbox_privacy.py", "test_paging.py")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(session, config, items):
    def rank(item) -> int:
        name = item.path.name
        uses_services = "servers" in getattr(item, "fixturenames", ())
        if uses_services:
            return -1  # the shared-services unit first: the largest
        return SLOW_FIRST.index(name) if name in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=rank)  # stable: each file keeps its own order
    for item in items:
        uses_services = "servers" in getattr(item, "fixturenames", ())
        item.add_marker(pytest.mark.xdist_group(SERVICES_GROUP if uses_services else item.path.name))
        # Whatever needs the trained model (directly, or through the running services or a browser
        # on them) is marked `model`: `make test-fast` runs everything else, for the edit-test loop.
        if "trained_model" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.model)


@pytest.fixture(scope="module")
def postgres_server():
    """A throwaway PostgreSQL cluster (bench/postgres.py); yields it: called with a name, it creates a
    database and returns its URL. Tests of outages stop and start the server (``.stop()``, ``.start()``)."""
    cluster = Cluster()
    cluster.start()
    try:
        yield cluster
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        cluster.remove(keep_log=ARTIFACTS / "postgres.log")


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    """A throwaway Redis on 127.0.0.1 (free port, no persistence); yields its URL."""
    import time

    import redis

    assert Path("/usr/bin/redis-server").exists(), "Redis is missing: apt-get install -y redis-server"
    port, home = free_port(), tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(["/usr/bin/redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(home), "--logfile", str(home / "redis.log")])
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                assert process.poll() is None and time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)
