"""A visitor without an account, in a real browser: the footer's legal pages,
a zone's public page, a public meeting, and the English interface.

The demo's joint meeting of ZO 5 and ZO 6 has a public link. Another browser
test may have held it by now (then it is a past meeting with its verbale):
either way it is on zone 5's public page. Selectors rely on hrefs, ids and
data-testid attributes; visible text is checked only where the language is
the point.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Session

pytestmark = pytest.mark.slow

LEGAL = ("/legal/accessibility", "/legal/privacy", "/legal/cookies")
DEMO_MEETING = "Giornata di sintesi del Pinerolese"
# The demo meeting's first agenda item is on this axis of the Piano strategico.
AXIS_IT = "Torino metropoli più mobile, accessibile e collegata"
AXIS_EN = "A more mobile, accessible and connected Turin metropolis"


def _footer_link(page: Page, href: str) -> None:
    with page.expect_navigation():
        page.click(f'footer [data-testid="legal-links"] a[href="{href}"]')
    assert page.url.endswith(href)


def test_a_visitor_reads_the_legal_pages_and_follows_a_public_meeting(
    open_session: Callable[..., Session], shots: Path
) -> None:
    visitor = open_session()
    page = visitor.page
    page.goto("/")
    expect(page.locator('[data-testid="visitor-note"]')).to_be_visible()

    # The three legal pages, each reached from the footer of the page before.
    for href in LEGAL:
        _footer_link(page, href)
        expect(page.locator("main h1")).to_be_visible()
        expect(page.locator('[data-testid="legal-text"]')).to_be_visible()
        expect(page.locator('[data-testid="legal-template"]')).to_be_visible()
    expect(page.locator('[data-testid="legal-cookies"] tr[data-cookie]')).to_have_count(2)
    page.screenshot(path=shots / "legal-cookies.png", full_page=True)
    _footer_link(page, "/legal/accessibility")
    agid = page.locator('[data-testid="legal-agid-form"]')
    expect(agid).to_have_attribute("href", "https://form.agid.gov.it/")

    # Home -> zone 5's public page -> the public meeting.
    page.goto("/")
    with page.expect_navigation():
        page.click('.zone-card[data-zone="5"] a[href="/public/zones/5"]')
    # The demo's meeting (other browser tests add public meetings of their own).
    meeting = page.locator('[data-testid="public-meeting-link"]', has_text=DEMO_MEETING).first
    expect(meeting).to_have_attribute("href", re.compile(r"^/m/[\w-]+$"))
    page.screenshot(path=shots / "zone-public.png", full_page=True)
    with page.expect_navigation():
        meeting.click()
    expect(page.locator('[data-testid="public-note"]')).to_be_visible()
    themes = page.locator("#room-agenda li div.small")
    expect(themes.first).to_contain_text(AXIS_IT)

    # The footer's language form: the same page in English, English theme names.
    page.select_option("footer select#lang", "en")
    with page.expect_navigation():
        page.click('footer form[action="/language"] button[type="submit"]')
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(themes.first).to_contain_text(AXIS_EN)
    expect(page.locator('[data-testid="room-zones"]')).to_contain_text("Susa and Sangone Valleys")
    page.screenshot(path=shots / "public-meeting-en.png", full_page=True)
    visitor.watcher.assert_clean()
