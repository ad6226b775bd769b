"""Sheets for the import tests and the benchmark: an .xlsx as Excel itself writes one (shared strings,
dates as serial numbers in a date style, the sheet's dimension), and CSV in a chosen encoding.
Tests build their sheets here; no generated file is kept in git."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

EXCEL_EPOCH = datetime(1899, 12, 30)
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_PACKAGE = "http://schemas.openxmlformats.org/package/2006"
_OFFICE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml"
# Part name -> content type of each part besides the package's own.
_PARTS = {"/xl/workbook.xml": f"{_TYPE}.sheet.main+xml", "/xl/worksheets/sheet1.xml": f"{_TYPE}.worksheet+xml",
          "/xl/styles.xml": f"{_TYPE}.styles+xml", "/xl/sharedStrings.xml": f"{_TYPE}.sharedStrings+xml"}


def _relationships(*targets: tuple[str, str]) -> str:
    links = "".join(f'<Relationship Id="rId{n}" Type="{_OFFICE}/{kind}" Target="{target}"/>'
                    for n, (kind, target) in enumerate(targets, start=1))
    return f'{_HEAD}<Relationships xmlns="{_PACKAGE}/relationships">{links}</Relationships>'


def _fixed_parts() -> dict[str, str]:
    overrides = "".join(f'<Override PartName="{part}" ContentType="{kind}"/>' for part, kind in _PARTS.items())
    types = (f'{_HEAD}<Types xmlns="{_PACKAGE}/content-types">'
             f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
             f'<Default Extension="xml" ContentType="application/xml"/>{overrides}</Types>')
    workbook = (f'{_HEAD}<workbook xmlns="{_MAIN}" xmlns:r="{_OFFICE}"><sheets>'
                f'<sheet name="客户" sheetId="1" r:id="rId1"/></sheets></workbook>')
    # Style 1: Excel's built-in short date (numFmtId 14), what a date typed into Excel gets.
    styles = (f'{_HEAD}<styleSheet xmlns="{_MAIN}"><fonts count="1"><font><sz val="11"/><name val="等线"/></font>'
              '</fonts><fills count="1"><fill><patternFill patternType="none"/></fill></fills><borders count="1">'
              '<border/></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
              '</cellStyleXfs><cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
              '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
              '</styleSheet>')
    return {"[Content_Types].xml": types, "_rels/.rels": _relationships(("officeDocument", "xl/workbook.xml")),
            "xl/workbook.xml": workbook, "xl/styles.xml": styles,
            "xl/_rels/workbook.xml.rels": _relationships(("worksheet", "worksheets/sheet1.xml"),
                                                         ("styles", "styles.xml"),
                                                         ("sharedStrings", "sharedStrings.xml"))}


def _column(number: int) -> str:
    """1 -> A, 27 -> AA."""
    name = ""
    while number:
        number, rest = divmod(number - 1, 26)
        name = chr(65 + rest) + name
    return name


def _cell(value: Any, strings: dict[str, int]) -> str:
    if value is None or value == "":
        return "<c/>"
    if isinstance(value, (date, datetime)):
        moment = value if isinstance(value, datetime) else datetime.combine(value, datetime.min.time())
        return f'<c s="1"><v>{(moment - EXCEL_EPOCH).total_seconds() / 86400:g}</v></c>'
    if isinstance(value, bool):
        return f'<c t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)):
        return f"<c><v>{value!r}</v></c>"
    return f'<c t="s"><v>{strings.setdefault(str(value), len(strings))}</v></c>'


def write_xlsx(path: Path, header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> Path:
    """A one-sheet workbook: ``header`` then ``rows``. Text cells are shared strings, ints and floats
    numbers, dates Excel dates, None or "" an empty cell."""
    strings: dict[str, int] = {}
    lines = [f'<row r="{n}">{"".join(_cell(v, strings) for v in values)}</row>'
             for n, values in enumerate([header, *rows], start=1)]
    sheet = (f'{_HEAD}<worksheet xmlns="{_MAIN}"><dimension ref="A1:{_column(max(len(header), 1))}{len(lines)}"/>'
             f'<sheetData>{"".join(lines)}</sheetData></worksheet>')
    shared = "".join(f'<si><t xml:space="preserve">{escape(s)}</t></si>' for s in strings)
    table = f'{_HEAD}<sst xmlns="{_MAIN}" count="{len(strings)}" uniqueCount="{len(strings)}">{shared}</sst>'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        for name, text in {**_fixed_parts(), "xl/sharedStrings.xml": table, "xl/worksheets/sheet1.xml": sheet}.items():
            book.writestr(name, text)
    return path


def write_csv(path: Path, header: Sequence[Any], rows: Iterable[Sequence[Any]], encoding: str = "utf-8-sig") -> Path:
    """A CSV file as Excel saves one: ``utf-8-sig`` (CSV UTF-8) or ``gbk`` (CSV on a Chinese Windows)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


# A small sheet as a marketing department sends one (the README's columns; the end-to-end browser test
# imports it): six prospects for agent01 and agent02, two rows to correct in the preview (row 4: a phone
# one digit short; row 6: an agent not in the system), a column the import does not read (备注).
SAMPLE_HEADER = ("客户号", "姓名", "手机号", "性别", "出生日期", "职业", "单位", "资产（元）", "号码来源", "推荐人",
                 "风险测评等级", "测评日期", "归属坐席", "是否同意营销", "备注")
SAMPLE_ROWS = (
    ("C2026110001", "韩梅", "139 1001 0001", "女", date(1986, 4, 12), "中学教师", "市第一中学", "35万", "网点留资",
     None, "C3", date(2026, 9, 3), "agent01", "是", "国庆活动留资"),
    ("C2026110002", "林涛", "13910010002", "男", date(1979, 12, 1), "工程师", "星海电力", "120万", "他人推荐", "王华",
     "C4", date(2026, 6, 18), "agent02", "是", None),
    ("C2026110003", "高静", "1391001003", "女", date(1992, 7, 25), "护士", "市人民医院", "8万", "活动登记", None,
     None, None, "agent01", "否", "号码少一位"),
    ("C2026110004", "宋明", "+86 139-1001-0004", "男", date(1968, 2, 9), "个体户", None, "2,000,000", "我行客户", None,
     "C2", date(2026, 1, 15), "周婷", None, None),
    ("C2026110005", "许蕾", "13910010005", "女", date(1990, 10, 30), "会计", "永利集团", "50万元", "单位代发工资", None,
     "C3", date(2026, 10, 8), "agent07", "是", "坐席写错了"),
    ("C2026110006", "曹阳", 13910010006, "男", date(1983, 5, 17), "公务员", "市财政局", None, "线上申请", None,
     None, None, "agent02", "同意", None),
)


def write_sample(path: Path) -> Path:
    """The sample sheet above as an .xlsx."""
    return write_xlsx(path, SAMPLE_HEADER, SAMPLE_ROWS)
