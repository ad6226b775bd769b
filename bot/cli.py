"""`salesbot` command line: prepare the CRM, train, and run the three services."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from sqlalchemy.exc import OperationalError

from bot.settings import PROJECT_ROOT, SecretError, get_settings, var_dir

RASA_PORT, ACTIONS_PORT, WEB_PORT = 5005, 5055, 8000


def uses_default_crm(url: str | None = None) -> bool:
    """True if the CRM is the default embedded SQLite file (SALESBOT_DB_URL unset or equal to it)."""
    from bot.db import sqlite_path

    url = url or get_settings().db_url
    default = f"sqlite:///{var_dir() / 'crm.sqlite3'}"
    if url == default:
        return True
    path, default_path = sqlite_path(url), sqlite_path(default)
    return path is not None and default_path is not None and path.resolve() == default_path.resolve()


def secure_tracker_file() -> None:
    """Rasa creates the tracker store's SQLite file itself: create it first, owner-only (0600)."""
    from bot.db import secure_sqlite_file

    secure_sqlite_file(get_settings().tracker_url)


def prepare(verbose: bool = True, demo: bool | None = None) -> None:
    """Migrate the CRM database, write jieba's user dictionary, and load the demo data if wanted.

    The demo data (with demo users whose passwords are published) goes only into the
    default embedded SQLite CRM, or anywhere when asked for (``demo=True``, ``--demo``).
    """
    from bot import migrate
    from bot.catalogue import write_jieba_userdict
    from bot.db import sessions
    from bot.demo_data import load_demo_data
    from bot.demo_history import load_demo_history

    settings = get_settings()
    migrate.upgrade(settings.db_url)
    secure_tracker_file()
    load_demo = demo if demo is not None else uses_default_crm(settings.db_url)
    added = None
    with sessions(settings.db_url).begin() as session:
        if load_demo:
            added = load_demo_data(session)
            # Three months of calls and follow-ups for the demo clients, so the review dashboard
            # shows real shapes; only with the demo clients, and loading again adds nothing.
            added.update(load_demo_history(session))
        else:
            load_demo_data(session, catalogue_only=True)  # products are configuration, not demo data
    with sessions(settings.db_url).begin() as session:
        write_jieba_userdict(session, var_dir() / "jieba")
    if verbose:
        if added is not None:
            print(f"CRM ready ({_safe_url(settings.db_url)}); demo rows added: {added}")
        else:
            print(f"CRM ready ({_safe_url(settings.db_url)}); product catalogue loaded; not the default embedded "
                  "database, so no demo clients were loaded and no demo users were created "
                  "(use `salesbot prepare --demo` to load them). "
                  "Create accounts with: salesbot user add <login> --name <name> --role agent|trainee|supervisor")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def service_env(actions_port: int = ACTIONS_PORT) -> dict[str, str]:
    """Environment for the child processes: every setting resolved to a concrete value."""
    settings = get_settings()
    env = dict(os.environ)
    env.update(
        SALESBOT_DB_URL=settings.db_url,
        SALESBOT_TRACKER_URL=settings.tracker_url,
        SALESBOT_ACTION_URL=os.environ.get("SALESBOT_ACTION_URL") or f"http://127.0.0.1:{actions_port}/webhook",
        SALESBOT_SECRET=settings.secret,
        RASA_TELEMETRY_ENABLED="false",
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONUNBUFFERED="1",
    )
    return env


def _rasa() -> str:
    return str(Path(sys.executable).with_name("rasa"))


# Everything a trained model is made from: the config, domain and data, jieba's user dictionary
# (written by `prepare` from the catalogue) and the code of our own pipeline components.
TRAINING_INPUTS = ("config.yml", "domain.yml", "data", "var/jieba", "bot/nlu", "bot/rasa_ext")


