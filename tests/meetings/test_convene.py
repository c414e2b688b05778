"""The convening form (GET/POST /meetings/new) and the list of meetings (GET /meetings)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from collab.accounts.actions import do_create_user
from collab.db import Database
from collab.meetings.models import AgendaItem, Meeting, MeetingMaterial, MeetingZone
from collab.models import Theme
from collab.templating import ROME
from tests.conftest import World, email
from tests.helpers import PASSWORD, Client, italian, parse, snapshot, text_of
from tests.meetings.scene import zone_ids

Login = Callable[[str], Awaitable[Client]]


def _local(moment: datetime) -> str:
    """``moment`` as a ``datetime-local`` input sends it: Turin's wall time."""
    return moment.astimezone(ROME).strftime("%Y-%m-%dT%H:%M")


async def _themes(db: Database) -> list[Theme]:
    async with db.session() as session:
        return list(await session.scalars(select(Theme).order_by(Theme.position)))


async def _form(db: Database, convened: list[int], **changes: Any) -> dict[str, str | list[str]]:
    themes = await _themes(db)
    starts = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=7)
    data: dict[str, str | list[str]] = {
        "title": "Giornata di sintesi ZO 5 e ZO 6",
        "description": "Parere sul Piano strategico.",
        "zones": [str(z) for z in convened],
        "starts_at": _local(starts),
        "place": "Sala consiliare, Pinerolo",
        "video_url": "https://meet.example.org/zo5",
        "quorum": "",
        "item-0-title": "Parere sul PSM",
        "item-0-theme": str(themes[0].id),
        "item-0-minutes": "30",
        "item-1-title": "Trasporti",
        "item-1-theme": str(themes[2].id),
        "item-1-minutes": "20",
        "item-2-title": "",  # a blank row between: ignored
        "item-2-theme": str(themes[1].id),
        "item-2-minutes": "15",
        "item-3-title": "Varie ed eventuali",
        "item-3-theme": str(themes[1].id),
        "item-3-minutes": "",
        "material-0-title": "Bozza del parere",
        "material-0-url": "https://www.cittametropolitana.torino.it/psm.pdf",
        "material-1-title": "",
        "material-1-url": "",
    }
    data.update(changes)
    return data


async def _post(client: Client, data: dict[str, str | list[str]]) -> httpx.Response:
    token = await client.csrf()
    return await client.http.post("/meetings/new", data={"csrf_token": token, **data})


async def test_staff_sees_every_zone_and_the_active_themes(login_as: Login, db: Database) -> None:
    staff = await login_as("staff")
    response = await staff.get("/meetings/new")
    assert response.status_code == 200
    page = parse(response)
    zones = page.select('input[type="checkbox"][name="zones"]')
    assert len(zones) == 11
    # One row of each to fill; more are added as needed (test_convene_rows.py).
    assert len(page.select('ol [data-testid="item-row"]')) == 1
    assert len(page.select('ol [data-testid="material-row"]')) == 1
    assert page.select_one('input[type="datetime-local"][name="starts_at"]') is not None
    options = page.select('select[name="item-0-theme"] option')
    assert [o.get_text() for o in options] == [t.name for t in await _themes(db) if t.active]


async def test_a_portavoce_sees_only_their_zone(login_as: Login, db: Database) -> None:
    response = await (await login_as("portavoce5")).get("/meetings/new")
    assert response.status_code == 200
    boxes = parse(response).select('input[name="zones"]')
    assert [b["value"] for b in boxes] == [str(z) for z in await zone_ids(db, 5)]
    assert "ZO 5" in text_of(response, "#zones")


@pytest.mark.parametrize("key", ["sindaco5", "tecnico9", "admin"])
async def test_who_may_not_convene_gets_403(login_as: Login, db: Database, key: str) -> None:
    client = await login_as(key)
    assert (await client.get("/meetings/new")).status_code == 403
    before = await snapshot(db)
    response = await client.post("/meetings/new", {"title": "Riunione"})
    assert response.status_code == 403
    assert await snapshot(db) == before
    listing = await client.get("/meetings")
    assert parse(listing).select_one('[data-testid="convene"]') is None


