"""The 导入 tab's API (issue 21) through the real web app: a supervisor previews a sheet, corrects the
refused rows and writes it; only valid rows with a downloadable report; the opt-out register; who may
import; uploads up to 20 MB on these routes only; a failed write leaves the CRM as it was."""

from __future__ import annotations

import json
import re
import socket
import sqlite3
import time
from datetime import date
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import func, select

from bot.book import importer
from bot.db import sessions
from bot.models import Change, Client, ImportBatch
from bot.web.api import imports as import_routes
from tests.sheets import write_csv, write_xlsx
from tests.test_accounts import bearer, browser_login, live_app, token_for, web  # noqa: F401 - fixtures
from tests.test_import import HEADER, row

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def supervisor(web):  # noqa: F811
    """A supervisor's browser session and the page's CSRF token for the import tab."""
    browser, _reply = browser_login(web, "super01", "demo-super")
    page = browser.get(f"{web}/", timeout=30).text
    assert 'id="tab-import"' in page and 'src="/static/review-import.js"' in page
    return browser, re.search(r'id="panel-import"[^>]*data-csrf="([^"]+)"', page).group(1)


def upload(client, url, path, csrf=None, headers=None, **fields):
    data = {k: json.dumps(v) if k == "fixes" else v for k, v in fields.items()}
    with open(path, "rb") as handle:
        return client.post(url, files={"file": (path.name, handle, XLSX)}, data=data, timeout=60,
                           headers={**({"X-CSRF-Token": csrf} if csrf else {}), **(headers or {})})


def _clients(crm_url) -> int:
    with sessions(crm_url).begin() as session:
        return session.scalar(select(func.count()).select_from(Client))


def test_a_supervisor_previews_corrects_and_imports_a_sheet(web, crm_url, tmp_path):  # noqa: F811
    browser, csrf = supervisor(web)
    path = write_xlsx(tmp_path / "三月名单.xlsx", [*HEADER, "备注"],
                      [[*row(), "老客户介绍"], [*row(客户号="K0002", 姓名="孙二娘", 手机号="13912345679",
                                                     归属坐席="王小二", 资产="很多"), None]])
    url = f"{web}/api/imports/clients"
    before = _clients(crm_url)
    first = upload(browser, url, path, csrf, dry_run="1")
    assert first.status_code == 200, first.text
    preview = first.json()
    assert (preview["status"], preview["counts"]["create"], preview["counts"]["refused"]) == ("dry_run", 1, 1)
    assert preview["ignored_columns"] == ["备注"]
    refused = preview["refused"][0]
    assert (refused["row"], refused["name"], refused["phone"]) == (3, "孙二娘", "139****5679")
    assert [p["text"] for p in refused["problems"]] == ["资产“很多”不是金额（例如50万、1,200,000）",
                                                         "归属坐席“王小二”不是系统里的坐席（可填登录名或姓名）"]
    assert {p["field"] for p in refused["problems"]} == {"assets", "agent"}
    assert "13912345679" not in first.text  # no full number leaves in a preview
    fixes = {"3": {"assets": "80万", "agent": "周婷"}}
    second = upload(browser, url, path, csrf, dry_run="1", fixes=fixes).json()
    assert (second["counts"]["refused"], second["counts"]["create"]) == (0, 2)
    assert _clients(crm_url) == before  # previews write no client
    written = upload(browser, url, path, csrf, dry_run="0", fixes=fixes).json()
    assert (written["status"], written["written"], written["counts"]["create"]) == ("written", True, 2)
    with sessions(crm_url).begin() as session:
        sun = session.scalars(select(Client).where(Client.phone == "13912345679")).one()
        assert (sun.assets, sun.agent.login) == (800_000, "agent02")
    listed = browser.get(f"{web}/api/imports", timeout=30).json()
    assert [(b["status"], b["by"], b["filename"]) for b in listed] == [
        ("written", "super01", "三月名单.xlsx"), ("dry_run", "super01", "三月名单.xlsx"),
        ("dry_run", "super01", "三月名单.xlsx")]
    assert listed[0]["counts"] == {"total": 2, "create": 2, "update": 0, "unchanged": 0, "refused": 0}
    assert listed[2]["counts"]["refused"] == 1 and listed[2]["report_rows"] == 1


