"""The staff widget and the supervisor review in real headless Chromium (Debian's package).

Playwright's sync API drives /usr/bin/chromium against the services of the `servers`
fixture (real action server, Rasa with the trained model, web app; nothing mocked).
Screenshots of every step go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from bot.models import STAGE_LABELS, STAGES
from tests.conftest import ARTIFACTS, DEMO_PASSWORDS, api_token, service_now

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ARTIFACTS / "screenshots"
REPLY_TIMEOUT_MS = 60_000
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM.exists(), "Chromium is missing: apt-get install -y chromium (make test installs it)"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture()
def context(browser: Browser, servers):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN",
                                  permissions=["clipboard-read", "clipboard-write"], base_url=servers["web"])
    context.set_default_timeout(REPLY_TIMEOUT_MS)
    yield context
    context.close()


def shot(page: Page, name: str, full_page: bool = False) -> None:
    page.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)


def watch(page: Page) -> list[str]:
    """Collect page errors and any dialog (an executed alert() would land here)."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def on_dialog(dialog):
        problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return problems


def login(page: Page, user: str, password: str | None = None) -> None:
    page.goto("/")
    page.get_by_label("用户名").fill(user)
    page.get_by_label("密码").fill(password or DEMO_PASSWORDS[user])
    page.get_by_role("button", name="登录").click()


def open_review(page: Page) -> None:
    """Log the supervisor in and wait until the dashboard's scripts have drawn the call list (tabs
    and filters only work from then on)."""
    login(page, "super01")
    expect(page.get_by_role("heading", name="主管看板")).to_be_visible()
    expect(page.locator("#calls-status")).to_contain_text("共")


def open_widget(context: BrowserContext, user: str) -> tuple[Page, list[str]]:
    page = context.new_page()
    problems = watch(page)
    login(page, user)
    expect(page.locator("#status")).to_have_text("已连接")
    return page, problems


def say(page: Page, text: str) -> None:
    """Type a line into the widget, press Enter, wait for the bot's first reply to it."""
    bot = page.locator("#log .msg.bot")
    before = bot.count()
    page.locator("#input").fill(text)
    page.locator("#input").press("Enter")
    expect(page.locator("#log .msg.user .bubble").last).to_have_text(text)
    bot.nth(before).wait_for()
    expect(page.locator("#log .typing")).to_have_count(0)


def session_id(page: Page, user: str) -> str:
    value = page.evaluate(f"sessionStorage.getItem('salesbot.session.{user}')")
    assert value, "the widget keeps its conversation id in sessionStorage"
    return value