async def test_anonymous_is_sent_to_login(new_client: Callable[[], Client]) -> None:
    response = await new_client().get("/meetings/new", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=/meetings/new")
    response = await new_client().get("/meetings", follow_redirects=False)
    assert response.status_code == 303


async def test_staff_convenes_zones_5_and_6(login_as: Login, db: Database, world: World) -> None:
    staff = await login_as("staff")
    zones = await zone_ids(db, 5, 6)
    data = await _form(db, zones, quorum="12", public="1")
    response = await _post(staff, data)
    assert response.status_code == 303
    location = response.headers["location"]
    meeting_id = int(location.rsplit("/", 1)[1])
    assert location == f"/meetings/{meeting_id}"
    async with db.session() as session:
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None
        convened = set(
            await session.scalars(
                select(MeetingZone.zone_id).where(MeetingZone.meeting_id == meeting_id)
            )
        )
        items = list(
            await session.scalars(
                select(AgendaItem)
                .where(AgendaItem.meeting_id == meeting_id)
                .order_by(AgendaItem.position)
            )
        )
        materials = list(
            await session.scalars(
                select(MeetingMaterial).where(MeetingMaterial.meeting_id == meeting_id)
            )
        )
    assert convened == set(zones)
    assert meeting.title == "Giornata di sintesi ZO 5 e ZO 6"
    assert meeting.quorum == 12 and meeting.public_token
    assert meeting.chair_id == world["staff"].id
    # The wall time typed in Turin, stored in UTC.
    assert _local(meeting.starts_at) == data["starts_at"]
    assert meeting.starts_at.utcoffset() == timedelta(0)
    assert [(i.title, i.minutes) for i in items] == [
        ("Parere sul PSM", 30),
        ("Trasporti", 20),
        ("Varie ed eventuali", 15),
    ]
    assert [(m.title, m.url) for m in materials] == [
        ("Bozza del parere", "https://www.cittametropolitana.torino.it/psm.pdf")
    ]


async def test_summer_time_is_read_as_rome_time(login_as: Login, db: Database) -> None:
    staff = await login_as("staff")
    year = datetime.now(UTC).year + 1
    data = await _form(db, await zone_ids(db, 5), starts_at=f"{year}-07-01T10:30")
    response = await _post(staff, data)
    assert response.status_code == 303
    async with db.session() as session:
        starts = await session.scalar(select(Meeting.starts_at))
    assert starts == datetime(year, 7, 1, 8, 30, tzinfo=UTC)


async def test_a_portavoce_convenes_their_zone_not_another(login_as: Login, db: Database) -> None:
    chair = await login_as("portavoce5")
    before = await snapshot(db)
    refused = await _post(chair, await _form(db, await zone_ids(db, 5, 9)))
    assert refused.status_code == 403
    assert await snapshot(db) == before
    accepted = await _post(chair, await _form(db, await zone_ids(db, 5)))
    assert accepted.status_code == 303


def _year_ago() -> str:
    return _local(datetime.now(UTC) - timedelta(days=365))


BAD_INPUT = [
    ("no title", {"title": ""}, "title", "The title must be at least 3 characters long."),
    ("no zone", {"zones": []}, "zones", "Choose at least one zone."),
    ("unknown zone", {"zones": ["999999"]}, "zones", "Choose at least one zone."),
    ("no date", {"starts_at": ""}, "starts_at", "Give the date and time of the meeting."),
    (
        "bad date",
        {"starts_at": "31/12/2030 10:00"},
        "starts_at",
        "Give the date and time as day, month, year, hours and minutes.",
    ),
    (
        "impossible date",
        {"starts_at": "2030-02-30T10:00"},
        "starts_at",
        "Give the date and time as day, month, year, hours and minutes.",
    ),
    ("past date", {"starts_at": "PAST"}, "starts_at", "The meeting cannot start in the past."),
    (
        "no place nor link",
        {"place": "", "video_url": ""},
        "place",
        "Give a place, a video-call link, or both.",
    ),
    (
        "no agenda",
        {"item-0-title": "", "item-1-title": "", "item-3-title": ""},
        "items",
        "The agenda needs at least one item.",
    ),
    (
        "unknown theme",
        {"item-1-theme": "999999"},
        "items",
        "Each agenda item needs a theme in use.",
    ),
    (
        "bad minutes",
        {"item-0-minutes": "mezz'ora"},
        "items",
        "An agenda item lasts from 1 to 480 minutes.",
    ),
    (
        "bad URL",
        {"material-0-url": "javascript:alert(1)"},
        "materials",
        "The address must start with https:// or http://.",
    ),
    (
        "bad video link",
        {"video_url": "meet.example.org"},
        "video_url",
        "The address must start with https:// or http://.",
    ),
    ("bad quorum", {"quorum": "tanti"}, "quorum", "The quorum must be a number of comuni."),
    ("zero quorum", {"quorum": "0"}, "quorum", "The quorum must be a number of comuni."),
]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [case[1:] for case in BAD_INPUT],
    ids=[case[0] for case in BAD_INPUT],
)
async def test_bad_input_is_refused_and_kept(
    login_as: Login, db: Database, changes: dict[str, str | list[str]], field: str, message: str
) -> None:
    staff = await login_as("staff")
    if changes.get("starts_at") == "PAST":
        changes = {"starts_at": _year_ago()}
    data = await _form(db, await zone_ids(db, 5, 6), **changes)
    before = await snapshot(db)
    response = await _post(staff, data)
    assert response.status_code == 422
    assert await snapshot(db) == before
    page = parse(response)
    # The message is in the page, next to its field (inside the field's group).
    container = page.select_one(f"#{field}") if field in ("zones", "items", "materials") else None
    if container is None:
        node = page.select_one(f"#{field}")
        assert node is not None and node.parent is not None
        container = node.parent
        assert "is-invalid" in node.get("class", [])
    feedback = container.select_one(".invalid-feedback")
    assert feedback is not None and feedback.get_text(strip=True) == italian(message)
    # What the user typed comes back.
    if field != "title":
        title = page.select_one("#title")
        assert title is not None and title["value"] == data["title"]
    place = page.select_one("#place")
    assert place is not None and place["value"] == data["place"]
    if data["item-1-title"]:
        item = page.select_one("#item-1-title")
        assert item is not None and item["value"] == data["item-1-title"]
    checked = {box["value"] for box in page.select('input[name="zones"][checked]')}
    assert checked == set(data["zones"]) - {"999999"}


