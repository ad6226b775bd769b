"""`salesbot` command line: prepare the CRM, train, and run the three services."""

from __future__ import annotations

import argparse
import fcntl
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy.exc import OperationalError

from bot import deploy
from bot.services import (
    ACTIONS_PORT,
    RASA_PORT,
    WEB_PORT,
    rasa_executable,
    secure_tracker_file,
    service_env,
    start_services,
    stop,
)
from bot.settings import PROJECT_ROOT, SecretError, get_settings, is_loopback, var_dir


def uses_default_crm(url: str | None = None) -> bool:
    """True if the CRM is the default embedded SQLite file (SALESBOT_DB_URL unset or equal to it)."""
    from bot.db import sqlite_path

    url = url or get_settings().db_url
    default = f"sqlite:///{var_dir() / 'crm.sqlite3'}"
    if url == default:
        return True
    path, default_path = sqlite_path(url), sqlite_path(default)
    return path is not None and default_path is not None and path.resolve() == default_path.resolve()


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
    cmd = [rasa_executable(), "train", "--config", "config.yml", "--domain", "domain.yml", "--data", "data",
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


def check_demo_accounts(listen: str) -> None:
    """Refuse to serve other computers while a demo account keeps the password the README
    publishes (CliError); on loopback, warn on stderr. Slow: one scrypt check per demo account."""
    from bot.db import sessions
    from bot.demo_data import logins_with_published_passwords

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
