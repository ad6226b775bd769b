"""The calls as CSV (GET /api/calls.csv), as the reader may see them, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy.orm import Session

from bot import masking
from bot.auth import Identity
from bot.queries import calls_json

CSV_FIELDS = ["started_at", "agent", "client", "outcome", "objections", "opening_style", "products",
              "amount", "notes", "conversation_id"]
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_header() -> str:
    """The header line, after a BOM so that Excel opens the Chinese text correctly."""
    header = io.StringIO()
    csv.DictWriter(header, fieldnames=CSV_FIELDS).writeheader()
    return "\ufeff" + header.getvalue()


def csv_rows(session: Session, identity: Identity, call_ids: list[int]) -> str:
    """CSV lines for these calls, as ``identity`` may read them (bot.masking)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore")
    for call in masking.for_reader(session, identity, calls_json(session, call_ids)):
        row = {**call, "objections": " ".join(call["objections"]), "products": " ".join(call["products"])}
        writer.writerow({key: spreadsheet_safe(value) for key, value in row.items()})
    return buffer.getvalue()


def spreadsheet_safe(value: Any) -> Any:
    """Free text that a spreadsheet would run as a formula (=HYPERLINK(...)) gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
