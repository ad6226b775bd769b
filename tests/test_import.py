"""Importing clients and the opt-out register (issue 21): sheets read as Excel and Chinese Windows write
them, every kind of bad row refused with the Chinese a supervisor reads, all or nothing, upserts that
keep the history, and `salesbot import`. Real SQLite CRM (the demo data); sheets built by tests/sheets.py."""

from __future__ import annotations

import random
import sqlite3
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot import cli, crm
from bot.book import importer, sheets
from bot.book.import_results import report_csv
from bot.db import sessions
from bot.models import Change, Client, FollowUp, ImportBatch, User
from tests.conftest import WORKDAY_MORNING
from tests.sheets import write_csv, write_sample, write_xlsx

HEADER = ["客户号", "姓名", "手机号", "性别", "出生日期", "职业", "单位", "资产", "号码来源", "推荐人", "风险测评等级",
          "测评日期", "归属坐席", "是否同意营销"]


def row(**values) -> list:
    """A sheet row in HEADER's order: a new, valid client unless told otherwise."""
    base = {"客户号": "K0001", "姓名": "钱多多", "手机号": "13912345678", "性别": "女", "出生日期": date(1985, 6, 1),
            "职业": "教师", "单位": "实验中学", "资产": "50万", "号码来源": "网点留资", "推荐人": None,
            "风险测评等级": "C3", "测评日期": date(2026, 5, 1), "归属坐席": "agent01", "是否同意营销": "是"}
    base.update(values)
    return [base[h] for h in HEADER]


def sheet_of(tmp_path, rows, header=HEADER, name="clients.xlsx"):
    return sheets.read_path(write_xlsx(tmp_path / name, header, rows))


def counts(session) -> tuple[int, int, int]:
    return (session.scalar(select(func.count()).select_from(Client)),
            session.scalar(select(func.count()).select_from(Change)),
            session.scalar(select(func.count()).select_from(ImportBatch)))


def run(session, sheet, **options):
    return importer.run_import(session, "clients", sheet, user=None, **options)


def problems(outcome) -> list[str]:
    return [p["text"] for r in outcome.rows for p in r.problems]


# ---------- a large sheet ----------

@pytest.mark.slow
def test_a_generated_50000_row_xlsx_is_imported_whole(session, tmp_path):
    agents = ["agent01", "周婷"]  # by login and by the agent's name
    sources = ["我行客户", "网点留资", "活动登记", "线上申请"]
    rows = [[f"K{n:07d}", f"客户{n}", 15000000000 + n, "男" if n % 2 else "女",
             datetime(1960, 1, 1) + timedelta(days=n % 15000), "职员", f"单位{n % 300}", 10000 * (n % 500),
             sources[n % 4], None, f"C{1 + n % 5}", datetime(2026, 1, 1) + timedelta(days=n % 300),
             agents[n % 2], "是" if n % 3 else "否"] for n in range(50_000)]
    sheet = sheet_of(tmp_path, rows, name="五万客户.xlsx")
    assert len(sheet.rows) == 50_000
    clients_before, changes_before, _ = counts(session)
    outcome = run(session, sheet)
    assert outcome.status == "written" and outcome.counts["create"] == 50_000 and outcome.counts["refused"] == 0
    clients_after, changes_after, _ = counts(session)
    assert (clients_after - clients_before, changes_after - changes_before) == (50_000, 50_000)
    batch = session.get(ImportBatch, outcome.batch_id)
    assert (batch.status, batch.rows_total, batch.rows_created, batch.report) == ("written", 50_000, 50_000, [])
    agent_ids = {u.login: u.id for u in session.scalars(select(User))}
    for n in random.Random(21).sample(range(50_000), 25):
        client = session.scalars(select(Client).where(Client.client_no == f"K{n:07d}")).one()
        assert (client.name, client.phone, client.assets) == (f"客户{n}", str(15000000000 + n), 10000 * (n % 500))
        assert client.agent_id == agent_ids["agent01" if n % 2 == 0 else "agent02"]
        assert client.assigned_at == WORKDAY_MORNING and client.stage == "unknown"
        assert client.birth_date == date(1960, 1, 1) + timedelta(days=n % 15000)
        assert client.age == sheets.age_on(client.birth_date, WORKDAY_MORNING.date())
        assert (client.risk_tolerance, client.marketing_consent) == (f"C{1 + n % 5}", bool(n % 3))
        change = session.scalars(select(Change).where(Change.entity_id == client.id, Change.kind == "import")).one()
        assert change.batch_id == batch.id and change.detail["phone"] == [None, client.phone]