def deals_on_dashboard(servers, agent_name: str) -> int:
    token = api_token(servers, "super01")
    reply = requests.get(f"{servers['web']}/api/dashboard", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    reply.raise_for_status()
    return reply.json()["dispositions"].get(agent_name, {}).get("deal", 0)


def test_login_page_and_wrong_password(context):
    page = context.new_page()
    problems = watch(page)
    page.goto("/")
    expect(page.get_by_role("heading", name="电话销售助手")).to_be_visible()
    shot(page, "01-login.png")
    login(page, "agent01", "not-the-password")
    expect(page.get_by_role("alert")).to_have_text("用户名或密码错误。")
    expect(page.get_by_label("密码")).to_be_visible()
    assert context.cookies() and not any(c["name"] == "salesbot_session" and c["value"] for c in context.cookies())
    shot(page, "01b-login-wrong-password.png")
    assert problems == []


def test_a_whole_call_in_the_widget_then_the_supervisor_reviews_it(context, browser, servers):
    deals_before = deals_on_dashboard(servers, "李明")
    page, problems = open_widget(context, "agent01")
    expect(page.locator("header")).to_contain_text("李明")

    # Lookup: the client card with stage, tier, holdings and the last call.
    say(page, "查一下张三")
    card = page.locator(".client-card").last
    expect(card.locator(".client-name")).to_contain_text("张三")
    expect(card.locator(".badge.stage")).not_to_be_empty()
    expect(card.locator(".badge.tier")).not_to_be_empty()
    expect(card.locator(".holdings")).to_contain_text("已持有")
    expect(card.locator(".facts")).to_contain_text("上次通话")
    expect(page.locator("#current-client")).to_contain_text("张三")
    card_row = page.locator("#log .msg.bot").filter(has=page.locator(".client-card")).last
    expect(card_row.locator(".quick-replies").get_by_role("button", name="开场白")).to_be_visible()
    # One reply, one bubble: the card stands in for the reply's text, its buttons beneath.
    expect(page.locator("#log .msg.bot").last).to_have_class(re.compile(r"\bcard-row\b"))
    expect(page.locator("#log .msg.bot .bubble", has_text="张三")).to_have_count(0)

    # Opening: the script card, the line large and copyable, the technique named.
    say(page, "开场白怎么说")
    expect(page.locator(".script-card")).to_have_count(1)
    script = page.locator(".script-card").last
    expect(script.locator(".say")).to_contain_text("张先生")
    expect(script.locator(".badge.technique")).not_to_be_empty()
    assert float(script.locator(".say").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 18
    script.get_by_role("button", name="复制这句话术").click()
    expect(script.locator(".copy")).to_have_text("已复制")

    # Objection, then the pitch.
    say(page, "客户说他在开会")
    expect(page.locator(".script-card")).to_have_count(2)
    say(page, "白金信用卡怎么介绍")
    expect(page.locator(".script-card")).to_have_count(3)
    expect(page.locator(".script-card").last).to_contain_text("白金信用卡")

    # The side list shows exactly the agent's follow-ups due today (refreshed after each reply).
    token = api_token(servers, "agent01")
    due = requests.get(f"{servers['web']}/api/followups?due=today", timeout=30,
                       headers={"Authorization": f"Bearer {token}"}).json()
    expect(page.locator("#followups li.followup")).to_have_count(len(due))
    for item in due:
        expect(page.locator("#followups")).to_contain_text(item["client"])

    # Outcome button.
    conversation = session_id(page, "agent01")
    page.locator(".outcomes").get_by_role("button", name="成交", exact=True).click()
    # Which product? The buttons list the products discussed in this call; nothing is logged before.
    choice = page.locator("#log .quick-replies button", has_text="成交：").first
    expect(choice).to_be_visible()
    choice.click()
    logged = page.locator(".ok-card")
    expect(logged).to_contain_text("通话已记录：成交")
    expect(logged).to_contain_text("成交客户")
    # The panel shows the stage the CRM now holds: a deal moves 张三 up to 成交客户, never down
    # (another test on the shared services may already have made him a 固定客户).
    with sqlite3.connect(servers["crm"]) as db:
        [(stage,)] = db.execute("select stage from clients where name = '张三'").fetchall()
    assert STAGES.index(stage) >= STAGES.index("deal")
    expect(page.locator("#current-client")).to_contain_text(STAGE_LABELS[stage])
    shot(page, "02-widget-call.png")
    page.locator("#log").evaluate("e => e.scrollTop = 0")
    shot(page, "02b-widget-client-card.png")

    # A reload continues the same conversation and shows it again.
    page.reload()
    expect(page.locator("#status")).to_have_text("已连接")
    assert session_id(page, "agent01") == conversation
    expect(page.locator("#log .client-card")).to_have_count(1)
    expect(page.locator("#log .script-card")).to_have_count(3)
    assert problems == []

    # The supervisor finds the call, its transcript and its effect on the dashboard.
    supervisor = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN",
                                     base_url=servers["web"])
    supervisor.set_default_timeout(REPLY_TIMEOUT_MS)
    try:
        review = supervisor.new_page()
        review_problems = watch(review)
        open_review(review)
        review.get_by_role("textbox", name="客户", exact=True).fill("张三")
        review.get_by_role("button", name="查询").click()
        expect(review.locator("#calls-status")).to_contain_text("已筛选")
        link = review.locator(f'a[href="/review/conversations/{conversation}"]')
        expect(link).to_have_count(1)
        row = review.locator("#calls-body tr").filter(has=link)
        expect(row).to_contain_text("李明")
        expect(row).to_contain_text("张三")
        expect(row).to_contain_text("成交")
        expect(row).to_contain_text("客户说在忙")
        for other in review.locator("#calls-body tr td:nth-child(3)").all_text_contents():
            assert "张三" in other
        csv_href = review.locator("#csv-link").get_attribute("href")
        assert csv_href.startswith("/api/calls.csv?") and "client=%E5%BC%A0%E4%B8%89" in csv_href
        csv = review.request.get(csv_href)
        assert csv.ok and conversation in csv.text()
        shot(review, "03-review-list.png")

        link.click()
        expect(review).to_have_url(re.compile(f"/review/conversations/{conversation}$"))
        expect(review.get_by_role("heading", name="通话记录：张三")).to_be_visible()
        summary = review.locator(".call-summary")
        expect(summary).to_contain_text("成交")
        expect(summary).to_contain_text("李明")
        expect(summary).to_contain_text("客户说在忙")
        first = review.locator(".turn.user").first
        expect(first).to_contain_text("查一下张三")
        expect(first).to_contain_text("lookup_client")
        expect(first.locator(".conf")).to_contain_text("置信度")
        expect(review.locator(".turn.action").first).to_contain_text("action_lookup_client")
        # Two runs: the first asked which product, the second (the agent's pick) wrote the row.
        expect(review.locator(".turn.action", has_text="action_log_outcome").last).to_contain_text("通话记录 #")
        expect(review.locator(".turn.user", has_text="客户说他在开会")).to_contain_text("objection_busy")
        shot(review, "04-transcript.png", full_page=True)

        # The supervisor sees the number masked; "显示号码" reveals it and is audited.
        expect(review.locator("#client-phone")).to_have_text("138****0001")
        review.get_by_role("button", name="显示号码").click()
        expect(review.locator("#client-phone")).to_have_text("13800000001")
        expect(review.get_by_role("button", name="显示号码")).to_be_hidden()

        review.get_by_role("link", name=re.compile("返回通话列表")).click()
        review.get_by_role("tab", name="数据看板").click()
        chart = review.locator("#chart-dispositions")
        expect(chart.locator("svg")).to_be_visible()
        expect(chart.locator("svg rect.bar.s-deal").first).to_be_visible()
        headers = chart.locator("thead th").all_text_contents()
        deal_column = headers.index("成交")
        cells = chart.locator("tbody tr", has=review.locator("th", has_text="李明")).locator("th, td")
        expect(cells.nth(deal_column)).to_have_text(str(deals_before + 1))
        expect(review.locator("#chart-funnel svg")).to_be_visible()
        expect(review.locator("#chart-funnel")).to_contain_text("成交客户")
        expect(review.locator("#chart-objections")).to_contain_text("客户说在忙")
        shot(review, "05-dashboard.png", full_page=True)
        review.get_by_role("tab", name="号码查看记录").click()
        audit_row = review.locator("#audit-body tr").first
        expect(audit_row).to_contain_text("郑主管")
        expect(audit_row).to_contain_text("张三")
        shot(review, "05b-phone-audit.png")
        assert review_problems == []
    finally:
        supervisor.close()


def test_an_agent_cannot_open_another_agents_transcript(context, browser, servers):
    conversation = f"browser-private-{uuid.uuid4().hex[:10]}"
    token = api_token(servers, "agent01")
    reply = requests.post(f"{servers['rasa']}/webhooks/rest/webhook", timeout=60,
                          headers={"Authorization": f"Bearer {token}"},
                          json={"sender": conversation, "message": "查一下张三"})
    reply.raise_for_status()

    page, problems = open_widget(context, "agent02")
    response = page.goto(f"/review/conversations/{conversation}")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="无权查看")).to_be_visible()
    expect(page.locator("main")).to_contain_text("这是其他坐席的会话，您无权查看。")
    assert "查一下张三" not in page.content()
    shot(page, "06-forbidden.png")
    assert problems == []

    # Its owner can.
    owner = browser.new_context(base_url=servers["web"])
    try:
        own = owner.new_page()
        login(own, "agent01")
        response = own.goto(f"/review/conversations/{conversation}")
        assert response is not None and response.status == 200
        expect(own.locator(".turn.user").first).to_contain_text("查一下张三")
    finally:
        owner.close()


