"""`salesbot` command line: prepare the CRM, train, and run the three services."""

from __future__ import annotations

import argparse
import getpass
import re
import signal
import sys
import threading

from sqlalchemy import inspect, select
from sqlalchemy.exc import OperationalError

from bot import deploy, throttle
from bot.auth import revoke_tokens
from bot.crm import get_user
from bot.db import sessions
from bot.models import ROLES, User
from bot.passwords import hash_password
from bot.playbook import PlaybookError
from bot.provision import DemoPasswordsError, check_demo_accounts, prepare, safe_url
from bot.services import ACTIONS_PORT, RASA_PORT, WEB_PORT, start_services, stop
from bot.settings import SecretError, SettingError, get_settings, var_dir
from bot.training import train


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
    inspector = inspect(session.get_bind())
    if not inspector.has_table("users") or "token_version" not in {c["name"] for c in inspector.get_columns("users")}:
        raise CliError("CRM 数据库还没有初始化或不是最新结构，请先运行 salesbot prepare。")


def _read_password(from_stdin: bool) -> str:
    """The new password: one line from stdin, or typed twice (not echoed)."""
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
    except (CliError, DemoPasswordsError, PlaybookError, SecretError, SettingError) as error:
        print(f"salesbot: {error}", file=sys.stderr)
        return 1
    except OperationalError as error:
        print(f"salesbot: 无法访问 CRM 数据库（{safe_url(get_settings().db_url)}）：{error.orig}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