def test_only_the_valid_rows_are_written_and_the_report_is_a_csv_for_excel(web, crm_url, tmp_path):  # noqa: F811
    token = token_for(web, "super01", "demo-super").json()["token"]
    path = write_xlsx(tmp_path / "c.xlsx", HEADER, [row(), row(客户号="K2", 手机号="13912345679", 风险测评等级="C8"),
                                                    row(客户号="K3", 手机号="13912345670", 号码来源="扫街")])
    refused = upload(requests, f"{web}/api/imports/clients", path, headers=bearer(token), dry_run="0")
    assert refused.json()["status"] == "refused" and "整个文件都没有导入" in refused.json()["message"]
    reply = upload(requests, f"{web}/api/imports/clients", path, headers=bearer(token), dry_run="0",
                   write_valid="1").json()
    assert (reply["status"], reply["counts"]["create"], reply["counts"]["refused"]) == ("written", 1, 2)
    report = requests.get(f"{web}/api/imports/{reply['id']}/report.csv", headers=bearer(token), timeout=30)
    assert report.status_code == 200 and report.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in report.headers["Content-Disposition"]
    assert report.content.startswith(b"\xef\xbb\xbf")  # a BOM: Excel opens the Chinese as Chinese
    lines = report.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "行号,姓名,手机号,问题"
    assert lines[1:] == ["3,钱多多,139****5679,风险测评等级“C8”不是C1-C5",
                         "4,钱多多,139****5670,号码来源“扫街”无法识别，可填：我行客户、他人推荐、网点留资、活动登记、"
                         "单位代发工资、对公客户联系人、线上申请"]
    assert "13912345679" not in report.text
    assert requests.get(f"{web}/api/imports/99999/report.csv", headers=bearer(token), timeout=30).status_code == 404


def test_the_opt_out_register_through_the_page_api(web, crm_url, tmp_path):  # noqa: F811
    browser, csrf = supervisor(web)
    path = write_csv(tmp_path / "拒绝营销名单.csv", ["手机号", "登记日期"], [["13800000003", "2026-11-02"],
                                                                            ["13912340000", ""]], "gbk")
    reply = upload(browser, f"{web}/api/imports/dnc", path, csrf, dry_run="0").json()
    assert (reply["kind"], reply["status"], reply["counts"]["update"], reply["counts"]["not_found"]) == \
        ("do_not_call", "written", 1, 1)
    assert reply["not_found"][0]["phone"] == "139****0000"
    with sessions(crm_url).begin() as session:
        zhu = session.scalars(select(Client).where(Client.phone == "13800000003")).one()
        assert zhu.do_not_call and zhu.dnc_source == "行内拒绝营销名单（拒绝营销名单.csv，2026-11-02）"
        assert session.scalars(select(Change).where(Change.kind == "do_not_call")).one().entity_id == zhu.id


@pytest.mark.parametrize(("login", "password"), [("agent01", "demo-agent"), ("trainee01", "demo-trainee")])
def test_agents_and_trainees_may_not_import(web, crm_url, tmp_path, login, password):  # noqa: F811
    token = token_for(web, login, password).json()["token"]
    path = write_xlsx(tmp_path / "c.xlsx", HEADER, [row()])
    for reply in (upload(requests, f"{web}/api/imports/clients", path, headers=bearer(token), dry_run="0"),
                  upload(requests, f"{web}/api/imports/dnc", path, headers=bearer(token), dry_run="0"),
                  requests.get(f"{web}/api/imports", headers=bearer(token), timeout=30),
                  requests.get(f"{web}/api/imports/1/report.csv", headers=bearer(token), timeout=30)):
        assert reply.status_code == 403 and reply.json()["error"] == "只有主管可以导入客户和拒绝营销名单。"
    assert requests.get(f"{web}/api/imports", timeout=30).status_code == 401
    with sessions(crm_url).begin() as session:
        assert session.scalar(select(func.count()).select_from(ImportBatch)) == 0


def test_a_browser_session_needs_the_pages_csrf_token(web, tmp_path):  # noqa: F811
    browser, _csrf = supervisor(web)
    reply = upload(browser, f"{web}/api/imports/clients", write_xlsx(tmp_path / "c.xlsx", HEADER, [row()]))
    assert reply.status_code == 403 and reply.json()["error"] == "页面已过期，请刷新后再试。"


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("客户.docx", b"PK\x03\x04 a word file", "“客户.docx”不是CSV或Excel（.xlsx）文件"),
    ("客户.xlsx", b"this is not a workbook", "“客户.xlsx”打不开"),
])
def test_a_bad_file_type_is_refused_in_chinese_and_kept_in_the_list(web, tmp_path, name, content, expected):  # noqa: F811
    browser, csrf = supervisor(web)
    path = tmp_path / name
    path.write_bytes(content)
    reply = upload(browser, f"{web}/api/imports/clients", path, csrf, dry_run="1")
    assert reply.status_code == 400 and expected in reply.json()["error"]
    listed = browser.get(f"{web}/api/imports", timeout=30).json()
    assert (listed[0]["filename"], listed[0]["status"], listed[0]["report_rows"]) == (name, "refused", 1)
    assert upload(browser, f"{web}/api/imports/clients", path, csrf, dry_run="1",
                  fixes=["not", "a", "map"]).json()["error"] == "修改内容的格式不对，请刷新页面后重新检查。"


