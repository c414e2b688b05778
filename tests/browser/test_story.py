"""The main story in a real browser: a mayor starts a thread, replies through
htmx, edits in place; another zone is refused; staff hides a reply; and the
same writes work with JavaScript off. Every visited page must load without
console errors, failed requests or CSP violations.

Selectors rely on ids, names, hrefs, form actions and data-testid attributes,
never on visible text (the UI language may change).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, Session

pytestmark = pytest.mark.slow

MAYOR = "sindaco.pinerolo@demo.collab.it"
OTHER_ZONE = "tecnico.ivrea@demo.collab.it"
STAFF = "staff@demo.collab.it"
THEME = "/zones/5/trasporti-mobilita"  # "Trasporti e mobilità"
THREAD_URL = re.compile(r"/threads/(\d+)(\?page=\d+)?(#post-\d+)?$")


def _post_ids(page: Page) -> list[str]:
    return page.locator("#posts article.post").evaluate_all("els => els.map(e => e.dataset.postId)")


FONT_LOADED = """async (family) => {
    await document.fonts.ready;
    return [...document.fonts].some(
        (f) => f.family.replace(/"/g, "") === family && f.status === "loaded");
}"""


def _font_loaded(page: Page, family: str) -> bool:
    """A @font-face of ``family`` was downloaded (FontFaceSet.check() would say
    true for a family that has no @font-face at all)."""
    return bool(page.evaluate(FONT_LOADED, family))


def test_thread_story(
    open_session: Callable[..., Session], live_server: LiveServer, shots: Path
) -> None:
    mayor = open_session()
    page = mayor.page
    mayor.login(MAYOR)

    # Home: the 11 zone cards; the mayor's zone is a link.
    expect(page.locator('[data-testid="zones"] .zone-card')).to_have_count(11)
    assert _font_loaded(page, "Titillium Web"), "the Bootstrap Italia font is not loaded"
    page.screenshot(path=shots / "home.png", full_page=True)
    page.click('.zone-card[data-zone="5"] a[href="/zones/5"]')
    page.wait_for_url("**/zones/5")
    expect(page.locator('[data-testid="themes"]')).to_be_visible()
    page.screenshot(path=shots / "zone.png", full_page=True)

    # Theme board, then a new thread.
    page.click(f'[data-testid="themes"] a[href="{THEME}"]')
    page.wait_for_url(f"**{THEME}")
    page.click(f'a[href="{THEME}/new"]')
    page.wait_for_url(f"**{THEME}/new")
    title = "Navetta per l'ospedale di Pinerolo"
    page.fill("#title", title)
    page.fill("#body", "Proponiamo una **navetta** dai comuni della valle.")
    with page.expect_navigation():
        page.click(f'form[action="{THEME}/new"] [type="submit"]')
    match = THREAD_URL.search(page.url)
    assert match, page.url
    thread_url = f"/threads/{match.group(1)}"
    expect(page.locator("h1")).to_have_text(title)
    expect(page.locator("#posts article.post")).to_have_count(1)
    expect(page.locator("#posts article.post .post-body strong")).to_contain_text("navetta")

    # Reply through htmx: no reload (the window marker survives), form cleared.
    page.evaluate("window.__noReload = 'still-here'")
    reply_text = "Il comune di Pinerolo mette a disposizione il parcheggio."
    page.fill("#reply-body", reply_text)
    page.click('#reply-form [type="submit"]')
    expect(page.locator("#posts article.post")).to_have_count(2)
    reply = page.locator("#posts article.post").last
    expect(reply.locator(".post-body")).to_have_text(reply_text)
    expect(page.locator("#reply-body")).to_have_value("")
    assert page.evaluate("window.__noReload") == "still-here"
    reply_id = _post_ids(page)[-1]
    post = page.locator(f"#post-{reply_id}")

    # Edit in place: the textarea replaces the post, saving swaps it back.
    post.locator(f'a[href="/posts/{reply_id}/edit"]').click()
    textarea = page.locator(f"#post-{reply_id} textarea#edit-body-{reply_id}")
    expect(textarea).to_be_visible()
    expect(textarea).to_have_value(reply_text)
    edited_text = "Il comune di Pinerolo mette a disposizione il parcheggio del Movicentro."
    textarea.fill(edited_text)
    page.click(f'#post-{reply_id} form[action="/posts/{reply_id}/edit"] [type="submit"]')
    expect(post.locator(".post-body")).to_have_text(edited_text)
    expect(page.locator(f"#edit-body-{reply_id}")).to_have_count(0)
    edited = post.locator('[data-testid="edited"]')
    expect(edited).to_have_attribute("href", f"/posts/{reply_id}/history")
    assert page.evaluate("window.__noReload") == "still-here"
    page.screenshot(path=shots / "thread.png", full_page=True)

    # The history page shows both versions, newest first.
    edited.click()
    page.wait_for_url(f"**/posts/{reply_id}/history")
    revisions = page.locator('[data-testid="revisions"] .revision .post-body')
    expect(revisions).to_have_count(2)
    expect(revisions.nth(0)).to_have_text(edited_text)
    expect(revisions.nth(1)).to_have_text(reply_text)
    mayor.watcher.assert_clean()

    # Another zone's technician: 403 pages, no reply form, no link to zone 5.
    other = open_session()
    other.login(OTHER_ZONE)
    expect(other.page.locator('.zone-card[data-zone="5"] a')).to_have_count(0)
    for url in (thread_url, "/zones/5", THEME, f"{THEME}/new"):
        other.watcher.expect_error_status(live_server.url + url)
        response = other.page.goto(url)
        assert response is not None and response.status == 403, url
        expect(other.page.locator('.alert[data-status="403"]')).to_be_visible()
        expect(other.page.locator("#reply-form")).to_have_count(0)
        expect(other.page.locator("#posts")).to_have_count(0)
    other.page.screenshot(path=shots / "forbidden.png", full_page=True)
    other.watcher.assert_clean()

    # Staff hides the mayor's reply with a reason, in place.
    staff = open_session()
    staff.login(STAFF)
    staff.page.goto(thread_url)
    staff_post = staff.page.locator(f"#post-{reply_id}")
    staff_post.locator("details summary").click()
    reason = "Dati personali nel messaggio"
    staff.page.fill(f"#reason-{reply_id}", reason)
    staff_post.locator(f'form[action="/posts/{reply_id}/hide"] [type="submit"]').click()
    expect(staff_post.locator('[data-testid="removed"]')).to_contain_text(reason)
    staff.watcher.assert_clean()

    # Everyone else sees the notice with the reason, not the text.
    page.goto(thread_url)
    expect(post.locator('[data-testid="removed"]')).to_contain_text(reason)
    expect(post.locator(".post-body")).to_have_count(0)
    mayor.watcher.assert_clean()


def test_without_javascript(open_session: Callable[..., Session]) -> None:
    """Login, reply and edit as plain form posts answered by redirects."""
    s = open_session(java_script=False)
    page = s.page
    s.login("portavoce.pinerolese@demo.collab.it")
    page.goto(THEME)
    with page.expect_navigation():
        page.locator('[data-testid="threads"] a[href^="/threads/"]').first.click()
    assert THREAD_URL.search(page.url), page.url
    before = len(_post_ids(page))

    text = "Risposta inviata senza JavaScript."
    page.fill("#reply-body", text)
    with page.expect_navigation():
        page.click('#reply-form [type="submit"]')
    match = re.search(r"#post-(\d+)$", page.url)
    assert match, page.url
    post_id = match.group(1)
    assert len(_post_ids(page)) == before + 1
    expect(page.locator(f"#post-{post_id} .post-body")).to_have_text(text)
    expect(page.locator("#reply-body")).to_have_value("")

    # Edit: a full page with the form, then back to the post's permalink.
    with page.expect_navigation():
        page.click(f'#post-{post_id} a[href="/posts/{post_id}/edit"]')
    assert page.url.endswith(f"/posts/{post_id}/edit")
    new_text = "Risposta corretta senza JavaScript."
    page.fill(f"#edit-body-{post_id}", new_text)
    with page.expect_navigation():
        page.click(f'form[action="/posts/{post_id}/edit"] [type="submit"]')
    assert page.url.endswith(f"#post-{post_id}"), page.url
    expect(page.locator(f"#post-{post_id} .post-body")).to_have_text(new_text)
    expect(page.locator(f'#post-{post_id} [data-testid="edited"]')).to_be_visible()
    s.watcher.assert_clean()


def test_mobile_menu(open_session: Callable[..., Session], shots: Path) -> None:
    """On a phone the main menu hides behind the Bootstrap Italia burger."""
    s = open_session(viewport={"width": 390, "height": 844})
    page = s.page
    page.goto("/")
    expect(page.locator('[data-testid="zones"] .zone-card')).to_have_count(11)
    menu_link = page.locator('#main-nav a.nav-link[href="/"]')
    expect(menu_link).to_be_hidden()
    page.screenshot(path=shots / "mobile-home.png", full_page=True)
    page.click('button.custom-navbar-toggler[aria-controls="main-nav"]')
    expect(menu_link).to_be_visible()
    # Bootstrap Italia ignores a click while the menu is still sliding in.
    # (wait_for_function would need 'unsafe-eval', which the CSP forbids)
    for _ in range(50):
        if page.evaluate("() => document.getAnimations().length") == 0:
            break
        page.wait_for_timeout(100)
    page.screenshot(path=shots / "mobile-menu.png")
    page.click("#main-nav button.close-menu")
    expect(menu_link).to_be_hidden()
    s.watcher.assert_clean()