# ---------- every kind of bad row: refused, in Chinese, and nothing written ----------

BAD_ROWS = [
    # (what is wrong, the rows, the problem text a supervisor reads)
    ("phone not a mobile", [row(手机号="02312345678")], "手机号“023****5678”不是有效的手机号"),
    ("phone too short", [row(手机号="1391234")], "手机号“****”不是有效的手机号"),
    ("phone twice in the file", [row(), row(客户号="K0002", 姓名="孙二娘")],
     "手机号139****5678在文件里出现了多次（第3行）"),
    ("client number twice", [row(), row(手机号="13912345679")], "客户号“K0001”在文件里出现了多次（第3行）"),
    ("unknown agent", [row(归属坐席="agent99")], "归属坐席“agent99”不是系统里的坐席"),
    ("a trainee as agent", [row(归属坐席="trainee01")], "归属坐席“trainee01”不是坐席账号"),
    ("impossible date", [row(出生日期="1985-02-30")], "出生日期“1985-02-30”不是有效日期"),
    ("future date", [row(测评日期="2027-01-05")], "测评日期2027-01-05晚于今天"),
    ("a date that is no date", [row(出生日期="八五年")], "出生日期“八五年”不是有效日期"),
    ("risk level not C1-C5", [row(风险测评等级="C6")], "风险测评等级“C6”不是C1-C5"),
    ("a product's risk level", [row(风险测评等级="R3")], "风险测评等级“R3”不是C1-C5"),
    ("assessment date without a level", [row(风险测评等级=None)], "填了测评日期，但没有风险测评等级"),
    ("a level without its date", [row(测评日期=None)], "填了风险测评等级，但没有测评日期"),
    ("no contact source", [row(号码来源=None)], "号码来源为空，请填写：我行客户、他人推荐"),
    ("unknown contact source", [row(号码来源="扫街")], "号码来源“扫街”无法识别，可填：我行客户"),
    ("a referral without its referrer", [row(号码来源="他人推荐")], "号码来源是他人推荐，推荐人不能为空"),
    ("assets not an amount", [row(资产="很多")], "资产“很多”不是金额"),
    ("negative assets", [row(资产="-5000")], "资产“-5000”不能为负数"),
    ("consent neither yes nor no", [row(是否同意营销="看情况")], "是否同意营销“看情况”只能填是或否"),
    ("no name", [row(姓名=None)], "姓名为空"),
    ("a name longer than the column", [row(姓名="张" * 65)], "姓名最多64个字，这里有65个"),
    ("gender", [row(性别="未说")], "性别“未说”只能填男或女"),
]


@pytest.mark.parametrize(("rows", "expected"), [case[1:] for case in BAD_ROWS], ids=[case[0] for case in BAD_ROWS])
def test_a_bad_row_is_refused_with_the_reason_and_nothing_is_written(session, tmp_path, rows, expected):
    before = counts(session)
    outcome = run(session, sheet_of(tmp_path, rows), record=False)
    assert outcome.status == "refused" and not outcome.written
    assert any(expected in text for text in problems(outcome)), problems(outcome)
    assert "CRM未做任何改动" in outcome.message()
    assert counts(session) == before
    refused = [r for r in outcome.rows if r.action == "refused"][0]
    assert refused.entry()["row"] == 2 and all(p["column"] for p in refused.problems)


def test_a_disabled_agent_is_refused_by_login_or_by_name(session, tmp_path):
    session.add(User(login="agent09", name="马六", role="agent", password_hash="x", active=False))
    session.flush()
    outcome = run(session, sheet_of(tmp_path, [row(归属坐席="agent09"), row(客户号="K2", 手机号="13912345670",
                                                                         归属坐席="马六")]), record=False)
    assert problems(outcome) == ["归属坐席“agent09”的账号已停用", "归属坐席“马六”的账号已停用"]


def test_a_client_number_and_a_phone_of_two_different_clients_are_refused(session, tmp_path):
    zhang = session.scalars(select(Client).where(Client.name == "张三")).one()
    zhang.client_no = "K7001"
    session.flush()
    outcome = run(session, sheet_of(tmp_path, [row(客户号="K7001", 手机号="13800000002")]), record=False)
    assert problems(outcome) == [
        "客户号“K7001”是客户张三，但这一行的手机号138****0002属于另一位客户李四：请核对客户号和手机号"]
    outcome = run(session, sheet_of(tmp_path, [row(客户号="K9999", 手机号="13800000001")]), record=False)
    assert problems(outcome) == ["手机号138****0001已属于客户张三（客户号K7001），与这一行的客户号“K9999”不一致"]


