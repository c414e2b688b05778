"""Following meetings without an account: every zone's public meetings at
``/public/meetings`` (linked from the home page), and a closed meeting's
public page, which shows its final attendance and results."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import update

from collab.db import Database
from collab.meetings import actions, attendance, minutes, voting
from collab.meetings.models import Meeting, MeetingState
from collab.meetings.room import load_room
from tests.conftest import World
from tests.helpers import Client, italian, parse, text_of
from tests.meetings.scene import comune_id, convene
from tests.meetings.test_public_zone import listed, ok, one, scene

Login = Callable[[str], Awaitable[Client]]
PINEROLO, CUMIANA = "001191", "001097"


async def test_the_public_list_has_every_zone_and_only_public_meetings(
    world: World, db: Database, client: Client
) -> None:
    s = await scene(db, world)
    home = ok(await client.get("/"))
    assert one(home, '[data-testid="public-meetings-link"]')["href"] == "/public/meetings"
    page = ok(await client.get("/public/meetings"))  # anonymous
    assert one(page, "main h1").get_text(strip=True) == italian("Public meetings")
    # Upcoming, soonest first, of every zone; then the recent ones, newest first.
    assert listed(page, "public-upcoming") == [s.upcoming.id, s.other_zone.id]
    assert listed(page, "public-past") == [s.draft.id, s.published.id]
    links = [str(a["href"]) for a in page.select('[data-testid="public-meeting-link"]')]
    assert f"/m/{s.upcoming.public_token}" in links
    for link in links:
        assert (await client.get(link)).status_code == 200
    verbale = one(page, f'li[data-meeting="{s.published.id}"] [data-testid="public-verbale-link"]')
    assert verbale["href"] == f"/m/{s.published.public_token}/verbale"
    text = page.get_text()
    for meeting in s.hidden:
        assert meeting.title not in text


async def test_the_public_list_when_nothing_is_public(
    db: Database, world: World, client: Client
) -> None:
    await convene(db, world["staff"], (7,), title="Riunione riservata ZO 7")
    page = ok(await client.get("/public/meetings"))
    for testid in ("public-upcoming-empty", "public-past-empty"):
        assert page.select_one(f'[data-testid="{testid}"]') is not None
    assert "Riunione riservata ZO 7" not in page.get_text()


async def test_recent_meetings_come_a_page_at_a_time(
    world: World, db: Database, client: Client
) -> None:
    ids = [(await convene(db, world["staff"], (5,), public=True, items=1)).id for _ in range(21)]
    async with db.transaction() as uow:
        await uow.session.execute(
            update(Meeting).where(Meeting.id.in_(ids)).values(state=MeetingState.ANNULLATA)
        )
    first = ok(await client.get("/public/meetings"))
    assert len(listed(first, "public-past")) == 20
    assert one(first, '.pagination a[rel="next"]')["href"] == "/public/meetings?page=2"
    second = ok(await client.get("/public/meetings?page=2"))
    assert set(listed(first, "public-past")) | set(listed(second, "public-past")) == set(ids)


async def test_a_closed_meeting_shows_its_final_attendance_and_results(
    world: World, db: Database, client: Client, login_as: Login
) -> None:
    chair, mayor = world["portavoce5"], world["sindaco5"]
    meeting = await convene(db, world["staff"], (5,), public=True, quorum=2)
    async with db.transaction() as uow:
        await actions.do_open(uow, chair, meeting.id)
    for user, istat in ((mayor, PINEROLO), (chair, CUMIANA)):
        async with db.transaction() as uow:
            await attendance.do_check_in(uow, user, meeting.id, await comune_id(db, istat))
    async with db.transaction() as uow:
        vote = await voting.do_open_vote(uow, chair, meeting.id, "Parere sul PSM")
    for user, choice in ((mayor, "favorevole"), (chair, "favorevole")):
        async with db.transaction() as uow:
            await voting.do_cast_ballot(uow, user, meeting.id, vote.id, choice)
    async with db.transaction() as uow:
        await voting.do_close_vote(uow, chair, meeting.id, vote.id)
    async with db.session() as session:
        room = await load_room(session, meeting.id)
    assert room is not None and room.meeting.public_token
    token, total = room.meeting.public_token, len(room.comuni)
    # While in progress: live, two present.
    live = await client.get(f"/m/{token}")
    assert text_of(live, '[data-testid="public-note"]') == italian(
        "You are following this meeting live through its public link."
    )
    async with db.transaction() as uow:
        await minutes.do_close(uow, chair, meeting.id)

    page = await client.get(f"/m/{token}")
    assert page.status_code == 200
    assert text_of(page, '[data-testid="room-state"]') == italian("Closed")
    note = text_of(page, '[data-testid="public-note"]')
    assert note == italian(
        "The meeting is over: here are its final attendance and the results of its votes."
    )
    assert "diretta" not in note
    assert text_of(page, '[data-testid="quorum"]') == italian(
        "Present at the close %(present)d of %(total)d"
    ) % {"present": 2, "total": total}
    present = [li.get_text(strip=True) for li in parse(page).select('[data-testid="present"] li')]
    assert present == ["Cumiana", "Pinerolo"]
    assert "Pinerolo" not in text_of(page, '[data-testid="absent"]')
    assert "2 favorevoli (Cumiana, Pinerolo)" in text_of(page, '[data-testid="roll-call"]')
    assert text_of(page, '[data-testid="vote-result"]') == "Approvato"
    # Members see the same final attendance in the room.
    member = await (await login_as("tecnico5")).get(f"/meetings/{meeting.id}")
    assert text_of(member, '[data-testid="quorum"]') == text_of(page, '[data-testid="quorum"]')


async def test_a_public_link_not_of_our_shape_is_a_404(
    world: World, db: Database, client: Client
) -> None:
    """A token with a NUL, a space or too long never reaches the database
    (PostgreSQL refuses NUL in text: it was a 500, found by the fuzz suite)."""
    s = await scene(db, world)
    token = s.published.public_token
    assert token is not None
    assert (await client.get(f"/m/{token}")).status_code == 200
    assert (await client.get(f"/m/{token}/verbale")).status_code == 200
    for bad in ("%00", f"{token}%00", "a%20b", "x" * 65, token[:-1] + "!"):
        for suffix in ("", "/verbale"):
            response = await client.get(f"/m/{bad}{suffix}")
            assert response.status_code == 404, (bad, suffix)
            assert "<main" in response.text  # the Italian error page, not a bare 404