def test_an_xss_looking_message_is_shown_as_text(context):
    page, problems = open_widget(context, "agent01")
    say(page, XSS)
    expect(page.locator("#log .msg.user .bubble").last).to_have_text(XSS)
    expect(page.locator("#log img")).to_have_count(0)
    conversation = session_id(page, "agent01")
    shot(page, "08-xss-as-text.png")

    # 新通话 starts a new conversation id.
    page.get_by_role("button", name="新通话").click()
    expect(page.locator("#status")).to_have_text("已连接")
    expect(page.locator("#log .msg")).to_have_count(0)
    expect(page.locator("#log .notice")).to_contain_text("新通话已开始")
    for _ in range(50):
        fresh = page.evaluate("sessionStorage.getItem('salesbot.session.agent01')")
        if fresh and fresh != conversation:
            break
        page.wait_for_timeout(100)
    assert fresh and fresh != conversation

    # The transcript page (server-rendered) escapes it too.
    page.goto(f"/review/conversations/{conversation}")
    expect(page.locator(".turn.user .text").first).to_have_text(XSS)
    expect(page.locator("main img")).to_have_count(0)
    page.wait_for_timeout(300)
    assert problems == [], problems


def test_connection_errors_are_shown_in_chinese(context, servers):
    # The Rasa server unreachable (the network drops every socket.io request).
    context.route(f"{servers['rasa']}/socket.io/**", lambda route: route.abort())
    page = context.new_page()
    problems = watch(page)
    login(page, "agent01")
    expect(page.locator("#status")).to_contain_text("无法连接到对话服务器")
    page.locator("#input").fill("查一下张三")
    page.locator("#input").press("Enter")
    expect(page.locator("#log .notice")).to_contain_text("还没有连接到对话服务器，消息未发送")
    expect(page.locator("#log .msg.user")).to_have_count(0)
    expect(page.locator("#input")).to_have_value("查一下张三")
    shot(page, "09-connection-error.png")

    # Logging out (a CSRF-protected form) ends the session.
    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_role("button", name="登录")).to_be_visible()
    page.goto("/")
    expect(page.get_by_label("用户名")).to_be_visible()
    assert problems == []


