"""A long thread's pages: each page is read by the ids of its posts, not by an
``OFFSET`` over the posts with their authors; the pages, permalinks and the
jump to the first unread post are what they were."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from collab.db import Database
from collab.forums import actions, queries
from collab.forums.models import Post
from tests.conftest import World
from tests.forums.support import Login, location, one, page, post_ids, reply, start
from tests.helpers import statements

PER_PAGE = 3


@pytest.fixture(autouse=True)
def short_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three posts a page: a few posts make many pages."""
    monkeypatch.setattr(queries, "POSTS_PER_PAGE", PER_PAGE)


async def offset_page(db: Database, thread_id: int, number: int) -> queries.Page[Post]:
    """The page as the plain ``OFFSET`` over the posts gave it."""
    stmt = select(Post).where(Post.thread_id == thread_id).order_by(Post.id)
    async with db.session() as session:
        return await queries.paginate(session, stmt, number, PER_PAGE)


async def long_thread(db: Database, world: World) -> tuple[int, list[int]]:
    """A thread of 11 posts, interleaved with another thread's, one removed."""
    author, other = world["sindaco5"], world["tecnico5"]
    thread, elsewhere = await start(db, author), await start(db, other, "Altro")
    for n in range(10):
        await reply(db, author if n % 2 else other, thread.id, f"Risposta {n}.")
        await reply(db, other, elsewhere.id, f"Altrove {n}.")
    ids = await post_ids(db, thread.id)
    async with db.transaction() as uow:
        await actions.do_delete_own_post(uow, author, ids[4])
    return thread.id, ids


async def test_every_page_holds_what_offset_gave(db: Database, world: World) -> None:
    thread_id, ids = await long_thread(db, world)
    assert len(ids) == 11
    for number in (-1, 0, 1, 2, 3, 4, 5, 99):
        expected = await offset_page(db, thread_id, number)
        async with db.session() as session:
            got = await queries.thread_posts(session, thread_id, number)
        assert [p.id for p in got.items] == [p.id for p in expected.items], number
        assert (got.number, got.pages, got.total) == (expected.number, expected.pages, 11)
        # The authors come with the page (the template reads them after the session).
        assert all(p.author.name for p in got.items)
    async with db.session() as session:
        last = await queries.thread_posts(session, thread_id, 4)
    assert [p.id for p in last.items] == ids[9:]
    assert last.items[0].author is not None


async def test_the_posts_with_their_authors_are_never_skipped(db: Database, world: World) -> None:
    """The skipping happens on post ids alone: the query that joins the
    authors reads only the page's posts."""
    thread_id, _ = await long_thread(db, world)
    with statements(db) as seen:
        async with db.session() as session:
            await queries.thread_posts(session, thread_id, 4)
    joined = [sql for sql in seen if "JOIN" in sql.upper()]
    assert joined, seen
    for sql in joined:
        upper = " ".join(sql.upper().split())
        if "OFFSET" in upper:
            assert upper.index("OFFSET") > upper.index("IN (SELECT POST.ID"), sql


async def test_pages_permalinks_and_first_unread_over_http(
    login_as: Login, db: Database, world: World
) -> None:
    thread_id, ids = await long_thread(db, world)
    reader = await login_as("portavoce5")
    url = f"/threads/{thread_id}"

    def shown(soup: Any) -> list[int]:
        return [int(str(a["data-post-id"])) for a in soup.select("#posts > article.post")]

    # Every page over HTTP, the removed post in its place; only the last takes live posts.
    pages = [shown(await page(reader, f"{url}?page={n}")) for n in (1, 2, 3, 4)]
    assert pages == [ids[0:3], ids[3:6], ids[6:9], ids[9:11]]
    assert shown(await page(reader, f"{url}?page=99")) == ids[9:11]
    assert one(await page(reader, f"{url}?page=4"), "#posts").has_attr("data-live-append")
    assert not one(await page(reader, f"{url}?page=2"), "#posts").has_attr("data-live-append")

    # A post's permalink names the page that shows it.
    for index in (0, 5, 9, 10):
        target = location(await reader.get(f"/posts/{ids[index]}"))
        assert target == f"{url}?page={index // PER_PAGE + 1}#post-{ids[index]}"
        assert ids[index] in shown(await page(reader, target.split("#")[0]))

    # Someone who read up to page 2 (posts 0-5): the first unread (ids[6]) is on page 3.
    reader = await login_as("staff")
    await page(reader, f"{url}?page=2")
    target = f"{url}?page=3#post-{ids[6]}"
    assert location(await reader.get(f"{url}/unread")) == target
    first = await page(reader, url)
    assert one(first, '[data-testid="jump-unread"]')["href"] == target
    # The posts' forms (hide, restore) carry the page's CSRF token.
    tokens = {str(i["value"]) for i in first.select('#posts input[name="csrf_token"]')}
    assert tokens == {reader.token}, tokens
    third = await page(reader, f"{url}?page=3")
    separator = one(third, '[data-testid="unread-separator"]')
    after = separator.find_next_sibling()
    assert after is not None and after["id"] == f"post-{ids[6]}"
