"""A zone's public calendar feed, ``/public/zones/<n>/meetings.ics``: the
zone's public meetings for a calendar app that has no cookie, each linking
its public page; no private meeting, no video-call link; rate limited; linked
from the zone's public page and from /account/calendar."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
from sqlalchemy import select

from collab.db import Database
from collab.models import Zone
from tests.conftest import World
from tests.helpers import Client, italian, parse
from tests.meetings.test_public_zone import scene

BASE = "http://127.0.0.1:8000"


def events(response: httpx.Response) -> list[dict[str, str]]:
    """The VEVENTs of an iCalendar body, each as {property name: value}."""
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("text/calendar")
    lines = response.text.replace("\r\n ", "").split("\r\n")  # unfold (RFC 5545 3.1)
    found: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in lines:
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            assert current is not None
            found.append(current)
            current = None
        elif current is not None and ":" in line:
            name, _, value = line.partition(":")
            current[name.split(";")[0]] = value
    return found


def calendar_name(response: httpx.Response) -> str:
    unfolded = response.text.replace("\r\n ", "").split("\r\n")
    (name,) = [line.partition(":")[2] for line in unfolded if line.startswith("X-WR-CALNAME")]
    return name


async def test_the_feed_has_the_zone_s_public_meetings_without_a_cookie(
    world: World, db: Database, new_client: Callable[..., Client]
) -> None:
    s = await scene(db, world)
    app = new_client()  # a calendar app: no session, no cookie
    feed = await app.http.get("/public/zones/5/meetings.ics")
    found = events(feed)
    public = [s.upcoming, s.published, s.draft]
    assert sorted(e["SUMMARY"] for e in found) == sorted(m.title for m in public)
    by_title = {e["SUMMARY"]: e for e in found}
    for meeting in public:
        event = by_title[meeting.title]
        assert event["URL"] == f"{BASE}/m/{meeting.public_token}"
        assert event["UID"] == f"meeting-{meeting.id}@127.0.0.1"  # as in the members' feeds
        assert event["LOCATION"] == "Sala del Consiglio\\, Pinerolo"
        assert "meet.example.org" not in event.get("DESCRIPTION", "")  # members only
    assert "meet.example.org" not in feed.text
    for meeting in s.hidden:  # private, or the public link taken away
        assert meeting.title not in feed.text
    assert s.other_zone.title not in feed.text
    assert calendar_name(feed) == italian(
        "Public meetings of ZO %(number)d %(name)s", number=5, name="Pinerolese"
    )
    assert feed.headers["cache-control"].startswith("public")
    assert "set-cookie" not in feed.headers
    # Each event's link opens without an account.
    for meeting in public:
        assert (await app.http.get(f"/m/{meeting.public_token}")).status_code == 200


async def test_a_zone_without_public_meetings_has_an_empty_feed(
    world: World, db: Database, client: Client
) -> None:
    await scene(db, world)
    assert events(await client.http.get("/public/zones/3/meetings.ics")) == []


async def test_an_unknown_zone_is_refused(client: Client) -> None:
    for path in ("/public/zones/99/meetings.ics", "/public/zones/0/meetings.ics"):
        assert (await client.http.get(path)).status_code == 404
    assert (await client.http.get("/public/zones/abc/meetings.ics")).status_code == 404


async def test_the_feed_is_rate_limited_per_client(
    world: World, new_client: Callable[..., Client]
) -> None:
    greedy = new_client("10.9.9.7")
    statuses = [
        (await greedy.http.get("/public/zones/5/meetings.ics")).status_code for _ in range(61)
    ]
    assert statuses[:60] == [200] * 60 and statuses[60] == 429
    assert (
        await new_client("10.9.9.6").http.get("/public/zones/5/meetings.ics")
    ).status_code == 200


async def test_the_feed_is_linked_from_the_zone_page_and_the_calendar_page(
    world: World,
    db: Database,
    client: Client,
    login_as: Callable[[str], Awaitable[Client]],
) -> None:
    page = parse(await client.get("/public/zones/5"))
    link = page.select_one('[data-testid="public-feed"]')
    address = page.select_one('[data-testid="public-feed-address"]')
    assert link is not None and address is not None
    assert link["href"] == "webcal://127.0.0.1:8000/public/zones/5/meetings.ics"
    assert address["href"] == f"{BASE}/public/zones/5/meetings.ics"

    mayor = await login_as("sindaco5")
    calendar = parse(await mayor.get("/account/calendar"))
    links = [str(a["href"]) for a in calendar.select('[data-testid="public-feeds"] a')]
    async with db.session() as session:
        numbers = list(await session.scalars(select(Zone.number).order_by(Zone.number)))
    assert links == [f"webcal://127.0.0.1:8000/public/zones/{n}/meetings.ics" for n in numbers]


async def test_the_members_zone_feed_still_needs_a_login(world: World, client: Client) -> None:
    response = await client.http.get("/zones/5/meetings.ics")  # every meeting: members only
    assert response.status_code in (302, 303)
