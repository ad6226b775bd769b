"""Importing a team's clients from a sheet, and the bank's opt-out register (issue 21).

Every row is checked first (its problems in Chinese, each naming the column) and matched to the CRM
on the client number (客户号) when the row has one, else on the phone. Then all or nothing: either
every row is written in the caller's one transaction, or nothing is; with ``write_valid`` every row
without a problem is written and the refused ones go into the batch's report. A row whose values
equal the stored ones writes nothing at all. Each written client gets one change-log entry.

Fast enough for 50,000 rows: the CRM's clients and users are read once into dicts, and the writes
are executemany statements. Core: no Sanic, no Rasa; the shells are bot/web/api/imports.py and
`salesbot import`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from bot import access, clock, crm
from bot.book import changes
from bot.book.import_results import Outcome, RowResult, masked
from bot.book.sheets import (
    CellProblem,
    Sheet,
    Words,
    a_date,
    age_on,
    amount,
    cell_text,
    map_columns,
    phone,
    plain_text,
)
from bot.db import batched
from bot.models import Client, FollowUp, ImportBatch, User
from bot.playbook import playbook

KINDS = ("clients", "do_not_call")
# The columns each kind of sheet reads (names of import_columns in messages.yml), and those it needs.
FIELDS = {
    "clients": ("client_no", "name", "phone", "gender", "birth_date", "occupation", "company", "assets",
                "contact_source", "referrer", "risk_tolerance", "risk_assessed_at", "agent", "marketing_consent"),
    "do_not_call": ("phone", "name", "registered_on"),
}
REQUIRED = {"clients": ("name", "phone"), "do_not_call": ("phone",)}
DATES = ("birth_date", "risk_assessed_at", "registered_on")
# What is compared with and written to a matched client (Client's columns).
CLIENT_COLUMNS = ("client_no", "name", "phone", "gender", "age", "birth_date", "occupation", "company", "assets",
                  "contact_source", "referrer", "risk_tolerance", "risk_assessed_at", "agent_id", "marketing_consent",
                  "assigned_at")
STORED = ("id", *CLIENT_COLUMNS, "do_not_call", "dnc_source")
INSERTED = (*CLIENT_COLUMNS, "created_at", "updated_at", "stage", "do_not_call")
Progress = Callable[[str, int, int], None]  # (stage, done, total)


def _messages() -> Any:
    return playbook().messages


class _Book:
    """What the CRM holds that rows are checked against, read once per import."""

    def __init__(self, session: Session) -> None:
        table = Client.__table__
        stored = session.execute(select(*(table.c[name] for name in STORED))).all()
        self.by_phone = {r.phone: r for r in stored}
        self.by_number = {r.client_no: r for r in stored if r.client_no}
        users = session.execute(select(User.id, User.login, User.name, User.role, User.active)).all()
        self.logins = {u.login: u for u in users}
        self.login_of = {u.id: u.login for u in users}
        self.named: dict[str, list[Any]] = defaultdict(list)
        for user in users:
            self.named[user.name].append(user)

    def agent(self, text: str) -> Any:
        """The agent a cell names, by login or by name: active agents only."""
        user = self.logins.get(text)
        if user is None:
            same = self.named.get(text, [])
            if len(same) > 1:
                same = [u for u in same if u.role == "agent" and u.active] or same
            if len(same) > 1:
                raise CellProblem("agent_ambiguous")
            user = same[0] if same else None
        if user is None:
            raise CellProblem("agent_unknown")
        if user.role != "agent":
            raise CellProblem("agent_not_agent")
        if not user.active:
            raise CellProblem("agent_disabled")
        return user


class _Checker:
    """Checks one sheet's rows: cells, repeats inside the file, then each row against the CRM."""

    def __init__(self, session: Session, kind: str, sheet: Sheet, fixes: Mapping[int, Mapping[str, str]]) -> None:
        self.kind, self.sheet, self.fixes = kind, sheet, fixes
        self.columns = map_columns(sheet.header, FIELDS[kind], REQUIRED[kind], sheet.name)
        self.book, self.words = _Book(session), Words.load()
        self.now = clock.now()
        self.today = self.now.date()
        self.problems = _messages().import_problems
        columns = Client.__table__.c
        self.parsers: dict[str, Callable[[Any], Any]] = {
            "phone": phone, "assets": amount, "gender": self.words.gender, "risk_tolerance": self.words.risk,
            "contact_source": self.words.source, "marketing_consent": self.words.consent,
            "agent": lambda value: self.book.agent(plain_text(value, columns.name.type.length)),
            **{name: lambda value: a_date(value, self.today) for name in DATES},
            **{name: lambda value, limit=columns[name].type.length: plain_text(value, limit)
               for name in ("client_no", "name", "occupation", "company", "referrer")}}

    def problem(self, result: RowResult, field_name: str, key: str, about: str | None = None, **params: Any) -> None:
        """Add a problem to the row; ``about``: the column the text names, when not the field to fix."""
        params.setdefault("value", masked(field_name, result.texts.get(field_name, ""))[:200])
        text = self.problems[key].format(column=self.columns.name(about or field_name), **params)
        result.problems.append({"field": field_name, "column": self.columns.name(field_name), "text": text})

    def read_row(self, number: int, cells: tuple[Any, ...]) -> RowResult:
        raw = {f: cells[i] if i < len(cells) else None for f, i in self.columns.index.items()}
        raw.update(self.fixes.get(number, {}))
        texts = {f: cell_text(v) for f, v in raw.items()}
        result = RowResult(number, {f: t for f, t in texts.items() if t is not None})
        for field_name, value in raw.items():
            if texts[field_name] is None:
                continue
            try:
                parsed = self.parsers[field_name](value)
            except CellProblem as problem:
                self.problem(result, field_name, problem.key, **problem.params)
                continue
            if parsed is not None:
                result.values[field_name] = parsed
        for field_name in REQUIRED[self.kind]:
            if texts.get(field_name) is None:
                self.problem(result, field_name, "missing")
        return result

    def repeats(self, results: list[RowResult], field_name: str, key: str) -> None:
        """Rows of the file that share a phone or a client number: each is refused, naming the others."""
        rows: dict[str, list[RowResult]] = defaultdict(list)
        for result in results:
            if field_name in result.values:
                rows[result.values[field_name]].append(result)
        for same in rows.values():
            for result in same if len(same) > 1 else ():
                others = "、".join(str(r.row) for r in same if r is not result)
                self.problem(result, field_name, key, rows=others)

    def run(self, progress: Progress | None) -> list[RowResult]:
        results = []
        every = max(1, len(self.sheet.rows) // 100)
        for position, (number, cells) in enumerate(self.sheet.rows, start=1):
            results.append(self.read_row(number, cells))
            if progress and position % every == 0:
                progress("check", position, len(self.sheet.rows))
        if self.kind == "do_not_call":
            self.match_numbers(results)
        else:
            self.repeats(results, "phone", "phone_repeated")
            self.repeats(results, "client_no", "client_no_repeated")
            seen: dict[int, int] = {}
            for result in results:
                self.match_client(result, seen)
        if progress:
            progress("check", len(results), len(results))
        return results

    # --- clients ---

    def match_client(self, result: RowResult, seen: dict[int, int]) -> None:
        values = result.values
        number, mobile = values.get("client_no"), values.get("phone")
        by_number = self.book.by_number.get(number) if number else None
        by_phone = self.book.by_phone.get(mobile) if mobile else None
        stored = by_number or by_phone
        if by_number is not None and by_phone is not None and by_number.id != by_phone.id:
            self.problem(result, "client_no", "number_and_phone_disagree", name=by_number.name,
                         phone=access.mask_phone(mobile), other=by_phone.name)
        elif by_number is None and number and by_phone is not None and by_phone.client_no:
            self.problem(result, "client_no", "phone_has_other_number", phone=access.mask_phone(mobile),
                         other=by_phone.name, number=by_phone.client_no)
        elif stored is not None and stored.id in seen:
            self.problem(result, "phone", "same_client", rows=seen[stored.id], name=stored.name)
        elif stored is not None:
            seen[stored.id] = result.row
        self.check_with_stored(result, stored)
        if result.problems:
            return
        target = self.columns_of(values)
        if "agent_id" in target and (stored is None or stored.agent_id != target["agent_id"]):
            target["assigned_at"] = self.now  # the agent's share starts now (their newly assigned clients)
        if stored is None:
            result.action, result.update = "create", target
            result.diff = {k: [None, v] for k, v in self.detail(target).items() if v is not None}
            return
        result.client_id = stored.id
        result.update = {k: v for k, v in target.items() if not _same(k, getattr(stored, k), v)}
        before = self.detail({k: getattr(stored, k) for k in result.update})
        result.diff = {k: [before[k], v] for k, v in self.detail(result.update).items()}
        result.action = "update" if result.update else "unchanged"

    def check_with_stored(self, result: RowResult, stored: Any) -> None:
        """The rules that read the stored client too: a source is needed, a referral names its referrer,
        an assessment has both its level and its date."""
        values, failed = result.values, {p["field"] for p in result.problems}
        source = values.get("contact_source") or (stored.contact_source if stored is not None else None)
        if source is None and "contact_source" not in failed:
            self.problem(result, "contact_source", "source_missing", choices=self.words.source_choices)
        referrer = values.get("referrer") or (stored.referrer if stored is not None else None)
        if source == "referral" and not referrer and "referrer" not in failed:
            self.problem(result, "referrer", "referrer_missing")
        level, assessed = values.get("risk_tolerance"), values.get("risk_assessed_at")
        if assessed is not None and level is None and "risk_tolerance" not in failed:
            self.problem(result, "risk_tolerance", "assessed_without_level", about="risk_assessed_at")
        kept = stored is not None and stored.risk_tolerance == level and stored.risk_assessed_at is not None
        if level is not None and assessed is None and not kept and "risk_assessed_at" not in failed:
            self.problem(result, "risk_assessed_at", "level_without_date", about="risk_tolerance")

    def columns_of(self, values: dict[str, Any]) -> dict[str, Any]:
        """The client's columns a row's values set (the age follows from the birth date)."""
        target = {k: v for k, v in values.items() if k != "agent"}
        if "agent" in values:
            target["agent_id"] = values["agent"].id
        if "birth_date" in values:
            target["age"] = age_on(values["birth_date"], self.today)
        if "risk_assessed_at" in values:
            target["risk_assessed_at"] = datetime.combine(values["risk_assessed_at"], time())
        return target

    def detail(self, columns: dict[str, Any]) -> dict[str, Any]:
        """Columns as the change log keeps them: the agent by login, dates as ISO text."""
        return {("agent" if k == "agent_id" else k): self.book.login_of.get(v) if k == "agent_id" else changes.plain(v)
                for k, v in columns.items()}

    # --- the opt-out register ---

    def match_numbers(self, results: list[RowResult]) -> None:
        done: set[str] = set()
        for result in results:
            mobile = result.values.get("phone")
            if result.problems or mobile is None:
                continue
            stored = self.book.by_phone.get(mobile)
            if stored is None:
                result.action = "not_found"
            elif stored.do_not_call or mobile in done:  # a number listed twice is marked once
                result.action, result.client_id = "unchanged", stored.id
            else:
                result.action, result.client_id = "update", stored.id
                result.update = {"dnc_source": dnc_source(self.sheet.name, result.values.get("registered_on")
                                                          or self.today)}
                result.diff = {"do_not_call": [False, True], "dnc_source": [stored.dnc_source,
                                                                            result.update["dnc_source"]]}
            done.add(mobile)


def _same(column: str, before: Any, after: Any) -> bool:
    if before is None:
        return after is None
    if column == "assets":
        return abs(before - after) < 0.005
    if column == "risk_assessed_at":
        return before.date() == after.date()  # a date in the sheet; the CRM may know the hour
    return before == after


def dnc_source(filename: str, registered: date) -> str:
    text = _messages().import_texts["dnc_source"]
    room = Client.__table__.c.dnc_source.type.length - len(text.format(file="", date=registered.isoformat()))
    return text.format(file=filename[:room], date=registered.isoformat())


def parse_fixes(raw: Any, kind: str) -> dict[int, dict[str, str]]:
    """The page's corrections ``{row_number: {field: value}}``; ValueError (Chinese) if malformed."""
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise ValueError(_messages().import_texts["bad_fixes"])
    fixes: dict[int, dict[str, str]] = {}
    for row, values in raw.items():
        if not str(row).isdigit() or not isinstance(values, dict) or len(str(row)) > 9 \
                or any(f not in FIELDS[kind] or not isinstance(v, str) or len(v) > 500 for f, v in values.items()):
            raise ValueError(_messages().import_texts["bad_fixes"])
        fixes[int(row)] = dict(values)
    return fixes


def run_import(session: Session, kind: str, sheet: Sheet, *, user: User | None,
               fixes: Mapping[int, Mapping[str, str]] | None = None,
               dry_run: bool = False, write_valid: bool = False, record: bool = True,
               progress: Progress | None = None) -> Outcome:
    """Check every row of ``sheet`` and, unless ``dry_run`` or a row is refused (and not
    ``write_valid``), write the rows in the caller's transaction. ``record``: keep an ImportBatch even
    when nothing is written (the page keeps every preview; the CLI's dry run writes nothing at all).
    ``fixes``: the page's corrections (``parse_fixes``). SheetError for a file that cannot be read as a whole."""
    if kind not in KINDS:
        raise ValueError(f"unknown import kind {kind!r}")
    checker = _Checker(session, kind, sheet, fixes or {})
    outcome = Outcome(kind, sheet.name, checker.columns, checker.run(progress))
    refused, valid = outcome.count("refused"), len(outcome.rows) - outcome.count("refused")
    if dry_run:
        outcome.status = "dry_run"
    elif refused and (not write_valid or not valid):
        outcome.status = "refused"
    else:
        outcome.status = "written"
    if outcome.written or record:
        now = checker.now
        batch = ImportBatch(kind=kind, filename=sheet.name[:255], user_id=user.id if user else None, at=now,
                            status=outcome.status, rows_total=len(outcome.rows), rows_created=outcome.count("create"),
                            rows_updated=outcome.count("update"), rows_unchanged=outcome.count("unchanged"),
                            rows_refused=refused, report=outcome.report())
        session.add(batch)
        session.flush()
        outcome.batch_id = batch.id
        if outcome.written:
            write = _write_clients if kind == "clients" else _write_do_not_call
            write(session, outcome.rows, user, batch.id, now, progress)
    return outcome


def _change_rows(rows: list[RowResult], kind: str, user: User | None, batch_id: int, now: datetime) -> list[dict]:
    return [changes.row(kind=kind, entity="client", entity_id=r.client_id, detail=r.diff, user=user, at=now,
                        batch_id=batch_id) for r in rows]


def _write_clients(session: Session, rows: list[RowResult], user: User | None, batch_id: int, now: datetime,
                   progress: Progress | None) -> None:
    table = Client.__table__
    updates = [r for r in rows if r.action == "update"]
    creates = [r for r in rows if r.action == "create"]
    total, done = len(updates) + len(creates), 0
    # Updates: one executemany per set of columns (rows change different columns).
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in updates:
        groups[tuple(sorted(r.update))].append({"row_id": r.client_id, "v_updated_at": now,
                                                **{f"v_{k}": v for k, v in r.update.items()}})
    for keys, params in groups.items():
        statement = update(table).where(table.c.id == bindparam("row_id")).values(
            {table.c[k]: bindparam(f"v_{k}") for k in (*keys, "updated_at")})
        for chunk in batched(params, 5000):
            session.execute(statement, chunk)
            done += len(chunk)
            if progress:
                progress("write", done, total)
    # A client given to another agent brings their open follow-ups (as an assignment does).
    given: dict[int, list[int]] = defaultdict(list)
    for r in updates:
        if r.update.get("agent_id") is not None:
            given[r.update["agent_id"]].append(r.client_id)
    for agent_id, client_ids in given.items():
        crm.hand_over_followups(session, client_ids, agent_id)
    before = session.scalar(select(func.max(table.c.id))) or 0
    blank = dict.fromkeys(INSERTED)
    for chunk in batched(creates, 5000):
        session.execute(table.insert(), [{**blank, **r.update, "created_at": now, "updated_at": now,
                                          "stage": "unknown", "do_not_call": False} for r in chunk])
        done += len(chunk)
        if progress:
            progress("write", done, total)
    if creates:
        ids = dict(session.execute(select(table.c.phone, table.c.id).where(table.c.id > before)).all())
        for r in creates:
            r.client_id = ids[r.update["phone"]]
    changes.record_many(session, _change_rows(updates + creates, "import", user, batch_id, now))
    # Client rows this session already holds are read again when next used.
    for held in list(session.identity_map.values()):
        if isinstance(held, (Client, FollowUp)):
            session.expire(held)


def _write_do_not_call(session: Session, rows: list[RowResult], user: User | None, batch_id: int, now: datetime,
                       progress: Progress | None) -> None:
    """Each client the register names becomes 勿扰 as a call's 勿扰 outcome makes them: the flag set
    and every open follow-up cancelled (bot.crm.mark_do_not_call), with where the mark came from."""
    marked = {r.client_id: r for r in rows if r.action == "update"}
    done = 0
    for ids in batched(sorted(marked)):
        for client in session.scalars(select(Client).where(Client.id.in_(ids))).unique():
            crm.mark_do_not_call(session, client, now, source=marked[client.id].update["dnc_source"])
        done += len(ids)
        if progress:
            progress("write", done, len(marked))
    changes.record_many(session, _change_rows(list(marked.values()), "do_not_call", user, batch_id, now))
    session.flush()