def test_every_problem_of_a_row_is_listed_each_naming_its_column(session, tmp_path):
    outcome = run(session, sheet_of(tmp_path, [row(手机号="abc", 风险测评等级="C9", 资产="一些", 归属坐席="nobody")]),
                  dry_run=True, record=False)
    assert [p["column"] for p in outcome.rows[0].problems] == ["手机号", "资产", "风险测评等级", "归属坐席"]


def test_the_sample_sheet_has_two_rows_to_correct_then_imports(session, tmp_path):
    sheet = sheets.read_path(write_sample(tmp_path / "sample.xlsx"))
    preview = run(session, sheet, dry_run=True, record=False)
    assert preview.counts == {"total": 6, "create": 4, "update": 0, "unchanged": 0, "refused": 2, "not_found": 0}
    assert preview.columns.ignored == ["备注"]
    assert [(r.row, problems_of(r)) for r in preview.rows if r.action == "refused"] == [
        (4, ["手机号“139****1003”不是有效的手机号（应为1开头的11位数字，可带+86）"]),
        (6, ["归属坐席“agent07”不是系统里的坐席（可填登录名或姓名）"])]
    fixed = run(session, sheet, fixes=importer.parse_fixes({"4": {"phone": "13910010003"}, "6": {"agent": "agent01"}},
                                                          "clients"))
    assert (fixed.status, fixed.counts["create"]) == ("written", 6)


def problems_of(result) -> list[str]:
    return [p["text"] for p in result.problems]


# ---------- cells as sheets write them ----------

@pytest.mark.parametrize(("typed", "number"), [
    (13800000009, "13800000009"),  # an Excel number
    (13800000009.0, "13800000009"),  # an Excel number that became a float
    ("13800000009.0", "13800000009"),  # ... and then text
    ("138 0000 0009", "13800000009"),
    ("138-0000-0009", "13800000009"),
    ("+86 138 0000 0009", "13800000009"),
    ("8613800000009", "13800000009"),
    ("１３８００００００09", "13800000009"),  # full-width digits
])
def test_phone_numbers_are_read_in_the_forms_sheets_hold(typed, number):
    assert sheets.phone(typed) == number


@pytest.mark.parametrize(("typed", "amount"), [
    ("50万", 500_000), ("1,200,000", 1_200_000), ("120万元", 1_200_000), ("¥300,000", 300_000), (800000, 800_000),
    ("0", 0),
])
def test_amounts_are_read_in_the_forms_sheets_hold(typed, amount):
    assert sheets.amount(typed) == amount


@pytest.mark.parametrize("typed", ["1985-06-01", "1985/6/1", "1985.6.1", "1985年6月1日", "19850601",
                                   datetime(1985, 6, 1), 31199])  # 31199: Excel's serial of the day
def test_dates_are_read_in_the_forms_sheets_hold(typed):
    assert sheets.a_date(typed, date(2026, 11, 23)) == date(1985, 6, 1)


@pytest.mark.parametrize(("typed", "consent"), [("是", True), ("同意", True), ("Y", True), (1, True), ("否", False),
                                                ("不同意", False), ("n", False), (0, False), ("未知", None)])
def test_marketing_consent_is_yes_no_or_unknown(typed, consent):
    assert sheets.Words.load().consent(typed) is consent


@pytest.mark.parametrize(("header", "field"), [
    ("客户编号", "client_no"), ("客户姓名", "name"), ("联系电话", "phone"), ("手机号码", "phone"),
    ("生日", "birth_date"),
    ("工作单位", "company"), ("资产（元）", "assets"), ("金融资产", "assets"), ("客户来源", "contact_source"),
    ("介绍人", "referrer"), ("风险等级", "risk_tolerance"), ("风险测评日期", "risk_assessed_at"), ("负责坐席", "agent"),
    ("同意营销", "marketing_consent"), (" 手机号 ", "phone"), ("手　机　号", "phone"),  # spaces, ideographic too
    ("客戶姓名", "name"), ("聯繫電話", "phone"),  # Traditional
])
def test_header_variants_are_recognised(header, field):
    others = {"name": ("手机号",), "phone": ("姓名",)}.get(field, ("姓名", "手机号"))
    columns = sheets.map_columns((*others, header), importer.FIELDS["clients"], importer.REQUIRED["clients"], "x.xlsx")
    assert columns.index[field] == len(others) and not columns.ignored