async def _member(db: Database, istat: str, key: str) -> None:
    async with db.transaction() as uow:
        await do_create_user(
            uow, None, email=email(key), name=key.title(), role="tecnico", password=PASSWORD,
            comune_istat=istat,
        )  # fmt: skip


async def test_the_list_shows_a_meeting_to_its_zones_only(
    login_as: Login, db: Database, world: World
) -> None:
    staff = await login_as("staff")
    response = await _post(staff, await _form(db, await zone_ids(db, 5, 6)))
    meeting_id = int(response.headers["location"].rsplit("/", 1)[1])
    await _member(db, "001270", "tecnico6")  # Susa, ZO 6
    for key in ["sindaco5", "portavoce5", "tecnico6", "staff", "admin"]:
        listing = await (await login_as(key)).get("/meetings")
        assert listing.status_code == 200, key
        link = parse(listing).select_one(
            f'[data-testid="meetings-upcoming"] a[href="/meetings/{meeting_id}"]'
        )
        assert link is not None, key
        row = text_of(listing, f"#meeting-{meeting_id}")
        assert "ZO 5 Pinerolese" in row and "ZO 6" in row
        assert italian("Convened") in row
    for key in ["sindaco9", "portavoce9"]:
        listing = await (await login_as(key)).get("/meetings")
        assert listing.status_code == 200
        assert parse(listing).select_one(f"#meeting-{meeting_id}") is None, key
    # The convene button is for those who may convene.
    for key, shown in [("staff", True), ("portavoce9", True), ("sindaco5", False)]:
        listing = await (await login_as(key)).get("/meetings")
        assert (parse(listing).select_one('a[href="/meetings/new"]') is not None) == shown, key


async def test_the_nav_links_the_meetings(login_as: Login) -> None:
    response = await (await login_as("sindaco5")).get("/")
    link = parse(response).select_one('#main-nav a[href="/meetings"]')
    assert link is not None and link.get_text(strip=True) == italian("Meetings")


