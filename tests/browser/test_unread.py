"""Unread in a real browser, two users: the mayor replies, the technician
sees it as new (live on the thread, then on the board), opens the thread at
the first unread post, and the markers are gone once read.

Selectors rely on ids, hrefs and data-testid attributes, never on visible text.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Session, login_session

pytestmark = pytest.mark.slow

MAYOR = "sindaco.pinerolo@demo.collab.it"
TECHNICIAN = "tecnico.luserna@demo.collab.it"  # zone 5 too
THEME = "/zones/5/trasporti-mobilita"


def _start_thread(page: Page, title: str, body: str) -> int:
    page.goto(f"{THEME}/new")
    page.fill("#title", title)
    page.fill("#body", body)
    with page.expect_navigation():
        page.click(f'form[action="{THEME}/new"] [type="submit"]')
    match = re.search(r"/threads/(\d+)", page.url)
    assert match, page.url
    return int(match[1])


def _reply(page: Page, text: str) -> str:
    """Reply through the htmx form; the new post's element id."""
    page.fill("#reply-body", text)
    page.click('#reply-form [type="submit"]')
    last = page.locator("#posts > article.post").last
    expect(last.locator(".post-body")).to_have_text(text)
    expect(page.locator("#reply-body")).to_have_value("")
    post_id = last.get_attribute("id")
    assert post_id
    return post_id


def test_unread_markers_appear_and_clear(open_session: Callable[..., Session]) -> None:
    mayor = login_session(open_session, MAYOR)
    tech = login_session(open_session, TECHNICIAN)
    thread_id = _start_thread(mayor.page, "Fermata del bus a Bricherasio", "Spostiamola?")
    row = f"#thread-{thread_id}"

    # The technician reads the thread; a reply arrives live: marked new
    # until it has been seen, which the page reports to the server.
    tech.page.goto(f"/threads/{thread_id}")
    expect(tech.page.locator("#live")).to_have_attribute("data-topics", re.compile(r"\d"))
    read = f"/threads/{thread_id}/read"
    with tech.page.expect_request(lambda r: r.method == "POST" and r.url.endswith(read)):
        first = _reply(mayor.page, "Meglio davanti al municipio.")
        expect(tech.page.locator(f'#{first} [data-testid="live-new"]')).to_be_visible()
    expect(tech.page.locator(f'#{first} [data-testid="live-new"]')).to_have_count(0)

    # Seen: nothing unread on the board.
    tech.page.goto(THEME)
    expect(tech.page.locator(row)).to_have_attribute("data-read", "0")
    expect(tech.page.locator(f'{row} [data-testid="unread"]')).to_have_count(0)

    # Two more replies: the row, pushed live, is marked new; on load, counted.
    second = _reply(mayor.page, "D'accordo, ne parliamo in assemblea.")
    expect(tech.page.locator(f'{row} [data-testid="live-new"]')).to_be_visible()
    _reply(mayor.page, "Porto la planimetria.")
    tech.page.goto(THEME)
    expect(tech.page.locator(f'{row} [data-testid="unread"]')).to_have_attribute("data-unread", "2")

    # The row's link opens the thread at the first unread post, after the separator.
    with tech.page.expect_navigation():
        tech.page.click(f"{row} a.fw-semibold")
    assert tech.page.url.endswith(f"/threads/{thread_id}?page=1#{second}"), tech.page.url
    separator = tech.page.locator('[data-testid="unread-separator"]')
    expect(separator).to_be_visible()
    expect(tech.page.locator(f"#first-unread + #{second}")).to_have_count(1)

    # Back on the board, the marker is gone.
    tech.page.goto(THEME)
    expect(tech.page.locator(row)).to_have_attribute("data-read", "0")
    expect(
        tech.page.locator(f'{row} [data-testid="unread"], {row} [data-testid="new"]')
    ).to_have_count(0)
    tech.watcher.assert_clean()
    mayor.watcher.assert_clean()
