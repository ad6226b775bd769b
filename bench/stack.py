"""Starting and stopping the two bots under test, and what their processes use."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from bot import migrate
from bot.db import engine_for, sessions
from bot.provision import load_demo_crm
from bot.services import service_env, start_services, stop, wait_for
from bot.settings import PROJECT_ROOT, get_settings, timezone

BENCH_DIR = Path(__file__).resolve().parent
MINIMAL_DIR = BENCH_DIR / "minimal"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rasa_executable() -> str:
    return str(Path(sys.executable).with_name("rasa"))


def clock_offset_seconds() -> float:
    """How far the services' clock is moved so that it reads 10:00 today (as tests/conftest.py):
    callbacks ("明天下午三点", "an hour from now") behave the same at any hour of the run."""
    real = datetime.now(timezone()).replace(tzinfo=None)
    return (datetime.combine(real.date(), datetime.min.time()).replace(hour=10) - real).total_seconds()


def configure_salesbot_env(workdir: Path) -> None:
    """Point this process (and so the services it starts) at a private CRM and tracker store."""
    os.environ["SALESBOT_DB_URL"] = f"sqlite:///{workdir / 'crm.sqlite3'}"
    os.environ["SALESBOT_TRACKER_URL"] = f"sqlite:///{workdir / 'tracker.sqlite3'}"
    os.environ["SALESBOT_SECRET"] = secrets.token_urlsafe(32)
    os.environ["SALESBOT_CLOCK_OFFSET"] = str(clock_offset_seconds())
    os.environ["RASA_TELEMETRY_ENABLED"] = "false"
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"


def prepare_crm() -> None:
    """Migrate the bench CRM and load the demo as `make run` does (its call history included, so the
    per-message queries see realistic table sizes)."""
    url = get_settings().db_url
    migrate.upgrade(url)
    with sessions(url).begin() as session:
        load_demo_crm(session)
    engine_for(url).dispose()


def start_salesbot(model: Path, log_dir: Path) -> tuple[dict[str, subprocess.Popen], dict[str, str], float]:
    """Action server, Rasa server and web app on free ports (bot.services.start_services);
    returns the processes, their URLs and the start-up time (launch to all answering)."""
    ports = {"rasa_port": free_port(), "actions_port": free_port(), "web_port": free_port()}
    started = time.monotonic()
    processes = start_services(**ports, model=model, log_dir=log_dir)
    startup = time.monotonic() - started
    urls = {"rasa": f"http://127.0.0.1:{ports['rasa_port']}", "web": f"http://127.0.0.1:{ports['web_port']}",
            "actions": f"http://127.0.0.1:{ports['actions_port']}"}
    return processes, urls, startup


def start_minimal(model: Path, workdir: Path, log_dir: Path) -> tuple[dict[str, subprocess.Popen], str, float]:
    """The minimal bot's Rasa server (plain REST channel, SQL tracker store on its own file)."""
    port = free_port()
    env = dict(os.environ, BENCH_TRACKER_URL=f"sqlite:///{workdir / 'minimal-tracker.sqlite3'}")
    log_dir.mkdir(parents=True, exist_ok=True)
    cmd = [rasa_executable(), "run", "--model", str(model), "--port", str(port),
           "--credentials", str(MINIMAL_DIR / "credentials.yml"), "--endpoints", str(MINIMAL_DIR / "endpoints.yml")]
    started = time.monotonic()
    with open(log_dir / "minimal-rasa.log", "ab") as output:
        process = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=output, stderr=subprocess.STDOUT)
    processes = {"rasa": process}
    try:
        wait_for(f"http://127.0.0.1:{port}/", 300, process)
    except BaseException:
        stop(processes)
        raise
    return processes, f"http://127.0.0.1:{port}", time.monotonic() - started


def train_minimal(workdir: Path, log_dir: Path) -> tuple[Path, float]:
    """Train the minimal bot into ``workdir`` (never into the repository); returns model and seconds."""
    out = workdir / "minimal-models"
    cmd = [rasa_executable(), "train", "--force", "--config", str(MINIMAL_DIR / "config.yml"),
           "--domain", str(MINIMAL_DIR / "domain.yml"), "--data", str(MINIMAL_DIR / "data"),
           "--out", str(out), "--fixed-model-name", "minimal"]
    return out / "minimal.tar.gz", _timed_training(cmd, workdir, log_dir / "minimal-train.log")


def train_salesbot(workdir: Path, log_dir: Path) -> tuple[Path, float]:
    """A forced training of the sales bot's model into ``workdir`` (BENCH_TRAIN=1, which `make bench`
    sets: ~5 minutes here)."""
    out = workdir / "salesbot-models"
    cmd = [rasa_executable(), "train", "--force", "--config", "config.yml", "--domain", "domain.yml",
           "--data", "data", "--out", str(out), "--fixed-model-name", "salesbot"]
    return out / "salesbot.tar.gz", _timed_training(cmd, PROJECT_ROOT, log_dir / "salesbot-train.log",
                                                    base_env=service_env(), cache=workdir / "train-cache")


def _timed_training(cmd: list[str], cwd: Path, log: Path, base_env: dict[str, str] | None = None,
                    cache: Path | None = None) -> float:
    # A private cache directory: no cached component from an earlier run makes training look fast,
    # and the repository gets no .rasa/ directory.
    env = dict(base_env or os.environ, RASA_CACHE_DIRECTORY=str(cache or cwd / "train-cache"))
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with open(log, "ab") as output:
        subprocess.run(cmd, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT, check=True)
    return time.monotonic() - started


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(c) for c in task.read_text().split()]
        except OSError:
            continue
    return found


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants (from /proc; psutil is not installed)."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            continue
        stack += _children(current)
    return total
