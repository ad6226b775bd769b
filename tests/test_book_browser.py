"""A team's own book in real headless Chromium against the real services (issue 21, "Done when"): a
supervisor imports a sheet, fixes the preview's errors, assigns the new clients to two agents; an agent
works down the call list: a maturity reminder and the new prospects; a busy prospect's callback, logged
with the outcome the widget proposes in one click, then leads the list (callback first, maturity second).
Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import re
import sqlite3
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from tests.sheets import write_xlsx
from tests.test_browser import browser, context, login, open_review, shot, watch  # noqa: F401 - fixtures

pytestmark = pytest.mark.e2e
REPLY_MS = 60_000  # a reply of the real Rasa and action servers (the first one of a fresh Rasa is slow)

HEADER = ("客户号", "姓名", "手机号", "性别", "出生日期", "职业", "号码来源", "风险测评等级", "测评日期",
          "是否同意营销")
ROWS = (
    ("T2026120001", "魏来", "13930030001", "男", date(1985, 3, 9), "工程师", "网点留资", "C3", date(2026, 9, 1), "是"),
    # A phone one digit short: corrected in the preview.
    ("T2026120002", "秦岚", "1393003002", "女", date(1990, 6, 30), "教师", "活动登记", None, None, "否"),
    # An impossible date: corrected in the preview.
    ("T2026120003", "严峻", "13930030003", "男", "1979-02-30", "个体户", "线上申请", None, None, None),
    ("T2026120004", "齐悦", "13930030004", "女", date(1995, 11, 2), "护士", "网点留资", None, None, "是"),
)


def _import_and_fix(page: Page, sheet) -> None:
    page.locator("#tab-import").click()
    page.locator("#import-form select[name=kind]").select_option("clients")
    page.locator("#import-form input[type=file]").set_input_files(str(sheet))
    page.locator("#import-form button[type=submit]").click()
    refused = page.locator("#import-refused-body tr")
    expect(refused).to_have_count(2)
    expect(page.locator('#import-refused-body tr[data-row="3"]')).to_contain_text("手机号")
    expect(page.locator('#import-refused-body tr[data-row="4"]')).to_contain_text("出生日期")
    expect(page.locator("#import-write")).to_be_hidden()  # the whole sheet only once every row is right
    shot(page, "book-import-preview.png", full_page=True)
    page.locator('#import-refused-body input[data-row="3"][data-field="phone"]').fill("13930030002")
    page.locator('#import-refused-body input[data-row="4"][data-field="birth_date"]').fill("1979-02-28")
    page.locator("#import-recheck").click()
    expect(page.locator("#import-refused")).to_be_hidden()
    expect(page.locator("#import-write")).to_be_visible()
    page.locator("#import-write").click()
    expect(page.locator("#imports-body tr").first).to_contain_text("4")  # four clients created
    expect(page.locator("#import-summary")).to_contain_text("4")


def _assign_to_two(page: Page) -> None:
    page.locator("#tab-assign").click()
    page.locator("#assign-filters input[name=unassigned]").check()
    page.locator("#assign-filters button[type=submit]").click()
    expect(page.locator("#assign-body tr")).to_have_count(4)
    page.locator("#assign-all").check()
    expect(page.locator("#assign-selected-count")).to_have_text("4")
    page.locator('#assign-agents input[value="agent01"]').check()
    page.locator('#assign-agents input[value="agent02"]').check()
    page.locator("#assign-submit").click()
    result = page.locator("#assign-result")
    expect(result).to_contain_text("4")
    expect(result).to_contain_text(re.compile(r"agent01.*2.*agent02.*2|agent02.*2.*agent01.*2"))
    shot(page, "book-assigned.png", full_page=True)


def test_a_team_lead_imports_and_assigns_and_an_agent_works_the_call_list(browser, context, servers,  # noqa: F811
                                                                          tmp_path):
    sheet = write_xlsx(tmp_path / "营销部名单.xlsx", HEADER, ROWS)
    supervisor = context.new_page()
    problems = watch(supervisor)
    open_review(supervisor)
    _import_and_fix(supervisor, sheet)
    _assign_to_two(supervisor)
    with sqlite3.connect(servers["crm"]) as db:
        owners = dict(db.execute("SELECT c.name, u.login FROM clients c JOIN users u ON u.id = c.agent_id "
                                 "WHERE c.client_no LIKE 'T202612%'").fetchall())
    assert sorted(owners.values()) == ["agent01", "agent01", "agent02", "agent02"]
    assert owners.keys() == {"魏来", "秦岚", "严峻", "齐悦"}
    supervisor.close()

    # The agent on their own computer: a browser context of their own.
    agent_context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN",
                                        base_url=servers["web"])
    agent_context.set_default_timeout(60_000)
    agent = agent_context.new_page()
    problems += watch(agent)
    login(agent, "agent02")
    expect(agent.locator("#status")).to_have_text("已连接")
    rows = agent.locator("#followups li.call-item")
    expect(agent.locator("#call-progress")).to_contain_text("已拨 0")
    # The maturity reminder (a demo client's wealth product), then new prospects: the two just assigned.
    expect(rows.nth(0).locator(".badge.kind")).to_have_text("到期")
    expect(rows.nth(0).locator(".f-name")).to_have_text("王华")
    mine = sorted(name for name, owner in owners.items() if owner == "agent02")
    new = agent.locator("#followups li.call-item.kind-new")
    expect(new.filter(has_text=mine[0])).to_have_count(1)
    expect(new.filter(has_text=mine[1])).to_have_count(1)
    assert not set(owners) - set(mine) & set(new.locator(".f-name").all_inner_texts())  # agent01's are not here
    shot(agent, "book-call-list.png")

    # One click starts the call with a new prospect looked up; the customer is busy; the assistant books
    # the callback and proposes 约回访, which one click logs.
    prospect = mine[0]
    new.filter(has_text=prospect).locator("button").first.click()
    expect(agent.locator("#current-client")).to_contain_text(prospect, timeout=REPLY_MS)
    agent.locator("#input").fill("客户说他在开会，晚点再说")
    agent.locator("#input").press("Enter")
    box = agent.locator("#outcome-proposal")
    expect(box).to_be_visible(timeout=REPLY_MS)
    expect(box.locator(".proposal-line")).to_contain_text("约回访")
    expect(agent.locator("#outcome-bar .outcome.proposed")).to_have_count(1)
    box.locator(".proposal-apply").click()
    expect(agent.locator("#call-progress")).to_contain_text("已拨 1", timeout=REPLY_MS)
    with sqlite3.connect(servers["crm"]) as db:
        logged = db.execute("SELECT c.disposition FROM calls c JOIN clients k ON k.id = c.client_id "
                            "WHERE k.name = ? ORDER BY c.id DESC LIMIT 1", (prospect,)).fetchone()
    assert logged == ("callback",)

    # The list now starts with that callback (due later today), then the maturity reminder.
    expect(rows.nth(0).locator(".badge.kind")).to_have_text("回访")
    expect(rows.nth(0).locator(".f-name")).to_have_text(prospect)
    expect(rows.nth(1).locator(".badge.kind")).to_have_text("到期")
    shot(agent, "book-outcome-logged.png")
    # The maturity reminder is next: a click starts a new call about 王华.
    rows.nth(1).locator("button").first.click()
    expect(agent.locator("#current-client")).to_contain_text("王华", timeout=REPLY_MS)
    expect(agent.locator("#log .msg.bot").last).to_contain_text("王华", timeout=REPLY_MS)
    agent_context.close()
    assert not problems, problems
