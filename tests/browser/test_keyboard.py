"""From the keyboard, a page's main action is a few keys away.

Each page starts with skip links (Bootstrap Italia's "skiplinks"): "Vai al
contenuto", then the page's main action where it has one ("Rispondi" on a
thread, the chair's controls and the votes in a meeting room, the form of a
comune's contribution, the review of a contribution). Before them, reaching
the reply box of a 12-post thread took 43 Tab presses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from collab.db import Database
from collab.models import User
from tests.browser.conftest import LiveServer, Session, login_session
from tests.browser.crawl import DESKTOP, PHONE
from tests.browser.pages import PAGES
from tests.browser.scene import ROLES, Scene, run_async, start_thread

pytestmark = pytest.mark.slow

MAX_TABS = 3

FOCUS = """() => {
  const el = document.activeElement;
  const r = el.getBoundingClientRect();
  const clip = getComputedStyle(el).clip;
  return {id: el.id, testid: el.dataset ? el.dataset.testid || '' : '',
          href: el.getAttribute('href') || '', skip: Boolean(el.closest('.skiplinks')),
          text: el.textContent.trim(), tag: el.tagName.toLowerCase(),
          visible: r.width > 1 && r.height > 1 && r.top >= 0 && r.left >= 0 &&
                   r.bottom <= innerHeight && r.right <= innerWidth &&
                   !clip.startsWith('rect(0px, 0px, 0px, 0px)')};
}"""
INSIDE = """(id) => {
  const target = document.getElementById(id);
  return Boolean(target && target.contains(document.activeElement));
}"""


def focus(page: Page) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate(FOCUS)
    return found


def tabs_to(page: Page, target: str, limit: int = 80) -> int:
    """Tab presses from the top of the page until the focus is on or inside the
    element ``target`` (an id), following (Enter) a skip link that leads there."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        now = focus(page)
        if page.evaluate(INSIDE, target):
            return presses
        if now["skip"] and now["href"] == f"#{target}":
            page.keyboard.press("Enter")
            if page.evaluate(INSIDE, target):
                return presses
    raise AssertionError(f"#{target} not reached in {limit} Tab presses")


async def _thread_of(url: str, posts: int) -> int:
    db = Database(url)
    try:
        async with db.session() as s:
            users = {u.email: u for u in await s.scalars(select(User))}
        people = [users[e] for e in (ROLES["sindaco"], ROLES["tecnico"], ROLES["portavoce"])]
        replies = [
            (people[(n + 1) % 3], f"Risposta {n + 1}: per noi va bene, con una [nota](/library).")
            for n in range(posts - 1)
        ]
        thread_id, _ = await start_thread(db, people[0], "Sportello unico: orari estivi", replies)
        return thread_id
    finally:
        await db.dispose()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_skip_link_comes_first_and_shows_when_focused(
    open_session: Callable[..., Session], viewport: dict[str, int]
) -> None:
    s = open_session(viewport=viewport)
    s.login(ROLES["sindaco"])
    page = s.page
    page.goto("/meetings")
    skip = page.locator('[data-testid="skip-main"]')
    box = skip.bounding_box()
    assert box is None or box["width"] <= 1, "the skip link shows before it has the focus"
    page.keyboard.press("Tab")
    first = focus(page)
    assert first["testid"] == "skip-main" and first["text"] == "Vai al contenuto", first
    assert first["visible"], f"the focused skip link is not visible: {first}"
    # Enter skips the header: the next Tab is in the page's content.
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate(INSIDE, "main"), focus(page)
    s.watcher.assert_clean()


def test_reply_box_of_a_long_thread(
    open_session: Callable[..., Session], live_server: LiveServer
) -> None:
    thread_id = run_async(_thread_of(live_server.database_url, 12))
    s = open_session()
    s.login(ROLES["tecnico"])
    page = s.page
    page.goto(f"/threads/{thread_id}")
    expect(page.locator("#posts article.post")).to_have_count(12)

    tabs = tabs_to(page, "reply-body")
    assert tabs <= MAX_TABS, f"{tabs} Tab presses to the reply box"
    assert focus(page)["id"] == "reply-body"
    expect(page.locator('label[for="reply-body"]')).to_be_in_viewport()

    # And the reply goes out from the keyboard too.
    page.keyboard.type("Confermo gli orari estivi.")
    for _ in range(5):
        page.keyboard.press("Tab")
        if focus(page)["text"] == "Invia risposta":
            break
    page.keyboard.press("Enter")
    expect(page.locator("#posts article.post")).to_have_count(13)
    expect(page.locator("#posts article.post").last).to_contain_text("Confermo gli orari estivi.")
    s.watcher.assert_clean()


# (role, page of tests/browser/pages.py, where its main action is)
MAIN_ACTIONS = [
    ("staff", "room-live", "room-controls"),
    ("sindaco", "room-live", "room-vote"),
    ("anonymous", "public-verbale", "main"),
    ("sindaco", "consultation-to-answer", "contribution-body"),
    ("staff", "consultation", "contributions-received"),
    ("staff", "contribution", "status"),
]


@pytest.mark.parametrize(("role", "name", "target"), MAIN_ACTIONS)
def test_main_action_in_a_few_keys(
    open_session: Callable[..., Session], scene: Scene, role: str, name: str, target: str
) -> None:
    spec = next(p for p in PAGES if p.name == name)
    assert role in spec.roles
    email = ROLES[role]
    s = login_session(open_session, email) if email else open_session()
    s.page.goto(spec.address(scene))
    tabs = tabs_to(s.page, target)
    assert tabs <= MAX_TABS, f"{tabs} Tab presses to #{target} on {name} as {role}"
    s.watcher.assert_clean()
