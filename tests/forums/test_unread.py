"""Unread per thread: how far each person read, counts on the boards, the
jump to the first unread post, and the endpoint live pages report to."""

from __future__ import annotations

from datetime import timedelta

from bs4 import Tag
from sqlalchemy import select, update

from collab.db import Database
from collab.forums import reads
from collab.forums.models import Thread, ThreadRead
from collab.forums.queries import POSTS_PER_PAGE
from collab.models import utcnow
from tests.conftest import World
from tests.forums.support import (
    BOARD,
    Login,
    location,
    one,
    page,
    post_ids,
    reply,
    start,
    words,
)
from tests.helpers import italian, italian_n, parse, snapshot


async def read_up_to(db: Database, user_id: int, thread_id: int) -> int | None:
    async with db.session() as session:
        return await reads.last_read(session, user_id, thread_id)


def next_post(node: Tag) -> str:
    """The id of the post right after ``node``."""
    after = node.find_next_sibling()
    assert isinstance(after, Tag) and after.name == "article", after
    return str(after["id"])


async def test_a_read_only_moves_forward(world: World, db: Database) -> None:
    reader = world["tecnico5"]
    thread = await start(db, world["sindaco5"])
    for post_id, expected in [(10, 10), (5, 10), (10, 10), (12, 12)]:
        async with db.transaction() as uow:
            await reads.mark_read(uow.session, reader.id, thread.id, post_id)
        assert await read_up_to(db, reader.id, thread.id) == expected
    async with db.session() as session:
        rows = (await session.scalars(select(ThreadRead))).all()
    assert [(r.user_id, r.thread_id) for r in rows] == [(reader.id, thread.id)]


async def test_board_zone_and_home_show_what_is_unread(
    login_as: Login, world: World, db: Database
) -> None:
    author, reader = world["sindaco5"], await login_as("tecnico5")
    thread = await start(db, author, "Orari del bus 830")
    row = f"#thread-{thread.id}"

    # Never opened and recent: new, its one post unread.
    board = await page(reader, BOARD)
    assert one(board, row)["data-read"] == "1"
    assert words(one(board, f'{row} [data-testid="new"]')) == italian("New")
    assert one(board, f"{row} a.fw-semibold")["href"] == f"/threads/{thread.id}/unread"

    # Opened: nothing unread, no marker.
    await page(reader, f"/threads/{thread.id}")
    board = await page(reader, BOARD)
    assert one(board, row)["data-read"] == "0"
    assert board.select(f'{row} [data-testid="new"], {row} [data-testid="unread"]') == []

    # Two replies: counted on the board, the zone page and the home page.
    await reply(db, author, thread.id, "Prima risposta.")
    await reply(db, author, thread.id, "Seconda risposta.")
    board = await page(reader, BOARD)
    badge = one(board, f'{row} [data-testid="unread"]')
    assert badge["data-unread"] == "2"
    assert words(badge) == italian_n("%(num)d unread", "%(num)d unread", 2)
    zone = await page(reader, "/zones/5")
    theme_row = one(zone, '[data-testid="themes"] tr[data-read="1"]')
    assert one(theme_row, f'a[href="{BOARD}"]') is not None
    assert words(one(theme_row, '[data-testid="unread-threads"]')) == italian_n(
        "%(num)d with news", "%(num)d with news", 1
    )
    assert one(zone, f"#recent-threads {row}")["data-read"] == "2"
    home = await page(reader, "/")
    card = one(home, '[data-zone="5"]')
    assert one(card, '[data-testid="unread-threads"]')["data-unread"] == "1"
    assert one(home, '[data-zone="9"]').select('[data-testid="unread-threads"]') == []

    # One's own posts are never unread.
    mine = await page(await login_as("sindaco5"), BOARD)
    assert one(mine, row)["data-read"] == "0"

    # Read: the markers are gone everywhere.
    await page(reader, f"/threads/{thread.id}")
    assert one(await page(reader, BOARD), row)["data-read"] == "0"
    assert (await page(reader, "/zones/5")).select('[data-testid="unread-threads"]') == []
    assert (await page(reader, "/")).select('[data-testid="unread-threads"]') == []


