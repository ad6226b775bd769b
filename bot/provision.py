"""Make a CRM ready to serve: migrate it, load the catalogue (and the demo data where wanted), write
jieba's user dictionary, check the messages; and refuse to serve other computers with demo passwords."""

from __future__ import annotations

import sys

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot import call_counts, migrate
from bot.catalogue import write_jieba_userdict
from bot.db import sessions, sqlite_path
from bot.demo_data import load_demo_data, logins_with_published_passwords
from bot.demo_history import load_demo_history
from bot.demo_team import load_demo_team
from bot.outcomes import fill_call_segments
from bot.playbook import load_playbook
from bot.services import secure_tracker_file
from bot.settings import contact_limits, get_settings, is_loopback, var_dir


class DemoPasswordsError(Exception):
    """Demo accounts keep their published passwords while the service would serve other computers."""


def uses_default_crm(url: str | None = None) -> bool:
    """True if the CRM is the default embedded SQLite file (SALESBOT_DB_URL unset or equal to it)."""
    url = url or get_settings().db_url
    default = f"sqlite:///{var_dir() / 'crm.sqlite3'}"
    if url == default:
        return True
    path, default_path = sqlite_path(url), sqlite_path(default)
    return path is not None and default_path is not None and path.resolve() == default_path.resolve()


def prepare(verbose: bool = True, demo: bool | None = None) -> None:
    """Check the playbook, migrate the CRM database, write jieba's user dictionary, and load the
    demo data if wanted.

    The demo data (with demo users whose passwords are published) goes only into the
    default embedded SQLite CRM, or anywhere when asked for (``demo=True``, ``--demo``).
    A malformed playbook (a message missing, a template with an unknown placeholder) stops here
    with PlaybookError, before anything is written, instead of in the middle of a call.
    """
    load_playbook()
    contact_limits()  # a malformed SALESBOT_CALLING_HOURS or limit stops here, not mid-call
    settings = get_settings()
    migrate.upgrade(settings.db_url)
    secure_tracker_file()
    load_demo = demo if demo is not None else uses_default_crm(settings.db_url)
    added = None
    with sessions(settings.db_url).begin() as session:
        if load_demo:
            added = load_demo_crm(session)
        else:
            load_demo_data(session, catalogue_only=True)  # products are configuration, not demo data
    with sessions(settings.db_url).begin() as session:
        write_jieba_userdict(session, var_dir() / "jieba")
    with sessions(settings.db_url).begin() as session:
        filled = fill_call_segments(session)
        call_counts.rebuild(session)  # the dashboard's counts, in step with the calls
    if verbose and filled:
        print(f"Segments recorded for {filled} calls that had none (logged before they were kept, or loaded as demo)")
    if verbose:
        if added is not None:
            print(f"CRM ready ({safe_url(settings.db_url)}); demo rows added: {added}")
        else:
            print(f"CRM ready ({safe_url(settings.db_url)}); product catalogue loaded; not the default embedded "
                  "database, so no demo clients were loaded and no demo users were created "
                  "(use `salesbot prepare --demo` to load them). "
                  "Create accounts with: salesbot user add <login> --name <name> --role agent|trainee|supervisor")


def load_demo_crm(session: Session) -> dict[str, int]:
    """The demo: users, products and clients, three months of calls and follow-ups for the demo clients (so
    the review dashboard shows real shapes), and the team's earlier calls (evidence for what the playbook
    learns, 话术效果). Loading again adds nothing. Returns the rows added."""
    added = load_demo_data(session)
    added.update(load_demo_history(session))
    added.update(load_demo_team(session))
    return added


def safe_url(url: str) -> str:

    return make_url(url).render_as_string(hide_password=True)


def check_demo_accounts(listen: str) -> None:
    """Refuse to serve other computers while a demo account keeps the password the README
    publishes (CliError); on loopback, warn on stderr. Slow: one scrypt check per demo account."""
    with sessions().begin() as session:
        logins = logins_with_published_passwords(session)
    if not logins:
        return
    names = ", ".join(logins)
    how = "\n".join(f"  .venv/bin/salesbot user reset-password {login}" for login in logins)
    if not is_loopback(listen):
        raise DemoPasswordsError(
            f"拒绝启动：SALESBOT_LISTEN={listen} 让其他电脑也能访问本服务，但演示账号 {names} 仍在使用 README 中"
            f"公开的密码。请先修改这些密码（或用 salesbot user disable <login> 停用账号）：\n{how}\n"
            f"Not starting: SALESBOT_LISTEN={listen} serves other computers, but the demo accounts {names} still "
            "have the passwords published in the README. Change them first (commands above) or disable them.")
    print(f"警告：演示账号 {names} 仍在使用 README 中公开的密码；现在只有本机能访问（SALESBOT_LISTEN={listen}）。"
          f"给其他电脑使用前请先修改：\n{how}\n"
          f"Warning: the demo accounts {names} still have their published passwords; only this computer can "
          "log in now. Change them before serving other computers.", file=sys.stderr, flush=True)
