"""The import of a 50,000-row client sheet (issue 21), measured end to end: reading the .xlsx, checking
every row against the CRM, writing the clients and their change-log entries in one transaction.

The sheet is written as Excel writes one (tests/sheets.py: shared strings, date cells), with every
column the import reads and a distinct client number, name and phone per row; the CRM is its own
SQLite file in a temporary directory with two agents. Timed in this process with the playbook already
loaded (as in the running web app), then again as `salesbot import clients FILE` in a new process
(Python, the playbook and the import: what a team lead waits for at the command line), and the same
file imported a second time (every row unchanged: nothing written).

`python -m bench.imports` runs it alone and prints the figures; `make bench` runs it as one step
(bench/run.py) and reports it under its own heading (bench/report.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot import migrate
from bot.book import importer, sheets
from bot.db import engine_for, sessions
from bot.models import User
from bot.playbook import playbook
from bot.settings import PROJECT_ROOT
from tests.sheets import write_xlsx

ROWS = 50_000
HEADER = ["客户号", "姓名", "手机号", "性别", "出生日期", "职业", "单位", "资产", "号码来源", "推荐人", "风险测评等级",
          "测评日期", "归属坐席", "是否同意营销"]
SOURCES = ("我行客户", "网点留资", "活动登记", "线上申请", "他人推荐")


def sheet_rows(count: int = ROWS) -> list[list[Any]]:
    """A month's prospects as a marketing department's sheet has them."""
    return [[f"K{n:08d}", f"客户{n:05d}", 15000000000 + n, "男" if n % 2 else "女",
             datetime(1955, 1, 1) + timedelta(days=(n * 7) % 18000), ("职员", "教师", "个体户", "医生")[n % 4],
             f"单位{n % 997}", 10_000 * (n % 300), SOURCES[n % 5], "王华" if n % 5 == 4 else None, f"C{1 + n % 5}",
             datetime(2026, 1, 1) + timedelta(days=n % 300), ("agent01", "周婷")[n % 2], ("是", "否", None)[n % 3]]
            for n in range(count)]


def _crm(path: Path) -> str:
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    with sessions(url).begin() as session:
        session.add_all([User(login="agent01", name="李明", role="agent", password_hash="!"),
                         User(login="agent02", name="周婷", role="agent", password_hash="!")])
    engine_for(url).dispose()
    return url


def _import(url: str, path: Path) -> tuple[float, float, importer.Outcome]:
    started = time.monotonic()
    sheet = sheets.read_path(path)
    read = time.monotonic() - started
    with sessions(url).begin() as session:
        outcome = importer.run_import(session, "clients", sheet, user=None)
    engine_for(url).dispose()
    return read, time.monotonic() - started, outcome


def measure(rows: int = ROWS) -> dict[str, Any]:
    saved = os.environ.get("SALESBOT_DB_URL")
    try:
        with tempfile.TemporaryDirectory(prefix="salesbot-import-") as tmp:
            folder = Path(tmp)
            path = write_xlsx(folder / "clients.xlsx", HEADER, sheet_rows(rows))
            url = _crm(folder / "crm.sqlite3")
            playbook()  # loaded once per process, before the first import (the web app at start-up)
            read, total, outcome = _import(url, path)
            _read, again, repeat = _import(url, path)
            cli_url = _crm(folder / "cli.sqlite3")
            started = time.monotonic()
            done = subprocess.run([sys.executable, "-m", "bot.cli", "import", "clients", str(path)], cwd=PROJECT_ROOT,
                                  env=dict(os.environ, SALESBOT_DB_URL=cli_url), capture_output=True, text=True,
                                  check=False)
            cli = time.monotonic() - started
            return {"rows": rows, "file_bytes": path.stat().st_size, "read_seconds": read, "total_seconds": total,
                    "created": outcome.counts["create"], "refused": outcome.counts["refused"],
                    "reimport_seconds": again, "reimport_unchanged": repeat.counts["unchanged"],
                    "cli_seconds": cli, "cli_exit": done.returncode}
    finally:
        if saved is None:
            os.environ.pop("SALESBOT_DB_URL", None)
        else:
            os.environ["SALESBOT_DB_URL"] = saved


def markdown_lines(result: dict[str, Any] | None) -> list[str]:
    """The report's section (bench/report.py)."""
    if not result:
        return []
    return [
        "## Importing clients (issue 21)",
        "",
        f"A {result['rows']:,}-row `.xlsx` ({result['file_bytes'] / 1024**2:.1f} MB, every column the import reads; "
        "`bench/imports.py`) imported into a CRM of its own: read, every row checked, all written in one "
        "transaction with a change-log entry per client. Target: well under a minute on this 2-core machine.",
        "",
        "| read the sheet | read, check and write | again (all unchanged) | `salesbot import clients` (new process) |",
        "|---|---|---|---|",
        f"| {result['read_seconds']:.1f} s | {result['total_seconds']:.1f} s ({result['created']:,} created, "
        f"{result['refused']} refused) | {result['reimport_seconds']:.1f} s ({result['reimport_unchanged']:,} "
        f"unchanged) | {result['cli_seconds']:.1f} s (exit {result['cli_exit']}) |",
        "",
        "The new process's time includes Python's start-up and loading the playbook (the compliance model is "
        "trained on load); the web app has it loaded when the supervisor uploads.",
        "",
    ]


if __name__ == "__main__":
    figures = measure()
    print(*markdown_lines(figures), json.dumps(figures, ensure_ascii=False), sep="\n")