async def test_old_threads_never_opened_count_as_read(
    login_as: Login, world: World, db: Database
) -> None:
    reader = await login_as("tecnico5")
    old = await start(db, world["sindaco5"], "Vecchia discussione")
    before_account = await start(db, world["sindaco5"], "Prima dell'account")
    async with db.transaction() as uow:
        await uow.session.execute(
            update(Thread)
            .where(Thread.id == old.id)
            .values(last_activity_at=utcnow() - reads.NEW_WINDOW - timedelta(hours=1))
        )
        await uow.session.execute(
            update(Thread)
            .where(Thread.id == before_account.id)
            .values(last_activity_at=world["tecnico5"].created_at - timedelta(minutes=1))
        )
    board = await page(reader, BOARD)
    for thread in (old, before_account):
        assert one(board, f"#thread-{thread.id}")["data-read"] == "0"
    assert (await page(reader, "/")).select('[data-testid="unread-threads"]') == []
    # It opens at its last post, as a thread read to the end.
    last = (await post_ids(db, old.id))[-1]
    response = await reader.get(f"/threads/{old.id}/unread")
    assert location(response) == f"/threads/{old.id}?page=1#post-{last}"


async def test_a_thread_opens_at_its_first_unread_post(
    login_as: Login, world: World, db: Database
) -> None:
    author, reader = world["sindaco5"], await login_as("tecnico5")
    thread = await start(db, author)
    for n in range(POSTS_PER_PAGE + 4):
        await reply(db, author, thread.id, f"Risposta {n}.")
    ids = await post_ids(db, thread.id)
    url = f"/threads/{thread.id}/unread"

    # Never opened (and recent): its first post.
    assert location(await reader.get(url)) == f"/threads/{thread.id}?page=1#post-{ids[0]}"
    first = await page(reader, f"/threads/{thread.id}")
    assert one(first, '[data-testid="jump-unread"]')["href"] == f"#post-{ids[0]}"
    separator = one(first, '[data-testid="unread-separator"]')
    assert next_post(separator) == f"post-{ids[0]}"

    # Page 1 read: the first post of page 2, from the board's link and the page's.
    target = f"/threads/{thread.id}?page=2#post-{ids[POSTS_PER_PAGE]}"
    assert location(await reader.get(url)) == target
    again = await page(reader, f"/threads/{thread.id}")
    assert one(again, '[data-testid="jump-unread"]')["href"] == target
    assert again.select('[data-testid="unread-separator"]') == []
    second = await page(reader, f"/threads/{thread.id}?page=2")
    separator = one(second, '[data-testid="unread-separator"]')
    assert next_post(separator) == f"post-{ids[POSTS_PER_PAGE]}"
    assert await read_up_to(db, world["tecnico5"].id, thread.id) == ids[-1]

    # All read: the last post; an older page seen again does not move back.
    await page(reader, f"/threads/{thread.id}?page=1")
    assert await read_up_to(db, world["tecnico5"].id, thread.id) == ids[-1]
    assert location(await reader.get(url)) == f"/threads/{thread.id}?page=2#post-{ids[-1]}"
    assert (await page(reader, f"/threads/{thread.id}?page=2")).select(
        '[data-testid="jump-unread"]'
    ) == []


async def test_unread_needs_the_right_to_read(login_as: Login, world: World, db: Database) -> None:
    thread = await start(db, world["sindaco5"])
    outsider = await login_as("sindaco9")
    assert (await outsider.get(f"/threads/{thread.id}/unread")).status_code == 403
    assert (await outsider.get("/threads/999999/unread")).status_code == 404


async def test_the_read_endpoint(login_as: Login, world: World, db: Database) -> None:
    author, reader = world["sindaco5"], await login_as("tecnico5")
    outsider = await login_as("sindaco9")
    thread = await start(db, author)
    other = await start(db, author, "Un'altra")
    live = await reply(db, author, thread.id, "Arrivato dal vivo.")
    url = f"/threads/{thread.id}/read"

    # What a page's unread.js sends: the CSRF token in the header.
    token = await reader.csrf()
    response = await reader.http.post(
        url, data={"post": str(live.id)}, headers={"X-CSRF-Token": token}
    )
    assert response.status_code == 204, response.text[:300]
    assert await read_up_to(db, world["tecnico5"].id, thread.id) == live.id

    before = await snapshot(db)
    # Bad input: a clear message, nothing changed.
    [other_post] = await post_ids(db, other.id)
    for bad in (str(other_post), "abc", "", "-1", "1" * 40, "٣"):
        response = await reader.post(url, {"post": bad}, htmx=True)
        assert response.status_code == 422, (bad, response.status_code)
        alert = one(parse(response), "[role=alert]")
        assert italian("This message is not in this thread.") in words(alert)
    # Someone of another zone; a thread that does not exist; no CSRF token.
    assert (await outsider.post(url, {"post": str(live.id)})).status_code == 403
    assert (await reader.post("/threads/999999/read", {"post": "1"})).status_code == 404
    assert (await reader.http.post(url, data={"post": str(live.id)})).status_code == 403
    assert await snapshot(db) == before
