"""Reading the sheets a team imports: CSV (UTF-8 with or without BOM, GBK/GB18030 as Excel in China
writes it) and Excel .xlsx; which column is which, from the Chinese headers; and what one cell says
(a phone, a date, an amount, yes or no), as a value or the problem with it. No CRM here."""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

from bot.models import CONTACT_SOURCES, RISK_TOLERANCES
from bot.playbook import playbook
from bot.text import MOBILE, normalize, to_halfwidth, unreadable_chars
from bot.timeparse import parse_amount

EXCEL_EPOCH = datetime(1899, 12, 30)  # day 0 of Excel's date serials (1900 system, after its leap-year bug)
_ZIP, _OLE = b"PK\x03\x04", b"\xd0\xcf\x11\xe0"
_TEXT_SUFFIXES = ("", ".csv", ".txt", ".tsv")
_EXCEL_SUFFIXES = (".xlsx", ".xlsm")
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"


class SheetError(ValueError):
    """The file as a whole cannot be imported; the message says why, in Chinese."""


def _text(key: str, **params: Any) -> str:
    return playbook().messages["import_texts"][key].format(**params)


@dataclass(frozen=True)
class Sheet:
    """A sheet's header and data rows; each row with its number as the sheet shows it (1 = first line)."""

    name: str
    header: tuple[str, ...]
    rows: list[tuple[int, tuple[Any, ...]]]


def read_path(path: Path) -> Sheet:
    try:
        data = Path(path).read_bytes()
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise SheetError(_text("file_missing", path=path)) from None
    return read_sheet(data, Path(path).name)


def read_sheet(data: bytes, name: str) -> Sheet:
    """The first non-empty sheet of ``data`` (an .xlsx workbook or CSV text); SheetError if there is none."""
    suffix = Path(name).suffix.lower()
    if data.startswith(_OLE) or suffix == ".xls":
        raise SheetError(_text("old_excel", name=name))
    if data.startswith(_ZIP):
        lines = _xlsx_rows(data, name, suffix)
    elif suffix in _EXCEL_SUFFIXES:
        raise SheetError(_text("unreadable_xlsx", name=name))
    elif suffix in _TEXT_SUFFIXES and (data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" not in data[:4096]):
        lines = _csv_rows(data, name)
    else:
        raise SheetError(_text("not_a_sheet", name=name))
    header: tuple[str, ...] | None = None
    rows: list[tuple[int, tuple[Any, ...]]] = []
    for number, cells in lines:
        if all(_blank(c) for c in cells):
            continue
        if header is None:
            header = tuple(cell_text(c) or "" for c in cells)
        else:
            rows.append((number, tuple(cells[:len(header)])))
    if header is None or not rows:
        raise SheetError(_text("empty", name=name))
    return Sheet(name, header, rows)


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and cell_text(cell) is None)


def _xlsx_rows(data: bytes, name: str, suffix: str) -> list[tuple[int, tuple[Any, ...]]]:
    from openpyxl import load_workbook  # lazily: only imports read workbooks

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles it does not know; the cells are read
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                for sheet in book.worksheets:
                    rows = [(n, cells) for n, cells in enumerate(sheet.iter_rows(values_only=True), start=1)]
                    if any(not all(_blank(c) for c in cells) for _n, cells in rows):
                        return rows
            finally:
                book.close()
    except Exception:  # noqa: BLE001 - a damaged or foreign file fails anywhere inside openpyxl
        raise SheetError(_text("unreadable_xlsx" if suffix in _EXCEL_SUFFIXES else "not_a_sheet",
                               name=name)) from None
    raise SheetError(_text("empty", name=name))


