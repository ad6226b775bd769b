"""Issue 22 in real headless Chromium against the real services: the agent types a line the assistant
is not sure about, gets the likeliest readings as buttons, picks one and the call goes on; the
supervisor finds the line on the 待学习语句 tab grouped under the chosen meaning and accepts it.
Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from bot import labels
from bot.playbook import intent_questions, intent_titles, playbook
from tests.test_browser import browser, context, open_review, open_widget, say, shot, watch  # noqa: F401
from tests.test_floor_e2e import PROBES

pytestmark = pytest.mark.e2e


def test_an_agent_picks_a_reading_and_the_supervisor_accepts_it_on_the_page(context, browser, servers):  # noqa: F811
    page, problems = open_widget(context, "agent01")
    asks = playbook().messages.clarify_texts
    question = None
    for probe in PROBES:
        say(page, probe)
        last = page.locator("#log .msg.bot").last
        if last.locator("button", has_text=labels.button("reading_none")).count():
            question, line = last, probe
            break
    assert question is not None, "the assistant guessed on every unknown line"
    expect(question).to_contain_text(asks["ask_outside_call"])
    buttons = question.locator("button")
    assert 3 <= buttons.count() <= 4
    shot(page, "floor-1-question.png")
    chosen_title = buttons.nth(1).inner_text()
    chosen = next(intent for intent, q in intent_questions().items() if q == chosen_title)
    bot = page.locator("#log .msg.bot")
    before = bot.count()
    buttons.nth(1).click()
    bot.nth(before).wait_for()
    expect(page.locator("#log .msg.user .bubble").last).to_have_text(chosen_title)
    assert "过期" not in bot.last.inner_text()
    assert problems == []

    boss = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN", base_url=servers["web"])
    try:
        review = boss.new_page()
        review_problems = watch(review)
        open_review(review)
        review.locator("#tab-floor").click()
        group = review.locator(f'#floor-groups section[data-intent="{chosen}"]')
        expect(group).to_contain_text(intent_titles()[chosen])
        row = group.locator("tr", has_text=line)
        expect(row).to_contain_text("坐席选择")
        expect(row).to_contain_text("agent01")
        expect(review.locator("#floor-count")).to_have_text("1")
        shot(review, "floor-2-candidates.png", full_page=True)
        group.get_by_role("button", name="本组全部采纳").click()
        expect(review.locator("#floor-status")).to_have_text("已处理 1 条。")
        expect(review.locator("#floor-count")).to_be_hidden()
        review.locator("#floor-filters select[name=status]").select_option("accepted")
        expect(review.locator("#floor-groups tr", has_text=line)).to_contain_text("super01")
        assert review_problems == []
    finally:
        boss.close()
