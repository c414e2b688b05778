"""The header on a phone (360 px wide): Bootstrap Italia's slim header with the
user area as a dropdown, and the burger menu inside the screen.

Before, the user's name, role, comune, password link and log-out button sat
side by side in the slim header: every page of a logged-in user was 426-440 px
wide, "Esci" was off screen and the opened burger menu was clipped on the left.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Session

pytestmark = pytest.mark.slow

PHONE = {"width": 360, "height": 740}
MAYOR = "sindaco.pinerolo@demo.collab.it"
ADMIN = "admin@demo.collab.it"  # the longest menu: it has "Amministrazione"

BOX = "(el) => { const r = el.getBoundingClientRect(); return [r.left, r.right, r.top, r.bottom]; }"


def _page_width(page: Page) -> int:
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width


def _inside_viewport(page: Page, selector: str) -> None:
    """Every element matching ``selector`` lies within the viewport's width."""
    viewport = page.viewport_size
    assert viewport is not None
    boxes = page.locator(selector).evaluate_all(f"els => els.map({BOX})")
    assert boxes, selector
    for left, right, _top, _bottom in boxes:
        assert left >= 0 and right <= viewport["width"], (selector, left, right)


def _settled(page: Page) -> None:
    """Wait for Bootstrap Italia's slide-in animations to end (it ignores
    clicks meanwhile; wait_for_function would need 'unsafe-eval')."""
    for _ in range(50):
        if page.evaluate("() => document.getAnimations().length") == 0:
            return
        page.wait_for_timeout(100)


def test_user_menu_on_a_phone(open_session: Callable[..., Session]) -> None:
    s = open_session(viewport=PHONE)
    s.login(MAYOR)
    page = s.page
    assert _page_width(page) == PHONE["width"]
    toggle = page.locator("#user-menu-toggle")
    expect(toggle).to_be_visible()
    _inside_viewport(page, "#user-menu-toggle")
    # The name is out of sight on a phone but still names the button.
    expect(toggle).to_have_accessible_name(re.compile(r"^Sindaco di Pinerolo\s*: menu utente$"))
    expect(page.locator("#user-menu")).to_be_hidden()

    toggle.click()
    menu = page.locator("#user-menu")
    expect(menu).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    who = menu.locator('[data-testid="current-user"]')
    expect(who).to_contain_text("Sindaco di Pinerolo")
    expect(who).to_contain_text("Sindaco, Pinerolo")
    _inside_viewport(page, "#user-menu")
    _inside_viewport(
        page,
        '#user-menu a[href="/account/password"], #user-menu a[href="/account/calendar"], '
        '#user-menu [data-testid="logout"]',
    )
    assert _page_width(page) == PHONE["width"]

    # Escape closes it and gives the focus back to the toggle.
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(toggle).to_be_focused()

    # From the keyboard: open, go down to the password link, follow it.
    page.keyboard.press("Enter")
    expect(menu).to_be_visible()
    page.keyboard.press("ArrowDown")
    expect(menu.locator('a[href="/account/password"]')).to_be_focused()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/account/password")

    # Log out from the menu.
    page.locator("#user-menu-toggle").click()
    with page.expect_navigation():
        page.locator('#user-menu [data-testid="logout"]').click()
    expect(page.locator('a.btn[href="/login"]')).to_be_visible()
    expect(page.locator("#user-menu-toggle")).to_have_count(0)
    s.watcher.assert_clean()


def test_burger_menu_inside_the_screen(open_session: Callable[..., Session]) -> None:
    s = open_session(viewport=PHONE)
    s.login(ADMIN)
    page = s.page
    links = page.locator("#main-nav a.nav-link")
    expect(links.first).to_be_hidden()
    page.click('button.custom-navbar-toggler[aria-controls="main-nav"]')
    expect(links.first).to_be_visible()
    _settled(page)
    _inside_viewport(page, "#main-nav .menu-wrapper")
    _inside_viewport(page, "#main-nav a.nav-link")
    assert _page_width(page) == PHONE["width"]
    # The current section is marked for assistive technology, not only by colour.
    expect(page.locator('#main-nav a.nav-link[aria-current="page"][href="/"]')).to_have_count(1)
    page.click("#main-nav button.close-menu")
    expect(links.first).to_be_hidden()
    s.watcher.assert_clean()


def test_without_javascript_log_out_stays_reachable(
    open_session: Callable[..., Session],
) -> None:
    """The dropdown needs JavaScript: without it the toggle is a link to the
    password page and the log-out button stands next to it."""
    s = open_session(viewport=PHONE)
    s.login(MAYOR)
    plain = open_session(java_script=False, viewport=PHONE)
    plain.context.add_cookies(s.context.cookies())
    page = plain.page
    page.goto("/")
    assert _page_width(page) == PHONE["width"]
    logout = '.it-header-slim-right-zone > noscript form[action="/logout"] button'
    expect(page.locator(logout)).to_be_visible()
    _inside_viewport(page, f"#user-menu-toggle, {logout}")
    with page.expect_navigation():
        page.locator("#user-menu-toggle").click()
    assert page.url.endswith("/account/password")
    with page.expect_navigation():
        page.locator(logout).click()
    expect(page.locator('a.btn[href="/login"]')).to_be_visible()
    plain.watcher.assert_clean()