def _raw_post(base: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, dict]:
    """A POST that declares a body size without sending it all (a real upload of that size would be slow)."""
    address = urlsplit(base)
    lines = [f"POST {path} HTTP/1.1", f"Host: {address.netloc}", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall("\r\n".join(lines).encode() + body)
        received = b""
        while True:
            head, found, rest = received.partition(b"\r\n\r\n")
            length = re.search(rb"content-length:\s*(\d+)", head, re.IGNORECASE) if found else None
            if length and len(rest) >= int(length.group(1)):
                break
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    head, _found, text = received.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(text)


def test_uploads_up_to_20_mb_on_the_import_routes_only(web, crm_url, tmp_path):  # noqa: F811
    token = token_for(web, "super01", "demo-super").json()["token"]
    big = {"Authorization": f"Bearer {token}", "Content-Type": "multipart/form-data; boundary=x",
           "Content-Length": str(21 * 1024 * 1024)}
    status, text = _raw_post(web, "/api/imports/clients", big)
    assert status == 413 and text["error"] == "文件太大（最多20 MB），没有导入。请分成几个文件导入。"
    # Every other route keeps the 1 MB limit.
    status, _text = _raw_post(web, "/api/token", {"Content-Type": "application/json",
                                                 "Content-Length": str(2 * 1024 * 1024)})
    assert status == 413
    # A 3 MB sheet (over the 1 MB the rest of the app reads) is read and imported.
    path = write_csv(tmp_path / "big.csv", ["姓名", "手机号", "号码来源", "备注"],
                     [[f"客户{n}", f"139{n:08d}", "网点留资", "备" * 12000] for n in range(100)])
    assert path.stat().st_size > 3 * 1024 * 1024
    reply = upload(requests, f"{web}/api/imports/clients", path, headers=bearer(token), dry_run="0")
    assert reply.status_code == 200 and reply.json()["counts"]["create"] == 100


def test_a_failed_write_changes_nothing_and_says_so(web, crm_url, tmp_path):  # noqa: F811
    with sqlite3.connect(crm_url.removeprefix("sqlite:///")) as raw:
        raw.execute("CREATE TRIGGER refuse_one BEFORE INSERT ON clients WHEN NEW.phone = '13912345679' "
                    "BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    raw.close()
    browser, csrf = supervisor(web)
    before = _clients(crm_url)
    path = write_xlsx(tmp_path / "c.xlsx", HEADER, [row(), row(客户号="K2", 手机号="13912345679",
                                                               出生日期=date(1990, 1, 1))])
    reply = upload(browser, f"{web}/api/imports/clients", path, csrf, dry_run="0")
    assert reply.status_code == 500 and "已全部撤销，CRM未做任何改动" in reply.json()["error"]
    assert _clients(crm_url) == before
    listed = browser.get(f"{web}/api/imports", timeout=30).json()
    assert (listed[0]["status"], listed[0]["status_label"]) == ("failed", "写入失败，已撤销")


def test_a_long_import_is_answered_not_dropped_by_the_response_timeout(web, live_app, tmp_path, monkeypatch):  # noqa: F811
    """Sanic answers 503 after RESPONSE_TIMEOUT while the import's thread goes on and commits; the import
    routes wait longer. Shown with a 1-second timeout and an import that takes 2.5 seconds."""
    slow = importer.run_import
    monkeypatch.setattr(importer, "run_import", lambda *a, **k: time.sleep(2.5) or slow(*a, **k))
    monkeypatch.setattr(live_app.app.config, "RESPONSE_TIMEOUT", 1)
    token = token_for(web, "super01", "demo-super").json()["token"]
    path = write_xlsx(tmp_path / "c.xlsx", HEADER, [row()])
    reply = upload(requests, f"{web}/api/imports/clients", path, headers=bearer(token), dry_run="1")
    assert reply.status_code == 200 and reply.json()["counts"]["create"] == 1
    monkeypatch.setattr(import_routes, "_patient", lambda request: None)  # without it: the drop described above
    assert upload(requests, f"{web}/api/imports/clients", path, headers=bearer(token), dry_run="1").status_code == 503