def test_unknown_columns_are_shown_as_ignored_and_the_rest_imported(session, tmp_path):
    sheet = sheet_of(tmp_path, [["赵六", "13912340000", "网点留资", "周二下午来过", "VIP"]],
                     header=["姓名", "手机号", "号码来源", "备注说明", "客户级别"])
    outcome = run(session, sheet)
    assert outcome.written and outcome.columns.ignored == ["备注说明", "客户级别"]
    assert session.scalars(select(Client).where(Client.phone == "13912340000")).one().name == "赵六"


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-8"])
def test_csv_in_gbk_and_utf8_with_or_without_bom(session, tmp_path, encoding):
    path = write_csv(tmp_path / "客户.csv", HEADER, [row(出生日期="1985/6/1", 测评日期="2026-05-01")], encoding)
    outcome = run(session, sheets.read_path(path))
    assert outcome.written, problems(outcome)
    client = session.scalars(select(Client).where(Client.phone == "13912345678")).one()
    assert (client.name, client.company, client.contact_source) == ("钱多多", "实验中学", "branch_visit")


@pytest.mark.parametrize(("name", "data", "expected"), [
    ("客户.pdf", b"%PDF-1.4 ...", "“客户.pdf”不是CSV或Excel（.xlsx）文件"),
    ("客户.xlsx", b"not a zip at all", "“客户.xlsx”打不开"),
    ("客户.xlsx", b"PK\x03\x04broken", "“客户.xlsx”打不开"),
    ("客户.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "旧版Excel（.xls）"),
    ("客户.csv", b"", "“客户.csv”里没有数据"),
    ("客户.csv", "姓名,手机号\r\n".encode(), "“客户.csv”里没有数据"),
    ("客户.csv", b"\x81\x30\xff\xfe\x00garbage\x00", "不是CSV或Excel"),
])
def test_a_file_that_is_no_client_sheet_is_refused_as_a_whole(name, data, expected):
    with pytest.raises(sheets.SheetError) as refused:
        sheets.read_sheet(data, name)
    assert expected in str(refused.value)


def test_a_sheet_without_the_name_or_phone_column_is_refused_as_a_whole(session):
    sheet = sheets.read_sheet("姓名,电邮\r\n张三,a@b.c\r\n".encode(), "客户.csv")
    with pytest.raises(sheets.SheetError, match="“客户.csv”缺少必需的列：手机号。第一行应是表头，例如：客户号，姓名"):
        run(session, sheet)


# ---------- matching, upsert and history ----------

def test_reimporting_the_same_file_changes_nothing(session, tmp_path, frozen_clock):
    path = write_xlsx(tmp_path / "c.xlsx", HEADER, [row(), row(客户号="K0002", 姓名="孙二娘", 手机号="13912345679")])
    assert run(session, sheets.read_path(path)).counts["create"] == 2
    stamps = dict(session.execute(select(Client.phone, Client.updated_at)).all())
    clients, changes, _batches = counts(session)
    frozen_clock(WORKDAY_MORNING + timedelta(days=3))
    again = run(session, sheets.read_path(path))
    assert (again.status, again.counts["unchanged"], again.counts["update"]) == ("written", 2, 0)
    session.expire_all()
    assert counts(session)[:2] == (clients, changes)  # no change rows, no clients: only the batch, kept
    assert dict(session.execute(select(Client.phone, Client.updated_at)).all()) == stamps


def test_a_stored_client_with_the_same_values_is_unchanged(session, tmp_path):
    zhang = session.scalars(select(Client).where(Client.name == "张三")).one()
    sheet = sheet_of(tmp_path, [[zhang.name, zhang.phone, zhang.gender, zhang.birth_date, zhang.occupation,
                                 "单位代发工资", zhang.risk_tolerance, zhang.risk_assessed_at.date(), "agent01", "是"]],
                     header=["姓名", "手机号", "性别", "出生日期", "职业", "号码来源", "风险测评等级", "测评日期",
                             "归属坐席", "是否同意营销"])
    assert run(session, sheet).counts["unchanged"] == 1


def test_a_changed_row_updates_only_its_non_empty_columns_and_keeps_the_history(session, tmp_path):
    zhang = session.scalars(select(Client).where(Client.name == "张三")).one()
    agent02 = crm.get_user(session, "agent02")
    booking = crm.add_followup(session, client_id=zhang.id, agent_id=zhang.agent_id, reason="约回访",
                               due_at=WORKDAY_MORNING + timedelta(days=1))
    occupation, source = zhang.occupation, zhang.contact_source
    sheet = sheet_of(tmp_path, [["张三", "138 0000 0001", "", "市税务局副局长", "300万", "周婷"]],
                     header=["姓名", "手机号", "职业", "单位", "资产", "归属坐席"])
    outcome = importer.run_import(session, "clients", sheet, user=agent02)
    assert (outcome.status, outcome.counts["update"]) == ("written", 1)
    session.refresh(zhang)
    assert (zhang.occupation, zhang.contact_source) == (occupation, source)  # empty or absent: kept
    assert (zhang.company, zhang.assets, zhang.agent_id) == ("市税务局副局长", 3_000_000, agent02.id)
    assert zhang.assigned_at == WORKDAY_MORNING
    session.refresh(booking.followup)
    assert booking.followup.agent_id == agent02.id  # the open follow-up goes with the client
    change = session.scalars(select(Change).where(Change.entity_id == zhang.id, Change.kind == "import")).one()
    assigned = change.detail.pop("assigned_at")
    assert change.detail == {"company": [None, "市税务局副局长"], "assets": [1_500_000, 3_000_000],
                             "agent": ["agent01", "agent02"]}
    assert assigned[1] == WORKDAY_MORNING.isoformat()
    assert (change.user_id, change.batch_id) == (agent02.id, outcome.batch_id)


def test_a_client_number_matches_first_and_the_phone_may_change(session, tmp_path):
    first = run(session, sheet_of(tmp_path, [row()]))
    assert first.counts["create"] == 1
    outcome = run(session, sheet_of(tmp_path, [row(手机号="13912345000", 姓名="钱多多")]))
    assert outcome.counts["update"] == 1 and outcome.rows[0].diff == {"phone": ["13912345678", "13912345000"]}
    assert session.scalars(select(Client).where(Client.client_no == "K0001")).one().phone == "13912345000"


def test_the_age_follows_from_the_birth_date(session, tmp_path):
    run(session, sheet_of(tmp_path, [row(出生日期=date(1980, 11, 24)), row(客户号="K2", 手机号="13912345670",
                                                                          出生日期=date(1980, 11, 23))]))
    wanted = select(Client.client_no, Client.age).where(Client.client_no.in_(["K0001", "K2"]))
    ages = dict(session.execute(wanted).all())
    assert ages == {"K0001": 45, "K2": 46}


# ---------- all or nothing ----------

def test_write_valid_writes_the_good_rows_and_reports_the_bad_ones_masked(session, tmp_path):
    sheet = sheet_of(tmp_path, [row(), row(客户号="K0002", 手机号="13912345679", 归属坐席="agent99"),
                                row(客户号="K0003", 手机号="1391234567", 姓名="王五")])
    outcome = run(session, sheet, write_valid=True)
    assert (outcome.status, outcome.counts["create"], outcome.counts["refused"]) == ("written", 1, 2)
    assert "已写入无误的1行" in outcome.message()
    batch = session.get(ImportBatch, outcome.batch_id)
    assert (batch.rows_created, batch.rows_refused, [e["row"] for e in batch.report]) == (1, 2, [3, 4])
    text = report_csv(batch)
    assert text.startswith("\ufeff行号,姓名,手机号,问题")
    assert "139****5679" in text and "归属坐席“agent99”不是系统里的坐席" in text
    assert "13912345679" not in text and "1391234567" not in text  # no full number leaves in a report


def test_a_database_failure_during_the_write_rolls_everything_back(crm_url, tmp_path):
    with sessions(crm_url).begin() as session:
        zhang = session.scalars(select(Client).where(Client.name == "张三")).one()
        before, zhang_before = counts(session), (zhang.company, zhang.updated_at)
    # The database itself refuses one row (as a constraint or a full disk would), after other rows went in.
    with sqlite3.connect(crm_url.removeprefix("sqlite:///")) as raw:
        raw.execute("CREATE TRIGGER refuse_one BEFORE INSERT ON clients WHEN NEW.phone = '13912345670' "
                    "BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    raw.close()
    sheet = sheet_of(tmp_path, [["张三", "13800000001", "新单位", None], ["甲", "13912345600", None, "网点留资"],
                                ["乙", "13912345670", None, "网点留资"]], header=["姓名", "手机号", "单位", "号码来源"])
    with pytest.raises(IntegrityError), sessions(crm_url).begin() as session:
        importer.run_import(session, "clients", sheet, user=None)
    with sessions(crm_url).begin() as session:
        assert counts(session) == before  # no client, no change, no batch
        zhang = session.scalars(select(Client).where(Client.name == "张三")).one()
        assert (zhang.company, zhang.updated_at) == zhang_before


# ---------- the opt-out register ----------

def test_the_opt_out_register_marks_clients_do_not_call_and_lists_unknown_numbers(session, tmp_path):
    zhang = session.scalars(select(Client).where(Client.name == "张三")).one()
    booking = crm.add_followup(session, client_id=zhang.id, agent_id=zhang.agent_id, reason="约回访",
                               due_at=WORKDAY_MORNING + timedelta(days=1))
    path = write_xlsx(tmp_path / "拒绝营销名单.xlsx", ["手机号", "姓名", "登记日期"],
                      [["13800000001", "张三", date(2026, 11, 20)], ["13911110000", "不认识", None],
                       ["+86 138 0000 0001", "张三", None]])
    outcome = importer.run_import(session, "do_not_call", sheets.read_path(path), user=None)
    assert (outcome.status, outcome.counts["update"], outcome.counts["not_found"]) == ("written", 1, 1)
    assert "登记勿扰1，原已勿扰1，未找到客户1" in outcome.summary()
    session.refresh(zhang)
    session.refresh(booking.followup)
    assert zhang.do_not_call and zhang.dnc_source == "行内拒绝营销名单（拒绝营销名单.xlsx，2026-11-20）"
    assert booking.followup.status == "cancelled"  # as a 勿扰 outcome of a call cancels them
    change = session.scalars(select(Change).where(Change.kind == "do_not_call", Change.entity_id == zhang.id)).one()
    assert change.detail["do_not_call"] == [False, True] and change.batch_id == outcome.batch_id
    report = session.get(ImportBatch, outcome.batch_id).report
    assert report == [{"row": 3, "values": {"phone": "139****0000", "name": "不认识"}, "problems": ["未找到客户"]}]
    again = importer.run_import(session, "do_not_call", sheets.read_path(path), user=None, record=False)
    assert again.counts["update"] == 0 and again.counts["unchanged"] == 2


# ---------- salesbot import ----------

def _cli(*args) -> int:
    return cli.main(["import", *args])


def test_cli_exit_codes_dry_run_and_the_refused_rows(crm_url, tmp_path, capsys):
    good = write_xlsx(tmp_path / "good.xlsx", HEADER, [row()])
    bad = write_xlsx(tmp_path / "bad.xlsx", HEADER, [row(), row(客户号="K2", 手机号="13912340000", 归属坐席="agent99")])
    with sessions(crm_url).begin() as session:
        before = counts(session)
    assert _cli("clients", str(bad)) == 1
    out = capsys.readouterr().out
    assert "第3行 钱多多 139****0000：归属坐席“agent99”不是系统里的坐席（可填登录名或姓名）" in out
    assert "整个文件都没有导入" in out and "13912340000" not in out
    assert _cli("clients", str(good), "--dry-run") == 0
    assert _cli("clients", str(bad), "--dry-run") == 1
    with sessions(crm_url).begin() as session:
        assert counts(session) == before  # neither a refused file nor a dry run writes anything
    assert _cli("clients", str(good)) == 0
    captured = capsys.readouterr()
    assert "新建1" in captured.out and "已写入CRM" in captured.out
    assert "检查 100%" in captured.err and "写入 100%" in captured.err  # progress, a line per 10 % off a terminal
    assert _cli("clients", str(bad), "--write-valid") == 0
    with sessions(crm_url).begin() as session:
        assert counts(session)[0] == before[0] + 1  # K2 refused, K0001 unchanged
    assert _cli("clients", str(tmp_path / "missing.xlsx")) == 1
    assert "找不到文件" in capsys.readouterr().err


def test_cli_imports_the_opt_out_register(crm_url, tmp_path, capsys):
    path = write_csv(tmp_path / "optout.csv", ["手机号"], [["13800000002"], ["13911110000"]], "gbk")
    assert _cli("dnc", str(path)) == 0
    assert "第3行 - 139****0000：未找到客户" in capsys.readouterr().out
    with sessions(crm_url).begin() as session:
        li = session.scalars(select(Client).where(Client.name == "李四")).one()
        assert li.do_not_call and li.dnc_source.startswith("行内拒绝营销名单（optout.csv，2026-11-23")
        assert session.scalar(select(func.count()).select_from(FollowUp).where(
            FollowUp.client_id == li.id, FollowUp.status == "open")) == 0