def _decode(data: bytes, name: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text"
        return data.decode("utf-16")
    for encoding in ("utf-8", "gb18030"):  # GB18030 is a superset of GBK and GB2312
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SheetError(_text("undecodable_csv", name=name))


def _csv_rows(data: bytes, name: str) -> Iterator[tuple[int, tuple[Any, ...]]]:
    text = _decode(data, name)
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max(",\t;", key=first.count) if first else ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error:
        raise SheetError(_text("not_a_sheet", name=name)) from None
    return ((number, tuple(cells)) for number, cells in enumerate(rows, start=1))


# --- columns ----------------------------------------------------------------------------------------

@lru_cache(maxsize=4096)  # a column of 50,000 cells holds a handful of distinct words (男, 是, C3)
def words_key(text: str) -> str:
    """How a header or a cell word is compared: half-width, Simplified, lower case, no spaces or marks."""
    return re.sub(r"[\s*:：]", "", normalize(text).lower())


def _alternatives(text: str) -> list[str]:
    return [words_key(word) for word in text.split("/") if word.strip()]


@dataclass(frozen=True)
class Columns:
    """Which column holds each field (its index and the header as the file writes it), and the
    headers nobody reads (shown in the preview as ignored)."""

    index: dict[str, int]
    headers: dict[str, str]
    ignored: list[str] = field(default_factory=list)

    def name(self, field_name: str) -> str:
        """The column's name for a problem: the sheet's own header, else the usual one."""
        return self.headers.get(field_name) or playbook().messages["import_columns"][field_name].split("/")[0]


def map_columns(header: tuple[str, ...], fields: tuple[str, ...], required: tuple[str, ...], name: str) -> Columns:
    """Columns for ``fields`` from the header; SheetError naming the missing ``required`` ones."""
    known = playbook().messages["import_columns"]
    lookup = {alias: f for f in fields for alias in _alternatives(known[f])}
    index: dict[str, int] = {}
    headers: dict[str, str] = {}
    ignored: list[str] = []
    for position, title in enumerate(header):
        found = lookup.get(words_key(str(title))) if title else None
        if found is None or found in index:  # a second column of the same field is left out too
            if title:
                ignored.append(title)
            continue
        index[found], headers[found] = position, title
    missing = [f for f in required if f not in index]
    if missing:
        raise SheetError(_text("missing_columns", name=name, columns="、".join(known[f].split("/")[0] for f in missing),
                               example="，".join(known[f].split("/")[0] for f in fields[:6])))
    return Columns(index, headers, ignored)


# --- cells ------------------------------------------------------------------------------------------

class CellProblem(ValueError):
    """What is wrong with one cell: a key of import_problems and its parameters (besides the column)."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key, self.params = key, params


def cell_text(value: Any) -> str | None:
    """A cell as trimmed text (None when blank); whole numbers that Excel made floats lose their ``.0``."""
    if value is None:
        return None
    if value.__class__ is str:  # most cells: the fast way
        text = value.strip()
        if text and (text[0] in _INVISIBLE or text[-1] in _INVISIBLE):
            text = text.strip(_INVISIBLE).strip()
        return text or None
    if isinstance(value, bool):
        text = "TRUE" if value else "FALSE"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, datetime):
        text = value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(" ")
    else:
        text = str(value)
    text = text.strip().strip(_INVISIBLE).strip()
    return text or None


def plain_text(value: Any, limit: int) -> str:
    text = cell_text(value) or ""
    if not text.isprintable() and unreadable_chars(text):  # isprintable: the quick no
        raise CellProblem("unreadable")
    if len(text) > limit:
        raise CellProblem("too_long", limit=limit, count=len(text))
    return text


def phone(value: Any) -> str:
    """An 11-digit mobile number from what a sheet holds: spaces, dashes, a +86 or 86 prefix, a float."""
    text = to_halfwidth(cell_text(value) or "")
    text = re.sub(r"[\s\-()]", "", text)
    if re.fullmatch(r"[0-9]+\.0+|[0-9.]+[eE]\+?[0-9]+", text):  # 13800000001.0, 1.3800000001E+10
        try:
            number = Decimal(text)
            text = str(int(number)) if number == number.to_integral_value() else text
        except InvalidOperation:
            pass
    for prefix in ("+86", "0086"):
        text = text.removeprefix(prefix)
    if len(text) == 13 and text.startswith("86"):
        text = text[2:]
    if not MOBILE.fullmatch(text):
        raise CellProblem("phone_invalid")
    return text


_DATE = re.compile(r"([0-9]{4})\s*[-/.年]\s*([0-9]{1,2})\s*[-/.月]\s*([0-9]{1,2})\s*日?(?:[ T][0-9:.]+)?")
_COMPACT_DATE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")


def a_date(value: Any, today: date) -> date:
    """A date from an Excel date cell, an Excel serial number, or text (1980-05-06, 1980/5/6,
    1980年5月6日, 19800506); not after ``today`` and not before 1900."""
    if isinstance(value, datetime):
        found = value.date()
    elif isinstance(value, date):
        found = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and 1 <= value < 100000:
        found = (EXCEL_EPOCH + timedelta(days=int(value))).date()  # a date cell that lost its format
    else:
        text = to_halfwidth(cell_text(value) or "")
        match = _DATE.fullmatch(text) or _COMPACT_DATE.fullmatch(text)
        if not match:
            raise CellProblem("date_invalid")
        try:
            found = date(*(int(part) for part in match.groups()))
        except ValueError:
            raise CellProblem("date_invalid") from None
    if found > today:
        raise CellProblem("date_future")
    if found.year < 1900:
        raise CellProblem("date_too_early")
    return found


MAX_AMOUNT = 1e13  # the CRM keeps 14 digits before the point: a larger figure is a typing mistake


def amount(value: Any) -> float:
    """A non-negative amount of yuan: 500000, "50万", "1,200,000", "120万元", "¥300,000"."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        found: float | None = float(value)
    else:
        text = re.sub(r"^(?:[¥￥]|RMB|人民币)|\s", "", to_halfwidth(cell_text(value) or ""), flags=re.IGNORECASE)
        found = parse_amount(text)
    if found is None or found != found or abs(found) > MAX_AMOUNT:
        raise CellProblem("amount_invalid")
    if found < 0:
        raise CellProblem("amount_negative")
    return found


@dataclass(frozen=True)
class Words:
    """The words cells may use (messages.yml import_values, import_sources and the source labels)."""

    meanings: dict[str, str]  # word key -> male / female / yes / no / C1..C5
    sources: dict[str, str]  # word key -> contact source code
    source_choices: str  # the labels to list when a source is not understood

    @classmethod
    def load(cls) -> Words:
        messages = playbook().messages
        meanings = {word: meaning for meaning, text in messages["import_values"].items()
                    for word in _alternatives(text)}
        labels = {code: label for code, label in messages["contact_source_labels"].items() if code in CONTACT_SOURCES}
        sources = {words_key(code): code for code in CONTACT_SOURCES}
        sources.update({words_key(label): code for code, label in labels.items()})
        sources.update({word: code for code, text in messages["import_sources"].items()
                        for word in _alternatives(text)})
        return cls(meanings, sources, "、".join(labels.values()))

    def consent(self, value: Any) -> bool | None:
        """是 / 否, or None: the client was never asked (未知)."""
        if isinstance(value, bool):
            return value
        meaning = self.meanings.get(words_key(cell_text(value) or ""))
        if meaning not in ("yes", "no", "unknown"):
            raise CellProblem("consent_invalid")
        return None if meaning == "unknown" else meaning == "yes"

    def gender(self, value: Any) -> str:
        meaning = self.meanings.get(words_key(cell_text(value) or ""))
        if meaning not in ("male", "female"):
            raise CellProblem("gender_invalid")
        return "男" if meaning == "male" else "女"

    def risk(self, value: Any) -> str:
        key = words_key(cell_text(value) or "")
        match = re.match(r"c([1-5])(?![0-9])", key)
        level = f"C{match.group(1)}" if match else self.meanings.get(key)
        if level not in RISK_TOLERANCES:
            raise CellProblem("risk_invalid")
        return level

    def source(self, value: Any) -> str:
        code = self.sources.get(words_key(cell_text(value) or ""))
        if code is None:
            raise CellProblem("source_unknown", choices=self.source_choices)
        return code


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))
