"""`salesbot` command line: prepare the CRM, train, and run the three services."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from bot.settings import PROJECT_ROOT, get_settings, var_dir

RASA_PORT, ACTIONS_PORT, WEB_PORT = 5005, 5055, 8000


def prepare(verbose: bool = True) -> None:
    """Migrate the CRM database, load missing demo data, write jieba's user dictionary."""
    from bot import migrate
    from bot.catalogue import write_jieba_userdict
    from bot.db import sessions
    from bot.demo_data import load_demo_data

    settings = get_settings()
    migrate.upgrade(settings.db_url)
    with sessions(settings.db_url).begin() as session:
        added = load_demo_data(session)
    with sessions(settings.db_url).begin() as session:
        write_jieba_userdict(session, var_dir() / "jieba")
    if verbose:
        print(f"CRM ready ({_safe_url(settings.db_url)}); demo rows added: {added}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def service_env(actions_port: int = ACTIONS_PORT) -> dict[str, str]:
    """Environment for the child processes: every setting resolved to a concrete value."""
    from bot.action_server import action_secret

    settings = get_settings()
    env = dict(os.environ)
    env.update(
        SALESBOT_DB_URL=settings.db_url,
        SALESBOT_TRACKER_URL=settings.tracker_url,
        SALESBOT_ACTION_URL=os.environ.get("SALESBOT_ACTION_URL") or f"http://127.0.0.1:{actions_port}/webhook",
        SALESBOT_ACTION_SECRET=action_secret(settings.secret),
        SALESBOT_SECRET=settings.secret,
        RASA_TELEMETRY_ENABLED="false",
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONUNBUFFERED="1",
    )
    return env


def _rasa() -> str:
    return str(Path(sys.executable).with_name("rasa"))


def train(force: bool = False) -> Path:
    """Train unless Rasa's fingerprint says data and config are unchanged; returns the model."""
    models = PROJECT_ROOT / "models"
    cmd = [_rasa(), "train", "--config", "config.yml", "--domain", "domain.yml", "--data", "data",
           "--out", str(models), "--fixed-model-name", "salesbot"]
    if force:
        cmd.append("--force")
    subprocess.run(cmd, cwd=PROJECT_ROOT, env=service_env(), check=True)
    return models / "salesbot.tar.gz"


def web_origins(web_port: int) -> list[str]:
    """Origins whose pages may talk to Rasa from a browser: the web app's, and any public one
    configured for a deployment behind a proxy (SALESBOT_PUBLIC_ORIGIN, comma-separated)."""
    origins = [f"http://127.0.0.1:{web_port}", f"http://localhost:{web_port}"]
    extra = os.environ.get("SALESBOT_PUBLIC_ORIGIN", "")
    return origins + [o.strip().rstrip("/") for o in extra.split(",") if o.strip()]


def service_commands(rasa_port: int, actions_port: int, web_port: int, model: Path) -> dict[str, list[str]]:
    # Rasa's own HTTP API stays off (no --enable-api): only our token-checking channels answer.
    return {
        "actions": [sys.executable, "-m", "bot.action_server", "--port", str(actions_port)],
        "rasa": [_rasa(), "run", "--model", str(model), "--port", str(rasa_port),
                 "--credentials", "credentials.yml", "--endpoints", "endpoints.yml",
                 "--cors", *web_origins(web_port)],
        "web": [sys.executable, "-m", "bot.web", "--port", str(web_port),
                "--rasa-url", f"http://127.0.0.1:{rasa_port}"],
    }


def wait_for(url: str, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {timeout:.0f}s")


def stop(processes: dict[str, subprocess.Popen]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 15
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_services(rasa_port: int = RASA_PORT, actions_port: int = ACTIONS_PORT, web_port: int = WEB_PORT,
                   model: Path | None = None, log_dir: Path | None = None) -> dict[str, subprocess.Popen]:
    """Start actions, Rasa and the web app; returns once all three answer."""
    model = model or PROJECT_ROOT / "models" / "salesbot.tar.gz"
    env = service_env(actions_port)
    processes: dict[str, subprocess.Popen] = {}
    try:
        for name, cmd in service_commands(rasa_port, actions_port, web_port, model).items():
            output = None
            if log_dir is not None:
                log_dir.mkdir(parents=True, exist_ok=True)
                output = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives with the process
            processes[name] = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=output,
                                               stderr=subprocess.STDOUT if output else None)
        wait_for(f"http://127.0.0.1:{actions_port}/health", 120, processes["actions"])
        wait_for(f"http://127.0.0.1:{web_port}/health", 60, processes["web"])
        wait_for(f"http://127.0.0.1:{rasa_port}/", 300, processes["rasa"])
    except BaseException:
        stop(processes)
        raise
    return processes


def run(args: argparse.Namespace) -> int:
    prepare()
    model = train()
    processes = start_services(args.rasa_port, args.actions_port, args.web_port, model)
    print(
        "\n电话销售助手已启动 / Sales assistant is up:\n"
        f"  Web app (widget, review): http://localhost:{args.web_port}\n"
        f"  Rasa server (REST, socket.io): http://localhost:{args.rasa_port}"
        f"  (POST /webhooks/rest/webhook)\n"
        f"  Action server: http://localhost:{args.actions_port}/webhook\n"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )
    # Ctrl-C reaches the whole process group: the children stop on their own, and
    # their exit must not be reported as a failure.
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        while not stopping.wait(1):
            exited = [name for name, p in processes.items() if p.poll() is not None]
            if exited and not stopping.wait(0.5):
                print(f"stopped: {', '.join(exited)} exited", file=sys.stderr)
                return 1
        print("\nstopping ...", flush=True)
        return 0
    finally:
        stop(processes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="salesbot", description="中文电话销售助手")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("prepare", help="migrate the CRM, load demo data, write the jieba dictionary")
    train_parser = sub.add_parser("train", help="train the model if data or config changed")
    train_parser.add_argument("--force", action="store_true")
    run_parser = sub.add_parser("run", help="prepare, train and start all services")
    run_parser.add_argument("--rasa-port", type=int, default=RASA_PORT)
    run_parser.add_argument("--actions-port", type=int, default=ACTIONS_PORT)
    run_parser.add_argument("--web-port", type=int, default=WEB_PORT)
    args = parser.parse_args(argv)
    if args.command == "prepare":
        prepare()
        return 0
    if args.command == "train":
        prepare(verbose=False)
        train(args.force)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