def test_keyboard_only_chinese_ime_and_the_callback_picker(context, servers):
    page = context.new_page()
    problems = watch(page)
    page.goto("/")
    # The login form by keyboard alone.
    page.get_by_label("用户名").focus()
    page.keyboard.type("agent02")
    page.keyboard.press("Tab")
    page.keyboard.type(DEMO_PASSWORDS["agent02"])
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text("已连接")
    box = page.locator("#input")
    expect(box).to_be_focused()

    # Enter while an input method is composing picks a candidate: nothing is sent.
    box.dispatch_event("compositionstart")
    page.keyboard.type("查一下朱丽")
    page.keyboard.press("Enter")
    box.dispatch_event("keydown", {"key": "Enter", "isComposing": True, "bubbles": True, "cancelable": True})
    page.wait_for_timeout(400)
    expect(page.locator("#log .msg.user")).to_have_count(0)
    expect(box).to_have_value(re.compile("^查一下朱丽"))
    box.dispatch_event("compositionend")
    page.wait_for_timeout(50)
    page.keyboard.press("Enter")
    expect(page.locator("#log .msg.user .bubble")).to_have_text(["查一下朱丽"])
    expect(box).to_have_value("")
    expect(page.locator(".client-card .client-name")).to_contain_text("朱丽")
    expect(page.locator("#log .typing")).to_have_count(0)

    # Tab through the controls: every stop shows a visible focus ring; reach the callback picker.
    picker = page.locator("#callback-time")
    for _ in range(40):
        page.keyboard.press("Tab")
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", page.evaluate("document.activeElement.outerHTML")
        if picker.evaluate("e => e === document.activeElement"):
            break
    else:
        pytest.fail("the callback time picker is not reachable with Tab")

    # In the future for the browser (real clock) and for the server (its clock reads ~10:00, conftest),
    # and inside the calling hours (09:00-21:00 by default): else tomorrow at 10:00.
    now = service_now(servers)
    when = (max(now, datetime.now()) + timedelta(hours=2)).replace(second=0, microsecond=0)
    when = when.replace(minute=when.minute - when.minute % 5)
    if when.date() != now.date() or not 9 <= when.hour < 21:
        when = (now + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    picker.fill(when.strftime("%Y-%m-%dT%H:%M"))
    expect(picker).to_be_focused()
    page.keyboard.press("Enter")  # submits the picker's form, like its 预约 button
    booked = page.locator(".followup-card")
    expect(booked).to_contain_text("已预约回访")
    expect(booked).to_contain_text("朱丽")
    expect(booked).to_contain_text(when.strftime("%H:%M"))
    if when.date() == now.date():
        expect(page.locator("#followups")).to_contain_text("朱丽")
    shot(page, "07-keyboard-callback.png")
    assert problems == []


def test_a_trainee_rehearses_in_the_widget_and_the_supervisor_coaches(context, browser, servers):
    """Issue 10: a trainee picks a scenario, role-plays it to the end, reads the score card and
    their history; the supervisor sees the rehearsal with its rubric and writes a comment, which
    the trainee then reads."""
    from bot.rehearsal.scenarios import scenario
    from tests.test_rehearsal_roleplay import GOOD

    s = scenario("busy_official_callback")
    page, problems = open_widget(context, "trainee01")
    # Trainees get the rehearsal screen, never the live widget over real clients.
    expect(page.locator("#picker")).to_be_visible()
    expect(page.locator("#outcome-bar")).to_have_count(0)
    page.get_by_role("button", name=f"开始练习：{s.title}").click()
    expect(page.locator(".brief-card")).to_contain_text(s.persona.title)
    for number, line in enumerate(GOOD[s.id], 1):
        page.locator("#input").fill(line)
        page.locator("#input").press("Enter")
        expect(page.locator(".customer-line")).to_have_count(number)
    expect(page.locator(".customer-line").first).to_contain_text(s.opening_reaction)
    total = page.locator(".score-card .score-total")
    expect(total).to_contain_text("总分")
    score = int(re.search(r"\d+", total.inner_text()).group())
    assert score >= 80
    expect(page.locator("#history .history-item").first).to_contain_text(s.title)
    shot(page, "rehearsal-trainee.png")

    supervisor = context.browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN",
                                             base_url=servers["web"])
    supervisor.set_default_timeout(REPLY_TIMEOUT_MS)
    review = supervisor.new_page()
    review_problems = watch(review)
    open_review(review)
    review.get_by_role("tab", name="陪练").click()
    row = review.locator("#rehearsals-body tr", has_text="吴昊").filter(has_text=s.title).first
    expect(row).to_contain_text(str(score))
    row.get_by_role("link").first.click()
    expect(review.locator("#rehearsal-turns")).to_contain_text(s.opening_reaction)
    expect(review.locator("#rehearsal-card")).to_contain_text("30秒开场白")
    comment = "开场很完整，回电时间也给得具体。下次试试在约回电时顺带确认客户方便的联系方式。"
    review.locator("#comment-body").fill(comment)
    review.get_by_role("button", name="保存点评").click()
    expect(review.locator("[data-comments-list]")).to_contain_text(comment)
    shot(review, "rehearsal-review.png", full_page=True)
    supervisor.close()

    page.reload()
    expect(page.locator("#comments-mine")).to_contain_text(comment)
    assert not problems and not review_problems, problems + review_problems


