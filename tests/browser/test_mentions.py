"""A mention from the keyboard: the mayor of Pinerolo types ``@Ma`` in a reply,
picks a colleague of the zone with the arrows and Enter, and sends; the
mention is a link to that person, who is notified (their bell counts it),
while a mayor of another zone, mentioned by hand, is neither linked nor told.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from collab.accounts.actions import do_create_user
from collab.db import Database
from collab.demo import DEMO_PASSWORD
from collab.models import User
from collab.notifications.models import Notification
from tests.browser.conftest import LiveServer, Session, login_session
from tests.browser.scene import ROLES, run_async, start_thread

pytestmark = pytest.mark.slow

PINEROLO, CUMIANA, IVREA = "001191", "001097", "001125"  # ZO 5, ZO 5, ZO 9


async def _set_up(url: str, tag: str) -> dict[str, int]:
    """Two people of zone 5 whose names begin with "Ma", one of zone 9, and a
    thread of zone 5 started by the mayor of Pinerolo."""
    db = Database(url)
    try:
        ids: dict[str, int] = {}
        async with db.transaction() as uow:
            for key, name, istat in (
                ("mario", "Mario Bianchi", PINEROLO),
                ("martina", "Martina Rosso", CUMIANA),
                ("marta", "Marta Ferrero", IVREA),
            ):
                user = await do_create_user(
                    uow, None, email=f"{key}.{tag}@test.collab.it", name=name, role="tecnico",
                    password=DEMO_PASSWORD, comune_istat=istat,
                )  # fmt: skip
                ids[key] = user.id
        async with db.session() as s:
            mayor = await s.scalar(select(User).where(User.email == ROLES["sindaco"]))
        assert mayor is not None
        ids["thread"], _ = await start_thread(db, mayor, "Chi segue la navetta?", [])
        return ids
    finally:
        await db.dispose()


async def _mentions_of(url: str, user_id: int) -> list[tuple[str, str]]:
    db = Database(url)
    try:
        async with db.session() as s:
            rows = await s.scalars(select(Notification).where(Notification.user_id == user_id))
            return [(n.kind, n.url) for n in rows]
    finally:
        await db.dispose()


def test_a_mention_picked_from_the_keyboard(
    live_server: LiveServer, open_session: Callable[..., Session]
) -> None:
    tag = secrets.token_hex(3)
    ids = run_async(_set_up(live_server.database_url, tag))
    mayor = login_session(open_session, str(ROLES["sindaco"]))
    page = mayor.page
    page.goto(f"/threads/{ids['thread']}")

    area = page.locator("#reply-body")
    area.click()
    area.press_sequentially("Ci pensa @Ma", delay=30)
    listbox = page.locator("#reply-body-mentions")
    options = listbox.get_by_role("option")
    # Only people who may read the thread: the two of zone 5, not Marta (zone 9).
    expect(options).to_have_count(2)
    expect(options.nth(0)).to_contain_text("Mario Bianchi")
    expect(options.nth(1)).to_contain_text("Martina Rosso")
    expect(area).to_have_attribute("aria-expanded", "true")
    expect(area).to_have_attribute("aria-controls", "reply-body-mentions")
    expect(area).to_have_attribute("aria-activedescendant", f"reply-body-mentions-{ids['mario']}")

    page.keyboard.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    expect(area).to_have_attribute("aria-activedescendant", f"reply-body-mentions-{ids['martina']}")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")  # wraps around to the last
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Enter")
    expect(listbox).to_have_count(0)
    expect(area).to_have_attribute("aria-expanded", "false")
    expect(area).to_have_value(f"Ci pensa @**Martina Rosso|{ids['martina']}** ")

    # Someone of another zone, typed by hand: the syntax works without the list.
    area.press_sequentially(f"con @**Marta Ferrero|{ids['marta']}**.")
    expect(listbox).to_have_count(0)
    page.locator("#reply-form [type=submit]").click()

    post = page.locator("#posts article.post").last
    link = post.locator("a.mention")
    expect(link).to_have_count(1)
    expect(link).to_have_text("@Martina Rosso")
    expect(link).to_have_attribute("href", f"/people/{ids['martina']}")
    expect(post.locator(".post-body")).to_contain_text("@Marta Ferrero.")
    mayor.watcher.assert_clean()

    # Martina is notified, once, of a mention that lands on the post; Marta is not.
    [(kind, url)] = run_async(_mentions_of(live_server.database_url, ids["martina"]))
    assert kind == "mention"
    assert url.startswith(f"/threads/{ids['thread']}?page=1#post-")
    assert run_async(_mentions_of(live_server.database_url, ids["marta"])) == []
    martina = login_session(open_session, f"martina.{tag}@test.collab.it")
    bell = martina.page.locator("#notif-bell")
    if bell.count():  # the bell of the notifications core
        expect(bell).to_have_attribute("data-unread", "1")
    marta = login_session(open_session, f"marta.{tag}@test.collab.it")
    bell = marta.page.locator("#notif-bell")
    if bell.count():
        expect(bell).to_have_attribute("data-unread", "0")

    # The link leads to the person.
    link.click()
    expect(page.locator("h1")).to_have_text("Martina Rosso")
    mayor.watcher.assert_clean()