async def test_the_list_sorts_by_state(login_as: Login, db: Database, world: World) -> None:
    from collab.meetings import actions

    staff = await login_as("staff")
    ids = []
    for title in ["Prima riunione", "Seconda riunione", "Terza riunione"]:
        response = await _post(staff, await _form(db, await zone_ids(db, 5), title=title))
        ids.append(int(response.headers["location"].rsplit("/", 1)[1]))
    async with db.transaction() as uow:
        await actions.do_open(uow, world["staff"], ids[0])
    async with db.transaction() as uow:
        await actions.do_cancel(uow, world["staff"], ids[1])
    listing = await staff.get("/meetings")
    page = parse(listing)

    def section(key: str) -> list[str]:
        return [str(li["id"]) for li in page.select(f'[data-testid="meetings-{key}"] li')]

    assert section("in-progress") == [f"meeting-{ids[0]}"]
    assert section("upcoming") == [f"meeting-{ids[2]}"]
    assert not section("past")  # on their own tab
    page = parse(await staff.get("/meetings?show=past"))
    assert section("in-progress") == [f"meeting-{ids[0]}"]
    assert section("past") == [f"meeting-{ids[1]}"]
    assert not section("upcoming")


async def test_a_secretary_named_by_email_takes_the_notes(
    login_as: Login, db: Database, world: World
) -> None:
    staff = await login_as("staff")
    zones = await zone_ids(db, 5)
    refused = await _post(staff, await _form(db, zones, secretary="tecnico9@test.collab.it"))
    assert refused.status_code == 422  # zone 9 cannot follow a meeting of zone 5
    message = italian("The secretary must be a user who can follow the meeting.")
    assert text_of(refused, ".invalid-feedback") == message
    response = await _post(staff, await _form(db, zones, secretary="Tecnico5@test.collab.it"))
    assert response.status_code == 303
    meeting_id = int(response.headers["location"].rsplit("/", 1)[1])
    async with db.session() as session:
        meeting = await session.get_one(Meeting, meeting_id)
    assert meeting.secretary_id == world["tecnico5"].id
    page = await (await login_as("tecnico5")).get(f"/meetings/{meeting_id}")
    assert text_of(page, '[data-testid="room-secretary"]') == world["tecnico5"].name


async def test_upcoming_and_past_meetings_come_a_page_at_a_time(
    login_as: Login, db: Database, world: World
) -> None:
    from collab.meetings.models import MeetingState
    from collab.meetings.pages import MEETINGS_PER_PAGE

    [zone5], [zone9] = await zone_ids(db, 5), await zone_ids(db, 9)
    start = datetime(2025, 1, 6, 9, tzinfo=UTC)
    ids: dict[tuple[int, MeetingState], list[int]] = {}
    async with db.transaction() as uow:
        for state in (MeetingState.CHIUSA, MeetingState.CONVOCATA):
            for n in range(MEETINGS_PER_PAGE + 5):
                for zone in (zone5, zone9):
                    meeting = Meeting(
                        title=f"Seduta {n}", starts_at=start + timedelta(days=7 * n),
                        state=state, convened_by_id=world["staff"].id,
                    )  # fmt: skip
                    uow.session.add(meeting)
                    await uow.session.flush()
                    uow.session.add(MeetingZone(meeting_id=meeting.id, zone_id=zone))
                    ids.setdefault((zone, state), []).append(meeting.id)
    mayor = await login_as("sindaco5")

    def listed(response: Any, key: str) -> list[int]:
        rows = parse(response).select(f'[data-testid="meetings-{key}"] li')
        return [int(str(li["id"]).removeprefix("meeting-")) for li in rows]

    soonest_first = ids[zone5, MeetingState.CONVOCATA]  # zone 9's never
    first = await mayor.get("/meetings")
    assert listed(first, "upcoming") == soonest_first[:MEETINGS_PER_PAGE]
    assert parse(first).select_one('a[rel="next"][href="/meetings?page=2"]') is not None
    second = await mayor.get("/meetings?page=2")
    assert listed(second, "upcoming") == soonest_first[MEETINGS_PER_PAGE:]

    latest_first = ids[zone5, MeetingState.CHIUSA][::-1]
    past = await mayor.get("/meetings?show=past")
    assert listed(past, "past") == latest_first[:MEETINGS_PER_PAGE]
    assert parse(past).select_one('a[rel="next"][href="/meetings?show=past&page=2"]')
    assert (
        listed(await mayor.get("/meetings?show=past&page=99"), "past")
        == latest_first[MEETINGS_PER_PAGE:]
    )
    # An unknown view is the default one.
    assert listed(await mayor.get("/meetings?show=xyz"), "upcoming") == listed(first, "upcoming")
    staff = await login_as("staff")  # every zone's
    assert len(listed(await staff.get("/meetings?show=past&page=3"), "past")) == 10