def training_inputs_digest() -> str:
    """A digest of every training input and of the Rasa version: equal digests, same model."""
    import hashlib

    import rasa

    digest = hashlib.sha256(rasa.__version__.encode())
    for name in TRAINING_INPUTS:
        path = PROJECT_ROOT / name
        files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts) \
            if path.is_dir() else [path]
        for file in files:
            if file.exists():
                digest.update(str(file.relative_to(PROJECT_ROOT)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def train(force: bool = False) -> Path:
    """Train unless nothing the model is made from has changed; returns the model.

    The digest check takes a fraction of a second, where Rasa's own fingerprint check starts Rasa
    and reads all the data (most of a minute): `make test` and every test session ask this again
    right after training."""
    models = PROJECT_ROOT / "models"
    model, stamp = models / "salesbot.tar.gz", models / "salesbot.inputs"
    cmd = [_rasa(), "train", "--config", "config.yml", "--domain", "domain.yml", "--data", "data",
           "--out", str(models), "--fixed-model-name", "salesbot"]
    if force:
        cmd.append("--force")
    models.mkdir(exist_ok=True)
    # One training at a time per checkout: a second `salesbot train` (another test run, make run)
    # waits, then finds the inputs unchanged instead of training the same model beside it.
    with open(models / ".train.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        inputs = training_inputs_digest()
        if not force and model.exists() and stamp.exists() and stamp.read_text().strip() == inputs:
            print(f"模型已是最新（训练数据和配置没有变化）：{model}")
            return model
        stamp.unlink(missing_ok=True)
        subprocess.run(cmd, cwd=PROJECT_ROOT, env=service_env(), check=True)
        stamp.write_text(inputs + "\n")
    return model


def web_origins(web_port: int) -> list[str]:
    """Origins whose pages may talk to Rasa from a browser, each named exactly (no patterns):

    - the web app's own on this computer (``http://127.0.0.1:<port>``, ``http://localhost:<port>``);
    - when it serves other computers (SALESBOT_LISTEN not loopback), the addresses and names this
      host answers to on that port (the page sends the browser to the host it was loaded from);
    - SALESBOT_PUBLIC_ORIGIN (comma-separated): any other name, HTTPS or a proxy in front.

    Rasa's channels need a token in every request, never a cookie: CORS only keeps other sites'
    pages from reading replies, so nothing else is admitted (http://evil.example:8000 included)."""
    from bot.settings import is_loopback, listen_address

    hosts = ["127.0.0.1", "localhost"]
    listen = listen_address()
    if not is_loopback(listen):
        hosts += _own_names(listen)
    origins = [f"http://{f'[{h}]' if ':' in h else h}:{web_port}" for h in dict.fromkeys(hosts)]
    extra = os.environ.get("SALESBOT_PUBLIC_ORIGIN", "")
    origins += [o.strip().rstrip("/") for o in extra.split(",") if o.strip()]
    return [_exactly(origin) for origin in dict.fromkeys(origins)]


def _own_names(listen: str) -> list[str]:
    """The names and addresses other computers reach this host by: the listen address itself, or
    for a wildcard (0.0.0.0, ::) the host name, its full name and every address they resolve to,
    plus the address of the interface that routes outwards."""
    import ipaddress
    import socket

    from bot.settings import is_loopback

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
    from bot.settings import listen_address

    # Rasa's own HTTP API stays off (no --enable-api): only our token-checking channels answer.
    return [_rasa(), "run", "--model", str(model), "--interface", interface or listen_address(),
            "--port", str(rasa_port), "--credentials", "credentials.yml", "--endpoints", "endpoints.yml",
            "--cors", *web_origins(web_port)]


def service_commands(rasa_port: int, actions_port: int, web_port: int, model: Path) -> dict[str, list[str]]:
    """The three services; the web app and Rasa on SALESBOT_LISTEN, the action server on loopback."""
    from bot.settings import listen_address

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
    from bot.settings import listen_address

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


def check_demo_accounts(listen: str) -> None:
    """Refuse to serve other computers while a demo account keeps the password the README
    publishes (CliError); on loopback, warn on stderr. Slow: one scrypt check per demo account."""
    from bot.db import sessions
    from bot.demo_data import logins_with_published_passwords
    from bot.settings import is_loopback

    with sessions().begin() as session:
        logins = logins_with_published_passwords(session)
    if not logins:
        return
    names = ", ".join(logins)
    how = "\n".join(f"  .venv/bin/salesbot user reset-password {login}" for login in logins)
    if not is_loopback(listen):
        raise CliError(
            f"拒绝启动：SALESBOT_LISTEN={listen} 让其他电脑也能访问本服务，但演示账号 {names} 仍在使用 README 中"
            f"公开的密码。请先修改这些密码（或用 salesbot user disable <login> 停用账号）：\n{how}\n"
            f"Not starting: SALESBOT_LISTEN={listen} serves other computers, but the demo accounts {names} still "
            "have the passwords published in the README. Change them first (commands above) or disable them.")
    print(f"警告：演示账号 {names} 仍在使用 README 中公开的密码；现在只有本机能访问（SALESBOT_LISTEN={listen}）。"
          f"给其他电脑使用前请先修改：\n{how}\n"
          f"Warning: the demo accounts {names} still have their published passwords; only this computer can "
          "log in now. Change them before serving other computers.", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    if args.rasa_servers > 1 and not get_settings().redis_url:
        raise CliError("多个 Rasa 服务器共用对话存储时必须设置 SALESBOT_REDIS_URL（Redis 锁存储），"
                       "对话存储建议用 PostgreSQL（SALESBOT_TRACKER_URL=postgresql://...）。")
    prepare(demo=True if args.demo else None)
    check_demo_accounts(get_settings().listen)  # before minutes of training, not after
    model = train()
    if args.rasa_servers > 1 or args.entry_port:
        from bot import deploy

        entry_port = args.entry_port or deploy.DEFAULT_ENTRY_PORT
        rasa_ports = [args.rasa_port + n for n in range(args.rasa_servers)]
        try:
            processes = deploy.start_scaled_services(rasa_ports, args.actions_port, args.web_port, entry_port,
                                                     model, prefix=var_dir() / "nginx")
        except deploy.DeployError as error:
            raise CliError(str(error)) from error
        print(
            "\n电话销售助手已启动 / Sales assistant is up:\n"
            f"  Entry point (pages, /socket.io, /webhooks): http://localhost:{entry_port}\n"
            f"  Rasa servers: {', '.join(f'127.0.0.1:{p}' for p in rasa_ports)}; web app 127.0.0.1:{args.web_port};"
            f" action server 127.0.0.1:{args.actions_port}\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
    else:
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


class CliError(Exception):
    """A user mistake: printed as one line, exit status 1."""


MIN_PASSWORD_CHARS = 8
LOGIN_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}"


def _user_commands_ready(session) -> None:
    from sqlalchemy import inspect

    inspector = inspect(session.get_bind())
    if not inspector.has_table("users") or "token_version" not in {c["name"] for c in inspector.get_columns("users")}:
        raise CliError("CRM 数据库还没有初始化或不是最新结构，请先运行 salesbot prepare。")


def _read_password(from_stdin: bool) -> str:
    """The new password: one line from stdin, or typed twice (not echoed)."""
    import getpass

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("新密码 / new password: ")
        if getpass.getpass("再输入一次 / repeat: ") != password:
            raise CliError("两次输入的密码不一致。")
    if len(password) < MIN_PASSWORD_CHARS:
        raise CliError(f"密码太短：至少 {MIN_PASSWORD_CHARS} 个字符。")
    return password


def user_command(args: argparse.Namespace) -> int:
    """salesbot user add|disable|enable|reset-password|list."""
    import re

    from sqlalchemy import select

    from bot import throttle
    from bot.auth import revoke_tokens
    from bot.crm import get_user
    from bot.db import sessions
    from bot.models import User
    from bot.passwords import hash_password

    with sessions().begin() as session:
        _user_commands_ready(session)
        if args.action == "list":
            users = list(session.scalars(select(User).order_by(User.role, User.login)))
            if not users:
                print("还没有用户。用 salesbot user add <login> --name <姓名> --role agent 创建。")
            for user in users:
                status = "启用" if user.active else "已停用"
                print(f"{user.login:<20} {user.role:<11} {status:<4} {user.name}")
            return 0
        login = args.login.strip()
        exists = get_user(session, login) is not None

    password_hash = None
    if args.action == "add":
        if not re.fullmatch(LOGIN_PATTERN, login):
            raise CliError("登录名只能包含字母、数字和 . _ @ -，最长 64 个字符。")
        if exists:
            raise CliError(f"用户 {login} 已存在。")
        name = args.name.strip()
        if not name or len(name) > 64:
            raise CliError("请用 --name 给出姓名（最多 64 个字符）。")
    elif not exists:
        raise CliError(f"没有用户 {login}。")
    if args.action in ("add", "reset-password"):
        # Typed (or piped) before the write transaction opens: no transaction waits on a person.
        password_hash = hash_password(_read_password(args.password_stdin))

    with sessions().begin() as session:
        user = get_user(session, login)
        if args.action == "add":
            if user is not None:
                raise CliError(f"用户 {login} 已存在。")
            session.add(User(login=login, name=name, role=args.role, password_hash=password_hash, active=True))
            done = f"已创建用户 {login}（{name}，{args.role}）。"
        elif user is None:
            raise CliError(f"没有用户 {login}。")
        elif args.action == "disable":
            user.active = False
            revoke_tokens(user)
            done = f"已停用 {login}：其所有登录会话和令牌立即失效。"
        elif args.action == "enable":
            user.active = True
            throttle.clear_login(session, login)
            done = f"已启用 {login}。"
        else:  # reset-password
            user.password_hash = password_hash
            revoke_tokens(user)
            throttle.clear_login(session, login)
            done = f"已重置 {login} 的密码：其所有登录会话和令牌已失效，需用新密码重新登录。"
    print(done)  # after the commit
    return 0


def _user_parser(sub) -> None:
    from bot.models import ROLES

    user_parser = sub.add_parser("user", help="manage accounts (add, disable, enable, reset-password, list)")
    actions = user_parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="create an account (password typed twice, or --password-stdin)")
    add.add_argument("login")
    add.add_argument("--name", required=True, help="the person's name, e.g. 李明")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--password-stdin", action="store_true", help="read the password from one line of stdin")
    for action, text in (("disable", "deactivate an account and revoke all its sessions and tokens"),
                         ("enable", "reactivate an account")):
        actions.add_parser(action, help=text).add_argument("login")
    reset = actions.add_parser("reset-password", help="set a new password and revoke all sessions and tokens")
    reset.add_argument("login")
    reset.add_argument("--password-stdin", action="store_true", help="read the password from one line of stdin")
    actions.add_parser("list", help="list accounts")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="salesbot", description="中文电话销售助手")
    sub = parser.add_subparsers(dest="command", required=True)
    prepare_parser = sub.add_parser(
        "prepare", help="migrate the CRM, write the jieba dictionary; load the demo data into the default "
                        "embedded database (or with --demo)")
    prepare_parser.add_argument("--demo", action="store_true",
                                help="load the demo data (demo users with published passwords) into any database")
    train_parser = sub.add_parser("train", help="train the model if data or config changed")
    train_parser.add_argument("--force", action="store_true")
    run_parser = sub.add_parser("run", help="prepare, train and start all services")
    run_parser.add_argument("--rasa-port", type=int, default=RASA_PORT)
    run_parser.add_argument("--actions-port", type=int, default=ACTIONS_PORT)
    run_parser.add_argument("--web-port", type=int, default=WEB_PORT)
    run_parser.add_argument("--demo", action="store_true", help="load the demo data even into a non-default database")
    run_parser.add_argument("--rasa-servers", type=int, default=1, metavar="N",
                            help="N Rasa servers on --rasa-port and the ports after it, behind nginx (needs "
                                 "SALESBOT_REDIS_URL; see README, Deployment)")
    run_parser.add_argument("--entry-port", type=int, metavar="PORT",
                            help="nginx in front of everything on this port (default 8080 with --rasa-servers > 1)")
    _user_parser(sub)
    from bot import deploy

    deploy.add_parser(sub)
    args = parser.parse_args(argv)
    try:
        if args.command == "prepare":
            prepare(demo=True if args.demo else None)
            return 0
        if args.command == "train":
            prepare(verbose=False)
            train(args.force)
            return 0
        if args.command == "user":
            return user_command(args)
        if args.command == "deploy":
            return deploy.command(args)
        return run(args)
    except (CliError, SecretError) as error:
        print(f"salesbot: {error}", file=sys.stderr)
        return 1
    except OperationalError as error:
        print(f"salesbot: 无法访问 CRM 数据库（{_safe_url(get_settings().db_url)}）：{error.orig}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
