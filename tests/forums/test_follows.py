"""Follow or mute a thread, follow a theme in a zone (or its metropolitan
threads and forms library): the controls, their answers, who may use them."""

from __future__ import annotations

from sqlalchemy import select

from collab.db import Database
from collab.forums import actions, follows
from collab.models import Zone
from collab.notifications.models import FollowLevel, ThemeFollow
from tests.conftest import World
from tests.forums.support import BOARD, THEME, Login, location, one, page, start, words
from tests.helpers import italian, parse, snapshot


async def levels(db: Database, thread_id: int) -> dict[int, FollowLevel]:
    async with db.session() as session:
        return await follows.follow_levels(session, thread_id)


async def followers(db: Database, zone_number: int | None) -> list[int]:
    async with db.session() as session:
        theme = await actions.get_theme(session, THEME)
        zone_id = None
        if zone_number is not None:
            zone_id = await session.scalar(select(Zone.id).where(Zone.number == zone_number))
        return await follows.theme_followers(session, theme.id, zone_id)


async def test_watch_mute_and_back_to_default(login_as: Login, world: World, db: Database) -> None:
    reader, me = await login_as("tecnico5"), world["tecnico5"].id
    thread = await start(db, world["sindaco5"])
    url = f"/threads/{thread.id}/follow"

    control = one(await page(reader, f"/threads/{thread.id}"), "#thread-follow")
    assert control["data-level"] == "default"
    assert [b["value"] for b in control.select("button")] == ["default", "watching", "muted"]

    # Without JavaScript: a redirect back, the page shows the choice.
    assert location(await reader.post(url, {"level": "watching"})) == f"/threads/{thread.id}"
    assert await levels(db, thread.id) == {me: FollowLevel.WATCHING}
    control = one(await page(reader, f"/threads/{thread.id}"), "#thread-follow")
    assert control["data-level"] == "watching"
    pressed = control.select('button[aria-pressed="true"]')
    assert [words(b) for b in pressed] == [italian("Watching")]

    # With htmx: the control alone, swapped in place.
    response = await reader.post(url, {"level": "muted"}, htmx=True)
    assert response.status_code == 200
    fragment = parse(response)
    assert fragment.find("html") is None
    assert one(fragment, "form#thread-follow")["data-level"] == "muted"
    assert await levels(db, thread.id) == {me: FollowLevel.MUTED}

    assert location(await reader.post(url, {"level": "default"})) == f"/threads/{thread.id}"
    assert await levels(db, thread.id) == {}


async def test_thread_follow_refuses_bad_input_and_outsiders(
    login_as: Login, world: World, db: Database
) -> None:
    reader, outsider = await login_as("tecnico5"), await login_as("sindaco9")
    thread = await start(db, world["sindaco5"])
    url = f"/threads/{thread.id}/follow"
    await reader.post(url, {"level": "watching"})
    before = await snapshot(db)

    for bad in ("", "WATCHING", "ignore", " muted"):
        response = await reader.post(url, {"level": bad})
        assert response.status_code == 422, bad
        message = "Choose how to follow the thread: default, watching or muted."
        assert italian(message) in words(parse(response).main)
    assert (await outsider.post(url, {"level": "muted"})).status_code == 403
    assert (await reader.post("/threads/999999/follow", {"level": "muted"})).status_code == 404
    assert (await reader.http.post(url, data={"level": "muted"})).status_code == 403  # no CSRF
    assert await snapshot(db) == before


async def test_follow_a_theme_in_a_zone(login_as: Login, world: World, db: Database) -> None:
    reader, me = await login_as("tecnico5"), world["tecnico5"].id
    url = f"{BOARD}/follow"
    toggle = one(await page(reader, BOARD), "#theme-follow")
    assert toggle["action"] == url and toggle["data-following"] == "0"
    assert one(toggle, 'input[name="follow"]')["value"] == "1"
    assert words(one(toggle, "button")) == italian("Follow this theme")

    assert location(await reader.post(url, {"follow": "1"})) == BOARD
    assert location(await reader.post(url, {"follow": "1"})) == BOARD  # twice: one row
    assert await followers(db, 5) == [me]
    assert await followers(db, None) == []
    toggle = one(await page(reader, BOARD), "#theme-follow")
    assert toggle["data-following"] == "1"
    assert words(one(toggle, "button")) == italian("Stop following this theme")

    response = await reader.post(url, {"follow": "0"}, htmx=True)
    assert response.status_code == 200
    assert one(parse(response), "form#theme-follow")["data-following"] == "0"
    assert await followers(db, 5) == []


async def test_the_metropolitan_board_and_the_library_share_a_follow(
    login_as: Login, world: World, db: Database
) -> None:
    outsider, me = await login_as("sindaco9"), world["sindaco9"].id
    library = f"/library/{THEME}"
    assert one(await page(outsider, library), "#theme-follow")["action"] == f"{library}/follow"

    assert location(await outsider.post(f"{library}/follow", {"follow": "1"})) == library
    assert await followers(db, None) == [me]
    metro = one(await page(outsider, f"/metro/{THEME}"), "#theme-follow")
    assert metro["data-following"] == "1" and metro["action"] == f"/metro/{THEME}/follow"
    await outsider.post(f"/metro/{THEME}/follow", {"follow": "1"})
    async with db.session() as session:
        rows = (await session.scalars(select(ThemeFollow).where(ThemeFollow.user_id == me))).all()
    assert [(r.zone_id,) for r in rows] == [(None,)]  # a NULL zone, still one row
    assert location(await outsider.post(f"/metro/{THEME}/follow", {"follow": "0"})) == (
        f"/metro/{THEME}"
    )
    assert await followers(db, None) == []


async def test_theme_follow_refuses_bad_input_and_outsiders(
    login_as: Login, world: World, db: Database
) -> None:
    reader, outsider = await login_as("tecnico5"), await login_as("sindaco9")
    before = await snapshot(db)
    for bad in ("", "yes", "2"):
        response = await reader.post(f"{BOARD}/follow", {"follow": bad})
        assert response.status_code == 422
        assert italian("Say whether to follow the theme or not.") in words(parse(response).main)
    # Another zone's board; no such zone, theme; no CSRF token.
    assert (await outsider.post(f"{BOARD}/follow", {"follow": "1"})).status_code == 403
    assert (await reader.post(f"/zones/99/{THEME}/follow", {"follow": "1"})).status_code == 404
    assert (await reader.post("/zones/5/nessuno/follow", {"follow": "1"})).status_code == 404
    assert (await reader.post("/library/nessuno/follow", {"follow": "1"})).status_code == 404
    assert (await reader.http.post(f"{BOARD}/follow", data={"follow": "1"})).status_code == 403
    assert await snapshot(db) == before


async def test_theme_followers_counts_each_person_once(world: World, db: Database) -> None:
    """Two rows with a NULL zone (a race on PostgreSQL) still name the person once."""
    async with db.session() as session:
        theme = await actions.get_theme(session, THEME)
    async with db.transaction() as uow:
        for user in ("staff", "tecnico5", "staff"):
            uow.session.add(ThemeFollow(user_id=world[user].id, theme_id=theme.id, zone_id=None))
    assert await followers(db, None) == sorted({world["staff"].id, world["tecnico5"].id})
