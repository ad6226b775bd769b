"""The 话术效果 tab in real headless Chromium against the web app alone (no Rasa needed: the review page
only reads the JSON API): the supervisor sees the civil servants' card with 制造忧虑's rate and the
recommendation, pins 同类借故, and after the redraw sees it pinned and recommended.
Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from bot.labels import for_pages
from tests.test_accounts import chromium, live_app, web  # noqa: F401 - fixtures
from tests.test_browser import open_review, shot, watch
from tests.test_learning_web import CIVIL, seed_calls

pytestmark = pytest.mark.slow  # starts Chromium
TEXTS = for_pages()["learning_page"]


def test_a_supervisor_reads_the_effect_and_pins_a_style(web, chromium):  # noqa: F811
    seed_calls()
    context = chromium.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN", base_url=web)
    context.set_default_timeout(30_000)
    try:
        page = context.new_page()
        problems = watch(page)
        open_review(page)
        page.locator("#tab-learning").click()
        card = page.locator(f'#learning-segments section[data-segment="{CIVIL}"]')
        worry = card.locator('tr[data-style="worry"]')
        expect(worry.locator(".learning-rate")).to_have_text("50%")
        expect(worry).to_contain_text(TEXTS["page_preferred"])
        expect(card.locator('tr[data-style="direct"] .learning-few')).to_contain_text("样本不足")
        expect(card.locator(".learning-changed")).to_have_text(TEXTS["page_never_changed"])
        shot(page, "learning-1-effect.png", full_page=True)

        card.locator("select.learning-pin").select_option("peer_reference")
        expect(page.locator("#learning-status")).to_have_text(TEXTS["page_saved"])
        pinned = card.locator('tr[data-style="peer_reference"]')
        expect(pinned).to_contain_text(TEXTS["page_pinned"])
        expect(pinned).to_contain_text(TEXTS["page_preferred"])
        expect(worry).not_to_contain_text(TEXTS["page_preferred"])
        expect(card.locator("select.learning-pin")).to_have_value("peer_reference")
        expect(card.locator('input[data-exclude="peer_reference"]')).to_be_disabled()
        expect(card.locator(".learning-changed")).to_contain_text("super01")
        shot(page, "learning-2-pinned.png", full_page=True)
        assert problems == []
    finally:
        context.close()
