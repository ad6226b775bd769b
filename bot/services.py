"""Process supervision: the commands, environment and start-up checks of the three services
(action server, Rasa, web app), shared by `salesbot run`, `salesbot deploy`, the benchmark and
the tests."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bot.db import secure_sqlite_file
from bot.settings import PROJECT_ROOT, action_url, get_settings, is_loopback, listen_address, public_origins

RASA_PORT, ACTIONS_PORT, WEB_PORT = 5005, 5055, 8000


def secure_tracker_file() -> None:
    """Rasa creates the tracker store's SQLite file itself: create it first, owner-only (0600)."""
    secure_sqlite_file(get_settings().tracker_url)


def service_env(actions_port: int = ACTIONS_PORT) -> dict[str, str]:
    """Environment for the child processes: every setting resolved to a concrete value."""
    settings = get_settings()
    env = dict(os.environ)
    env.update(
        SALESBOT_DB_URL=settings.db_url,
        SALESBOT_TRACKER_URL=settings.tracker_url,
        SALESBOT_ACTION_URL=action_url(actions_port),
        SALESBOT_SECRET=settings.secret,
        RASA_TELEMETRY_ENABLED="false",
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONUNBUFFERED="1",
    )
    return env


def rasa_executable() -> str:
    return str(Path(sys.executable).with_name("rasa"))


def web_origins(web_port: int) -> list[str]:
    """Origins whose pages may talk to Rasa from a browser, each named exactly (no patterns):

    - the web app's own on this computer (``http://127.0.0.1:<port>``, ``http://localhost:<port>``);
    - when it serves other computers (SALESBOT_LISTEN not loopback), the addresses and names this
      host answers to on that port (the page sends the browser to the host it was loaded from);
    - SALESBOT_PUBLIC_ORIGIN (comma-separated): any other name, HTTPS or a proxy in front.

    Rasa's channels need a token in every request, never a cookie: CORS only keeps other sites'
    pages from reading replies, so nothing else is admitted (http://evil.example:8000 included)."""
    hosts = ["127.0.0.1", "localhost"]
    listen = listen_address()
    if not is_loopback(listen):
        hosts += _own_names(listen)
    origins = [f"http://{f'[{h}]' if ':' in h else h}:{web_port}" for h in dict.fromkeys(hosts)]
    origins += public_origins()
    return [_exactly(origin) for origin in dict.fromkeys(origins)]


def _own_names(listen: str) -> list[str]:
    """The names and addresses other computers reach this host by: the listen address itself, or
    for a wildcard (0.0.0.0, ::) the host name, its full name and every address they resolve to,
    plus the address of the interface that routes outwards."""
    import ipaddress
    import socket

    try:
        if not ipaddress.ip_address(listen.strip("[]")).is_unspecified:
            return [listen.strip("[]")]
    except ValueError:
        return [listen]  # a host name
    names = [socket.gethostname(), socket.getfqdn()]
    for name in list(names):
        with contextlib.suppress(OSError):
            names += [info[4][0] for info in socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe, contextlib.suppress(OSError):
        probe.connect(("192.0.2.254", 9))  # sends nothing: picks the outgoing interface
        names.append(probe.getsockname()[0])
    return [n.split("%")[0] for n in names if n and not is_loopback(n)]


def _exactly(origin: str) -> str:
    """Sanic-CORS reads an origin with ``*``, ``\\``, ``]`` or ``?`` as a regular expression matched at
    the start only: such an origin (an IPv6 one) becomes an anchored, escaped expression."""
    return rf"{re.escape(origin)}$" if any(c in origin for c in "*\\]?") else origin


def rasa_command(rasa_port: int, model: Path, web_port: int, interface: str | None = None) -> list[str]:
    """Rasa on ``interface`` (default SALESBOT_LISTEN: loopback unless configured)."""
    # Rasa's own HTTP API stays off (no --enable-api): only our token-checking channels answer.
    return [rasa_executable(), "run", "--model", str(model), "--interface", interface or listen_address(),
            "--port", str(rasa_port), "--credentials", "credentials.yml", "--endpoints", "endpoints.yml",
            "--cors", *web_origins(web_port)]


def service_commands(rasa_port: int, actions_port: int, web_port: int, model: Path) -> dict[str, list[str]]:
    """The three services; the web app and Rasa on SALESBOT_LISTEN, the action server on loopback."""
    return {
        "actions": [sys.executable, "-m", "bot.action_server", "--port", str(actions_port)],
        "rasa": rasa_command(rasa_port, model, web_port),
        # Browsers find Rasa on the host they loaded the page from, on rasa_port.
        "web": [sys.executable, "-m", "bot.web", "--host", listen_address(), "--port", str(web_port),
                "--rasa-url", f":{rasa_port}"],
    }


def local_host(listen: str) -> str:
    """The host name this computer reaches a service listening on ``listen`` by (for health checks)."""
    if listen in ("0.0.0.0", "::", "[::]"):
        return "127.0.0.1"
    return f"[{listen.strip('[]')}]" if ":" in listen else listen


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
    host = local_host(listen_address())
    checks = {"actions": f"http://127.0.0.1:{actions_port}/health", "web": f"http://{host}:{web_port}/health",
              "rasa": f"http://{host}:{rasa_port}/"}
    return start_processes(service_commands(rasa_port, actions_port, web_port, model), checks,
                           service_env(actions_port), log_dir=log_dir)


def start_processes(commands: dict[str, list[str]], checks: dict[str, str], env: dict[str, str],
                    log_dir: Path | None = None, extra_env: dict[str, dict[str, str]] | None = None,
                    ) -> dict[str, subprocess.Popen]:
    """Start each command with ``env`` (plus its ``extra_env``); return once each one's URL answers."""
    secure_tracker_file()
    processes: dict[str, subprocess.Popen] = {}
    try:
        for name, cmd in commands.items():
            output = None
            if log_dir is not None:
                log_dir.mkdir(parents=True, exist_ok=True)
                output = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives with the process
            processes[name] = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env={**env, **(extra_env or {}).get(name, {})},
                                               stdout=output, stderr=subprocess.STDOUT if output else None)
        for name, url in checks.items():
            wait_for(url, 300 if name.startswith("rasa") else 120, processes[name])
    except BaseException:
        stop(processes)
        raise
    return processes
