"""`salesbot` command line: prepare the CRM, train, and run the three services."""

from __future__ import annotations

import argparse
import getpass
import signal
import sys
import threading
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from bot import deploy
from bot.book import importer, people, sheets
from bot.db import sessions
from bot.models import ROLES
from bot.playbook import PlaybookError, playbook
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


def _user_commands_ready(session) -> None:
    inspector = inspect(session.get_bind())
    if not inspector.has_table("users") or "token_version" not in {c["name"] for c in inspector.get_columns("users")}:
        raise CliError("CRM 数据库还没有初始化或不是最新结构，请先运行 salesbot prepare。")


def _read_password(from_stdin: bool) -> str:
    """The new password: one line from stdin, or typed twice (not echoed)."""
    if from_stdin:
        password, repeat = (sys.stdin.readline().rstrip("\r\n"),) * 2
    else:
        password = getpass.getpass("新密码 / new password: ")
        repeat = getpass.getpass("再输入一次 / repeat: ")
    problem = people.password_problem(password, repeat)
    if problem:
        raise CliError(problem)
    return password


def user_command(args: argparse.Namespace) -> int:
    """salesbot user add|disable|enable|reset-password|list: the same core functions as the
    supervisor's 账号 tab (bot/book/people.py), by the system (no user) in the change log."""
    texts = playbook().messages.account_texts
    with sessions().begin() as session:
        _user_commands_ready(session)
        if args.action == "list":
            listed = people.accounts(session)
            if not listed:
                print(texts["list_empty"])
            for account in listed:
                status = texts["status_active"] if account["active"] else texts["status_disabled"]
                print(f"{account['login']:<20} {account['role']:<11} {status:<4} {account['name']}")
            return 0
        try:  # refused before a password is typed
            if args.action == "add":
                people.check_new_account(session, args.login, args.name, args.role)
            else:
                people.find(session, args.login)
        except people.AccountError as error:
            raise CliError(str(error)) from None

    password = None
    if args.action in ("add", "reset-password") and not args.one_time:
        # Typed (or piped) before the write transaction opens: no transaction waits on a person.
        password = _read_password(args.password_stdin)
    issued = None
    try:
        with sessions().begin() as session:
            if args.action == "add":
                issued = people.create(session, by=None, login=args.login, name=args.name, role=args.role,
                                       password=password)
                user = issued.user
                done = texts["created"].format(login=user.login, name=user.name, role=user.role)
            elif args.action == "disable":
                user, returned = people.disable(session, by=None, login=args.login)
                done = texts["disabled"].format(login=user.login)
                if returned:  # their clients went to the unassigned pool
                    done += playbook().messages.pool_returned.format(count=returned)
            elif args.action == "enable":
                user = people.enable(session, by=None, login=args.login)
                done = texts["enabled"].format(login=user.login)
            else:  # reset-password
                issued = people.reset(session, by=None, login=args.login, password=password)
                done = texts["reset"].format(login=issued.user.login)
    except people.AccountError as error:
        raise CliError(str(error)) from None
    print(done)  # after the commit
    if issued is not None and issued.one_time_password:
        print(texts["one_time"].format(password=issued.one_time_password, login=issued.user.login))
    return 0


def _password_options(parser) -> None:
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--password-stdin", action="store_true", help="read the password from one line of stdin")
    how.add_argument("--one-time", action="store_true",
                     help="generate a one-time password, print it once; the user sets their own at the first login")


def _user_parser(sub) -> None:
    user_parser = sub.add_parser("user", help="manage accounts (add, disable, enable, reset-password, list)")
    actions = user_parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="create an account (password typed twice, or --password-stdin)")
    add.add_argument("login")
    add.add_argument("--name", required=True, help="the person's name, e.g. 李明")
    add.add_argument("--role", required=True, choices=ROLES)
    _password_options(add)
    for action, text in (("disable", "deactivate an account and revoke all its sessions and tokens"),
                         ("enable", "reactivate an account")):
        actions.add_parser(action, help=text).add_argument("login")
    reset = actions.add_parser("reset-password", help="set a new password and revoke all sessions and tokens")
    reset.add_argument("login")
    _password_options(reset)
    actions.add_parser("list", help="list accounts")


class _ImportProgress:
    """The import's progress on stderr: one line rewritten in place on a terminal, else a line every 10 %."""

    def __init__(self) -> None:
        self.shown: dict[str, int] = {}
        self.texts = playbook().messages.import_texts

    def __call__(self, stage: str, done: int, total: int) -> None:
        percent = 100 * done // max(total, 1)
        terminal = sys.stderr.isatty()
        step = percent if terminal else percent // 10
        if self.shown.get(stage) == step:
            return
        self.shown[stage] = step
        line = self.texts["progress"].format(stage=self.texts[f"stage_{stage}"], percent=percent)
        if terminal:
            print(f"\r{line}", end="\n" if percent >= 100 else "", file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)


def import_command(args: argparse.Namespace) -> int:
    """salesbot import clients|dnc FILE: every refused row printed; exit 0 when the file was written (or a
    dry run found nothing to refuse), 1 when nothing was written because of errors."""
    texts = playbook().messages.import_texts
    kind = "clients" if args.what == "clients" else "do_not_call"
    try:
        sheet = sheets.read_path(Path(args.file))
        with sessions().begin() as session:
            outcome = importer.run_import(session, kind, sheet, user=None, dry_run=args.dry_run,
                                          write_valid=args.write_valid, record=False, progress=_ImportProgress())
    except sheets.SheetError as error:
        raise CliError(str(error)) from error
    except OperationalError:
        raise
    except SQLAlchemyError as error:  # the write failed: the transaction rolled back, nothing changed
        raise CliError(f"{texts['write_failed']}（{type(error).__name__}）") from error
    print(outcome.summary())
    if outcome.columns.ignored:
        print(texts["ignored"].format(columns="、".join(outcome.columns.ignored)))
    for row in outcome.rows:
        if row.action in ("refused", "not_found"):
            key = "refused_row" if row.action == "refused" else "not_found_row"
            print(texts[key].format(row=row.row, name=row.name() or "-", phone=row.shown.get("phone", "-"),
                                    problems="；".join(p["text"] for p in row.problems)))
    print(outcome.message())
    if outcome.status == "refused" and len(outcome.rows) > outcome.count("refused"):
        print(texts["cli_write_valid"])
    return 0 if outcome.written or (args.dry_run and not outcome.count("refused")) else 1


def _import_parser(sub) -> None:
    parser = sub.add_parser("import", help="import clients or the bank's opt-out register from CSV or .xlsx")
    what = parser.add_subparsers(dest="what", required=True)
    for name, text in (("clients", "clients (客户号, 姓名, 手机号 ...): created or updated, all or nothing"),
                       ("dnc", "the opt-out register (手机号): matching clients become do-not-call")):
        command = what.add_parser(name, help=text)
        command.add_argument("file", help="a .csv or .xlsx file; the first non-empty row is the header")
        command.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
        command.add_argument("--write-valid", action="store_true",
                             help="write the rows without problems even if others are refused")


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
    train_parser.add_argument("--out", type=Path, help="where the model goes (default: models/)")
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
    _import_parser(sub)
    deploy.add_parser(sub)
    args = parser.parse_args(argv)
    try:
        if args.command == "prepare":
            prepare(demo=True if args.demo else None)
            return 0
        if args.command == "train":
            prepare(verbose=False)
            train(args.force, models_dir=args.out)
            return 0
        if args.command == "import":
            return import_command(args)
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