def test_a_complaint_recorded_in_the_widget_is_resolved_on_the_supervisors_page(context, browser, servers):
    """Issue 19: the customer complains, the agent presses one button, the supervisor sees it first
    on the dashboard and resolves it with a note."""
    page, problems = open_widget(context, "agent01")
    say(page, "查一下张三")
    say(page, "客户说上个月乱扣我年费，到现在都没退")
    answer = page.locator("#log .msg.bot").last
    expect(answer).to_contain_text("抱歉")
    answer.get_by_role("button", name="记录投诉（费用扣款）").click()
    expect(page.locator("#log .msg.bot").last).to_contain_text("已记录张三的投诉（费用扣款）")
    assert problems == []

    boss = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN", base_url=servers["web"])
    try:
        review = boss.new_page()
        review_problems = watch(review)
        open_review(review)
        row = review.locator("#complaints-body tr", has_text="张三")
        expect(row).to_contain_text("乱扣我年费")
        expect(row).to_contain_text("待处理")
        expect(review.locator("#complaints-open-count")).to_contain_text("条待处理")
        shot(review, "09-complaints.png")
        row.get_by_label("处理说明：张三").fill("已核实，年费已退回并电话告知客户")
        row.get_by_role("button", name="标记已解决").click()
        expect(review.locator("#complaints-status")).to_have_text("没有待处理的投诉。")
        review.get_by_label("显示已解决的投诉").check()
        resolved = review.locator("#complaints-body tr", has_text="张三")
        expect(resolved).to_contain_text("已解决")
        expect(resolved).to_contain_text("已核实，年费已退回并电话告知客户")
        assert review_problems == []
    finally:
        boss.close()
