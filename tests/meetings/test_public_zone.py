"""What a visitor without an account sees: the home page, a zone's public page.

Only meetings with a public link, and only their published verbali: a private
meeting, a meeting whose link was taken away, a draft verbale and the zones'
boards never show. Members keep their home page as it was.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
from bs4 import BeautifulSoup, Tag
from sqlalchemy import update

from collab.db import Database
from collab.meetings import actions, minutes
from collab.meetings.models import Meeting, MeetingState
from collab.models import User
from tests.conftest import World
from tests.helpers import Client, italian, italian_n, parse
from tests.meetings.scene import convene

LoginAs = Callable[[str], Awaitable[Client]]


def one(soup: BeautifulSoup | Tag, selector: str) -> Tag:
    node = soup.select_one(selector)
    assert node is not None, f"{selector!r} not found"
    return node


def ok(response: httpx.Response) -> BeautifulSoup:
    assert response.status_code == 200, (response.status_code, response.text[:500])
    return parse(response)


def listed(page: BeautifulSoup, testid: str) -> list[int]:
    """The meeting ids of a list, in order."""
    return [int(str(li["data-meeting"])) for li in page.select(f'[data-testid="{testid}"] li')]


async def held(db: Database, staff: User, meeting: Meeting, publish: bool) -> Meeting:
    """Open and close ``meeting`` (its verbale drafted), and publish the verbale if asked."""
    async with db.transaction() as uow:
        await actions.do_open(uow, staff, meeting.id)
    async with db.transaction() as uow:
        await minutes.do_close(uow, staff, meeting.id)
    if publish:
        async with db.transaction() as uow:
            await minutes.do_publish_verbale(uow, staff, meeting.id)
    return meeting


class Scene:
    """Meetings of zone 5 (and one of zone 9), public and not, held and not."""

    upcoming: Meeting  # public, convened
    private: Meeting  # no public link
    published: Meeting  # public, held, verbale published
    draft: Meeting  # public, held, verbale not published
    other_zone: Meeting  # public, zone 9 only
    private_published: Meeting  # no public link, verbale published
    withdrawn: Meeting  # public link taken away

    @property
    def hidden(self) -> list[Meeting]:
        return [self.private, self.private_published, self.withdrawn]


async def scene(db: Database, world: World) -> Scene:
    staff = world["staff"]
    s = Scene()
    s.upcoming = await convene(db, staff, (5,), public=True, title="Assemblea pubblica ZO 5")
    s.private = await convene(db, staff, (5,), title="Riunione riservata ZO 5")
    s.published = await held(
        db, staff, await convene(db, staff, (5,), public=True, title="Assemblea di ottobre"), True
    )
    s.draft = await held(
        db, staff, await convene(db, staff, (5,), public=True, title="Assemblea di novembre"), False
    )
    s.other_zone = await convene(db, staff, (9,), public=True, title="Assemblea pubblica ZO 9")
    s.private_published = await held(
        db, staff, await convene(db, staff, (5,), title="Seduta riservata con verbale"), True
    )
    s.withdrawn = await convene(db, staff, (5,), public=True, title="Collegamento ritirato")
    async with db.transaction() as uow:
        await actions.do_set_public(uow, staff, s.withdrawn.id, False)
    async with db.session() as session:
        for name in ("upcoming", "published", "draft", "other_zone"):
            meeting = await session.get(Meeting, getattr(s, name).id)
            assert meeting is not None and meeting.public_token
            setattr(s, name, meeting)
    return s


async def test_anonymous_home_says_what_a_visitor_sees_and_links_public_pages(
    world: World, db: Database, client: Client
) -> None:
    s = await scene(db, world)
    home = ok(await client.get("/"))
    note = " ".join(one(home, '[data-testid="visitor-note"]').get_text(" ").split())
    assert italian("Without an account you can see:") in note
    # Every zone card leads to the zone's public page; none to a board.
    cards = home.select(".zone-card")
    assert [str(one(c, "h2 a")["href"]) for c in cards] == [
        f"/public/zones/{n}" for n in range(1, 12)
    ]
    assert not home.select('a[href^="/zones/"]')
    count = one(home, '.zone-card[data-zone="5"] [data-testid="public-count"]').get_text(strip=True)
    assert count == italian_n(
        "%(num)d upcoming public meeting", "%(num)d upcoming public meetings", 1
    )
    # The upcoming public meetings of every zone, soonest first, and nothing else.
    assert listed(home, "public-upcoming") == [s.upcoming.id, s.other_zone.id]
    links = [str(a["href"]) for a in home.select('[data-testid="public-meeting-link"]')]
    assert links == [f"/m/{s.upcoming.public_token}", f"/m/{s.other_zone.public_token}"]
    for link in links:
        assert (await client.get(link)).status_code == 200
    text = home.get_text()
    for meeting in s.hidden:
        assert meeting.title not in text


async def test_zone_public_page_lists_public_meetings_and_published_verbali(
    world: World, db: Database, client: Client
) -> None:
    s = await scene(db, world)
    page = ok(await client.get("/public/zones/5"))
    assert one(page, "main h1").get_text(" ", strip=True).endswith("Pinerolese")
    assert listed(page, "public-upcoming") == [s.upcoming.id]
    assert listed(page, "public-past") == [s.draft.id, s.published.id]  # newest first
    assert listed(page, "public-verbali") == [s.published.id]
    verbali = [str(a["href"]) for a in page.select('[data-testid="public-verbale-link"]')]
    expected = f"/m/{s.published.public_token}/verbale"
    assert verbali == [expected, expected]  # in the past list and in the verbali
    assert (await client.get(expected)).status_code == 200
    # The draft verbale has no link, and its public address answers 404.
    draft_row = one(page, f'[data-testid="public-past"] li[data-meeting="{s.draft.id}"]')
    assert draft_row.select_one('[data-testid="public-verbale-link"]') is None
    assert (await client.get(f"/m/{s.draft.public_token}/verbale")).status_code == 404
    # Nothing private, nothing of another zone, no board.
    text = page.get_text()
    for meeting in [*s.hidden, s.other_zone]:
        assert meeting.title not in text
    assert not page.select('a[href^="/zones/"]')
    assert (await client.get("/zones/5")).status_code == 303  # the board wants a login
    comuni = one(page, '[data-testid="zone-comuni"]').get_text()
    assert "Pinerolo" in comuni and "Ivrea" not in comuni


async def test_zone_public_page_when_nothing_is_public(
    world: World, db: Database, new_client: Callable[[], Client]
) -> None:
    await convene(db, world["staff"], (7,), title="Riunione riservata ZO 7")
    visitor = new_client()
    visitor.http.cookies.set("lang", "en")
    page = ok(await visitor.get("/public/zones/7"))
    assert one(page, "main h1").get_text(" ", strip=True) == "Zone 7 · Ciriacese - Lanzo Valleys"
    for testid in ("public-upcoming-empty", "public-past-empty", "public-verbali-empty"):
        assert page.select_one(f'[data-testid="{testid}"]') is not None
    assert "Riunione riservata ZO 7" not in page.get_text()


async def test_unknown_zone_is_404(client: Client) -> None:
    for url in ("/public/zones/12", "/public/zones/0"):
        response = await client.get(url)
        assert response.status_code == 404, url
        assert one(parse(response), "main h1").get_text(strip=True) == italian("Page not found")
    assert (await client.get("/public/zones/abc")).status_code == 404


async def test_past_meetings_come_a_page_at_a_time(
    world: World, db: Database, client: Client
) -> None:
    ids = [(await convene(db, world["staff"], (5,), public=True, items=1)).id for _ in range(21)]
    async with db.transaction() as uow:
        await uow.session.execute(
            update(Meeting).where(Meeting.id.in_(ids)).values(state=MeetingState.CHIUSA)
        )
    first = ok(await client.get("/public/zones/5"))
    assert len(listed(first, "public-past")) == 20
    assert one(first, '.pagination a[rel="next"]')["href"] == "/public/zones/5?page=2"
    second = ok(await client.get("/public/zones/5?page=2"))
    assert len(listed(second, "public-past")) == 1
    assert set(listed(first, "public-past")) | set(listed(second, "public-past")) == set(ids)
    # A page past the end is the last page.
    assert listed(ok(await client.get("/public/zones/5?page=99")), "public-past") == listed(
        second, "public-past"
    )


async def test_members_keep_their_home_and_see_the_way_to_their_boards(
    world: World, db: Database, login_as: LoginAs
) -> None:
    s = await scene(db, world)
    mayor = await login_as("sindaco5")
    home = ok(await mayor.get("/"))
    assert one(home, '.zone-card[data-zone="5"] h2 a')["href"] == "/zones/5"
    assert home.select_one('.zone-card[data-zone="9"] a') is None
    assert home.select_one('[data-testid="public-upcoming"]') is None
    assert home.select_one('[data-testid="visitor-note"]') is None
    # The public page is public for them too, with the way to the boards they may read.
    own = ok(await mayor.get("/public/zones/5"))
    assert one(own, '[data-testid="zone-boards-link"]')["href"] == "/zones/5"
    assert listed(own, "public-upcoming") == [s.upcoming.id]
    other = ok(await mayor.get("/public/zones/9"))
    assert other.select_one('[data-testid="zone-boards-link"]') is None
    assert listed(other, "public-upcoming") == [s.other_zone.id]
