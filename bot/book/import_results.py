"""What an import did, row by row (the preview the page draws, the lines the CLI prints), and the
batches kept of every import with their downloadable reports. No full phone number leaves here:
every number in a preview, a report or its CSV is masked. Core: no Sanic, no Rasa."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import access, clock
from bot.book.sheets import Columns
from bot.csv_export import spreadsheet_safe
from bot.logs import mask_phones
from bot.models import ImportBatch, User
from bot.playbook import playbook

PREVIEW_ROWS = 1000  # refused rows, updates and unknown numbers a preview lists (the report keeps all)


def _messages() -> Any:
    return playbook().messages


@dataclass
class RowResult:
    """One data row: what importing it does (create / update / unchanged / refused / not_found), the
    client columns it sets, what changes on a matched client, and its problems."""

    row: int
    texts: dict[str, str]  # the row's cells as text (as the sheet has them, numbers unmasked)
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[dict[str, str]] = field(default_factory=list)
    action: str = "refused"
    client_id: int | None = None
    update: dict[str, Any] = field(default_factory=dict)  # column -> new value
    diff: dict[str, list[Any]] = field(default_factory=dict)  # change-log detail

    @property
    def shown(self) -> dict[str, str]:
        """The row's cells as text with every phone number masked: for previews and the report."""
        return {f: masked(f, t)[:200] for f, t in self.texts.items()}

    def name(self) -> str:
        return masked("name", self.texts.get("name", ""))

    def entry(self) -> dict[str, Any]:
        """The row in a preview or report: number, name, masked phone, cells and problems."""
        return {"row": self.row, "name": self.name(), "phone": self.shown.get("phone", ""), "values": self.shown,
                "problems": self.problems}


@dataclass
class Outcome:
    """What an import did (``status``: written / refused / dry_run) and every row's result."""

    kind: str
    filename: str
    columns: Columns
    rows: list[RowResult]
    status: str = "dry_run"
    batch_id: int | None = None

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)

    @property
    def counts(self) -> dict[str, int]:
        return {"total": len(self.rows), **{a: self.count(a) for a in
                                            ("create", "update", "unchanged", "refused", "not_found")}}

    @property
    def written(self) -> bool:
        return self.status == "written"

    def summary(self) -> str:
        c = self.counts
        key = "summary_dnc" if self.kind == "do_not_call" else "summary"
        return _messages().import_texts[key].format(total=c["total"], created=c["create"], updated=c["update"],
                                                   unchanged=c["unchanged"], refused=c["refused"],
                                                   not_found=c["not_found"])

    def message(self) -> str:
        texts, refused = _messages().import_texts, self.count("refused")
        if self.status == "refused":
            return texts["refused"].format(count=refused)
        if self.status == "written":
            return texts["written_valid"].format(count=len(self.rows) - refused, refused=refused) if refused \
                else texts["written"]
        return texts["dry_run"]

    def report(self) -> list[dict[str, Any]]:
        """The refused rows and the unknown numbers, for ImportBatch.report and the CSV report."""
        not_found = _messages().import_texts["not_found"]
        return [{"row": r.row, "values": r.shown, "problems": [p["text"] for p in r.problems] or [not_found]}
                for r in self.rows if r.action in ("refused", "not_found")]

    def as_json(self) -> dict[str, Any]:
        texts = _messages().import_texts
        return {
            "id": self.batch_id, "kind": self.kind, "filename": self.filename, "status": self.status,
            "status_label": texts[f"status_{self.status}"], "written": self.written, "counts": self.counts,
            "summary": self.summary(), "message": self.message(),
            "columns": [{"field": f, "header": h} for f, h in self.columns.headers.items()],
            "ignored_columns": self.columns.ignored,
            "refused": [r.entry() for r in self.rows if r.action == "refused"][:PREVIEW_ROWS],
            "updates": [{**r.entry(), "changes": _shown_diff(r.diff)} for r in self.rows
                        if r.action == "update"][:PREVIEW_ROWS],
            "not_found": [r.entry() for r in self.rows if r.action == "not_found"][:PREVIEW_ROWS],
        }


def _shown_diff(diff: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {key: [masked(key, v) for v in pair] for key, pair in diff.items()}


_DIGIT = re.compile(r"[0-9０-９]")


def masked(key: str, value: Any) -> Any:
    """A cell's text as it may leave: a phone masked, any mobile number in other text masked."""
    if key == "phone" and value:
        return access.mask_phone(str(value))
    return mask_phones(value) if isinstance(value, str) and _DIGIT.search(value) else value



# --- the batches: every import the page made, and their reports ------------------------------------

def record_unread(session: Session, kind: str, filename: str, user: User | None, status: str, why: str) -> int:
    """Keep an import that wrote nothing before or after its rows were read: a file refused as a whole
    (``status`` refused) or a write that failed and was rolled back (``failed``). Returns its id."""
    batch = ImportBatch(kind=kind, filename=filename[:255] or "-", user_id=user.id if user else None,
                        at=clock.now(), status=status, report=[{"row": 0, "values": {}, "problems": [why]}])
    session.add(batch)
    session.flush()
    return batch.id


def batches(session: Session, limit: int = 200) -> list[dict[str, Any]]:
    """The latest imports, newest first, as the page lists them."""
    texts = _messages().import_texts
    rows = session.scalars(select(ImportBatch).order_by(ImportBatch.at.desc(), ImportBatch.id.desc()).limit(limit))
    return [{"id": b.id, "kind": b.kind, "filename": b.filename, "at": b.at.isoformat(timespec="seconds"),
             "by": b.user.login if b.user else None, "by_name": b.user.name if b.user else None,
             "status": b.status, "status_label": texts.get(f"status_{b.status}", b.status),
             "counts": {"total": b.rows_total, "create": b.rows_created, "update": b.rows_updated,
                        "unchanged": b.rows_unchanged, "refused": b.rows_refused},
             "report_rows": len(b.report or [])} for b in rows.unique()]


def report_csv(batch: ImportBatch) -> str:
    """The batch's refused rows (and unknown numbers) as CSV for Excel: a BOM, numbers masked, no formulas."""
    texts = _messages().import_texts
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([texts[k] for k in ("report_row", "report_name", "report_phone", "report_problems")])
    for entry in batch.report or []:
        values = entry.get("values") or {}
        writer.writerow([entry.get("row") or "", *(spreadsheet_safe(masked(k, values.get(k, ""))) for k in
                                                   ("name", "phone")),
                         spreadsheet_safe(mask_phones("；".join(entry.get("problems") or [])))])
    return "\ufeff" + buffer.getvalue()
