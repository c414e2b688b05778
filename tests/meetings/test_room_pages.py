"""The room page and its controls over HTTP: each mode, plain and htmx, bad input."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from collab.db import Database
from collab.meetings import actions, attendance, floor, voting
from collab.meetings.models import Meeting, MeetingState
from collab.meetings.room import Room, load_room
from tests.conftest import World, email
from tests.helpers import Client, italian, parse, snapshot, text_of
from tests.meetings.scene import comune_id, convene

Login = Callable[[str], Awaitable[Client]]
PINEROLO, CUMIANA = "001191", "001097"
CONFIRMED = {"confirmed": "1"}  # an irreversible step, confirmed


async def _room(db: Database, meeting_id: int) -> Room:
    async with db.session() as session:
        room = await load_room(session, meeting_id)
    assert room is not None
    return room


def _has(response: httpx.Response, testid: str) -> bool:
    return parse(response).select_one(f'[data-testid="{testid}"]') is not None


def _visible(response: httpx.Response, testid: str) -> bool:
    node = parse(response).select_one(f'[data-testid="{testid}"]')
    return node is not None and not node.has_attr("hidden")


@pytest.fixture
async def meeting(db: Database, world: World) -> Meeting:
    return await convene(db, world["staff"], (5,), public=True)


@pytest.fixture
async def opened(db: Database, world: World, meeting: Meeting) -> Meeting:
    async with db.transaction() as uow:
        await actions.do_open(uow, world["portavoce5"], meeting.id)
    return meeting


async def test_each_mode_sees_its_controls(login_as: Login, opened: Meeting) -> None:
    url = f"/meetings/{opened.id}"
    chair = await (await login_as("portavoce5")).get(url)
    assert chair.status_code == 200
    assert text_of(chair, '[data-testid="room-state"]') == "In corso"
    assert text_of(chair, '[data-testid="room-zones"]').startswith("ZO 5")
    assert _has(chair, "chair-controls") and _has(chair, "notes-form")
    assert _has(chair, "open-vote-form")
    assert _has(chair, "public-url")  # the chair sees the public link
    assert _has(chair, "checkin")  # the portavoce is a mayor too: Cumiana's check-in
    mayor = await (await login_as("sindaco5")).get(url)
    assert not _has(mayor, "chair-controls") and not _has(mayor, "notes-form")
    assert _has(mayor, "checkin") and _has(mayor, "delegate-form")
    assert not _has(mayor, "public-url")
    tech = await (await login_as("tecnico5")).get(url)
    assert not _has(tech, "checkin") and not _has(tech, "delegate-form")
    assert _visible(tech, "guest") and not _visible(tech, "guest-leave")
    assert _visible(tech, "raise-hand") and not _visible(tech, "withdraw-hand")
    assert _has(tech, "room-ics")
    live = parse(tech).select_one("#live")
    assert live is not None and str(live["data-topics"]) == f'{{"meeting:{opened.id}": 1}}'


async def test_other_zones_and_anonymous_cannot_enter(
    login_as: Login, new_client: Callable[[], Client], meeting: Meeting
) -> None:
    other = await login_as("tecnico9")
    assert (await other.get(f"/meetings/{meeting.id}")).status_code == 404  # not revealed
    anonymous = await new_client().get(f"/meetings/{meeting.id}", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login")
    assert (await other.get("/meetings/999999")).status_code == 404


async def test_the_chair_runs_the_meeting_through_plain_forms(
    db: Database, login_as: Login, meeting: Meeting
) -> None:
    chair = await login_as("portavoce5")
    base = f"/meetings/{meeting.id}"
    response = await chair.post(f"{base}/open")
    assert response.status_code == 303 and response.headers["location"] == base
    room = await _room(db, meeting.id)
    assert room.meeting.state == MeetingState.IN_CORSO
    second = room.items[1]
    assert (await chair.post(f"{base}/item", {"item_id": str(second.id)})).status_code == 303
    page = await chair.get(base)
    assert text_of(page, '[data-testid="current-item"]') == "In discussione"
    assert parse(page).select_one(f"#agenda-item-{second.id}[aria-current]") is not None
    assert (await chair.post(f"{base}/public", {"value": "0"})).status_code == 303
    assert (await _room(db, meeting.id)).meeting.public_token is None
    assert not _has(await chair.get(base), "public-url")
    await chair.post(f"{base}/public", {"value": "1"})
    assert (await _room(db, meeting.id)).meeting.public_token
    await chair.post(f"{base}/items/{second.id}/notes", {"notes": "Discusso **il PSM**"})
    page = await chair.get(base)
    strong = parse(page).select_one('[data-testid="notes"] strong')
    assert strong is not None and strong.get_text() == "il PSM"
    assert (await chair.post(f"{base}/close", CONFIRMED)).status_code == 303
    page = await chair.get(base)
    assert text_of(page, '[data-testid="room-state"]') == "Chiusa"
    link = parse(page).select_one('[data-testid="room-verbale-link"]')
    assert link is not None and link["href"] == f"{base}/verbale"


async def test_cancel_a_convened_meeting(db: Database, login_as: Login, meeting: Meeting) -> None:
    chair = await login_as("portavoce5")
    response = await chair.post(f"/meetings/{meeting.id}/cancel", CONFIRMED, htmx=True)
    assert response.status_code == 200
    assert text_of(response, '[data-testid="room-state"]') == "Annullata"
    assert (await _room(db, meeting.id)).meeting.state == MeetingState.ANNULLATA


async def test_htmx_answers_the_region_and_the_others_out_of_band(
    login_as: Login, meeting: Meeting
) -> None:
    chair = await login_as("portavoce5")
    response = await chair.post(f"/meetings/{meeting.id}/open", htmx=True)
    assert response.status_code == 200
    page = parse(response)
    first = page.find("section")
    assert first is not None and first["id"] == "room-controls"
    assert not first.has_attr("hx-swap-oob")
    oob = {str(node["id"]) for node in page.select("[hx-swap-oob]")}
    assert {"room-status", "room-floor", "room-vote", "room-attendance"} <= oob
    assert text_of(response, '[data-testid="room-state"]') == "In corso"


async def test_floor_attendance_and_a_vote_through_htmx(
    db: Database, login_as: Login, opened: Meeting
) -> None:
    base = f"/meetings/{opened.id}"
    mayor, chair, tech = (
        await login_as("sindaco5"),
        await login_as("portavoce5"),
        await login_as("tecnico5"),
    )
    pinerolo = await comune_id(db, PINEROLO)
    response = await mayor.post(f"{base}/checkin", {"comune_id": str(pinerolo)}, htmx=True)
    assert response.status_code == 200
    assert "Pinerolo" in text_of(response, '[data-testid="present"]')
    assert _has(response, "checkout") and not _has(response, "checkin")
    response = await tech.post(f"{base}/guest", htmx=True)
    assert "Tecnico5" in text_of(response, '[data-testid="guests"]')
    assert _visible(response, "guest-leave") and not _visible(response, "guest")
    # The floor: the technician asks, the chair gives it, the technician ends it.
    response = await tech.post(f"{base}/hand", htmx=True)
    assert text_of(response, '[data-testid="queue"]').startswith("Tecnico5")
    assert _visible(response, "withdraw-hand") and not _visible(response, "raise-hand")
    request_id = (await _room(db, opened.id)).queue[0].id
    response = await chair.post(f"{base}/floor/{request_id}/grant", htmx=True)
    assert text_of(response, '[data-testid="speaker-name"]') == "Tecnico5"
    timer = parse(response).select_one('[data-testid="timer"]')
    assert timer is not None and timer["data-since"]
    response = await tech.post(f"{base}/floor/end", htmx=True)
    assert not _has(response, "speaker-name")
    # A vote: open, one ballot, close.
    response = await chair.post(f"{base}/votes", {"motion": "Parere sul PSM"}, htmx=True)
    assert text_of(response, '[data-testid="motion"]') == "Parere sul PSM"
    vote_id = (await _room(db, opened.id)).votes[0].vote.id
    response = await mayor.post(
        f"{base}/votes/{vote_id}/ballot", {"choice": "favorevole"}, htmx=True
    )
    assert text_of(response, '[data-testid="count-favorevole"]') == "1"
    assert text_of(response, '[data-testid="names-favorevole"]') == "Pinerolo"
    assert text_of(response, '[data-testid="own-ballot"]') == "Pinerolo ha votato: Favorevole"
    response = await chair.post(f"{base}/votes/{vote_id}/close", CONFIRMED, htmx=True)
    assert text_of(response, '[data-testid="vote-result"]') == "Non valida: manca il numero legale"
    assert "1 favorevole (Pinerolo)" in text_of(response, '[data-testid="roll-call"]')
    response = await mayor.post(f"{base}/checkout")
    assert response.status_code == 303
    assert pinerolo not in (await _room(db, opened.id)).present_ids


async def test_withdraw_and_delegate(db: Database, login_as: Login, opened: Meeting) -> None:
    base = f"/meetings/{opened.id}"
    tech, mayor = await login_as("tecnico5"), await login_as("sindaco5")
    await tech.post(f"{base}/hand")
    assert (await tech.post(f"{base}/hand/withdraw")).status_code == 303
    assert not (await _room(db, opened.id)).queue
    # Pinerolo's mayor names a delegate of the same comune... there is none in
    # the world but the mayor: a user of another comune is refused (422).
    before = await snapshot(db)
    response = await mayor.post(f"{base}/delegate", {"email": email("tecnico5")}, htmx=True)
    assert response.status_code == 422
    assert text_of(response, '[data-testid="room-error"]') == italian(
        "The delegate must be a user of your comune."
    )
    field = parse(response).select_one("#delegate-email")
    assert field is not None and field["value"] == email("tecnico5")
    assert await snapshot(db) == before


@pytest.mark.parametrize(
    ("who", "path", "data", "region", "msgid"),
    [
        ("portavoce5", "/item", {"item_id": "abc"}, "controls",
         "This item is not on the agenda of this meeting."),
        ("portavoce5", "/item", {"item_id": "999999"}, "controls",
         "This item is not on the agenda of this meeting."),
        ("portavoce5", "/votes", {"motion": "x"}, "vote", "Say what the vote is on."),
        ("sindaco5", "/checkin", {"comune_id": "zz"}, "attendance",
         "This comune does not belong to the convened zones."),
    ],
)  # fmt: skip
async def test_bad_input_shows_the_italian_message_and_changes_nothing(
    db: Database, login_as: Login, opened: Meeting, who: str, path: str,
    data: dict[str, str], region: str, msgid: str,
) -> None:  # fmt: skip
    person = await login_as(who)
    before = await snapshot(db)
    plain = await person.post(f"/meetings/{opened.id}{path}", data)
    assert plain.status_code == 422
    assert text_of(plain, f'#room-{region} [data-testid="room-error"]') == italian(msgid)
    assert parse(plain).select_one("#live") is not None  # the whole page again
    htmx = await person.post(f"/meetings/{opened.id}{path}", data, htmx=True)
    assert htmx.status_code == 422
    section = parse(htmx).find("section")
    assert section is not None and section["id"] == f"room-{region}"
    assert text_of(htmx, '[data-testid="room-error"]') == italian(msgid)
    assert await snapshot(db) == before


async def test_bad_notes_and_ballots(db: Database, login_as: Login, opened: Meeting) -> None:
    chair, mayor = await login_as("portavoce5"), await login_as("sindaco5")
    item = (await _room(db, opened.id)).items[0]
    before = await snapshot(db)
    too_long = "x" * (floor.MAX_NOTES + 1)
    response = await chair.post(f"/meetings/{opened.id}/items/{item.id}/notes", {"notes": too_long})
    assert response.status_code == 422
    assert text_of(response, '[data-testid="room-error"]') == italian("The notes are too long.")
    textarea = parse(response).select_one("#notes-text")
    assert textarea is not None and textarea.get_text() == too_long
    async with db.transaction() as uow:
        vote = await voting.do_open_vote(uow, world_chair(await _room(db, opened.id)), opened.id,
                                         "Parere")  # fmt: skip
    before = await snapshot(db)
    response = await mayor.post(f"/meetings/{opened.id}/votes/{vote.id}/ballot", {"choice": "sì"})
    assert response.status_code == 422
    assert text_of(response, '[data-testid="room-error"]') == italian(
        "Choose in favour, against, abstain or not taking part."
    )
    # Not checked in: a conflict (409), the app's Italian error page.
    response = await mayor.post(
        f"/meetings/{opened.id}/votes/{vote.id}/ballot", {"choice": "favorevole"}
    )
    assert response.status_code == 409
    assert italian("Your comune is not checked in: check in before voting.") in response.text
    assert await snapshot(db) == before


def world_chair(room: Room) -> object:
    assert room.meeting.chair is not None
    return room.meeting.chair


async def test_permissions_refused_over_http(
    db: Database, login_as: Login, opened: Meeting
) -> None:
    tech, other = await login_as("tecnico5"), await login_as("tecnico9")
    before = await snapshot(db)
    assert (await tech.post(f"/meetings/{opened.id}/close", CONFIRMED)).status_code == 403
    response = await tech.post(f"/meetings/{opened.id}/floor/end", htmx=True)
    assert response.status_code == 409
    assert response.headers["HX-Retarget"] == "#alerts"
    assert (await other.post(f"/meetings/{opened.id}/hand")).status_code == 404
    assert await snapshot(db) == before


async def test_a_late_joiner_sees_the_exact_current_state(
    db: Database, world: World, login_as: Login, opened: Meeting
) -> None:
    chair, mayor, tech = world["portavoce5"], world["sindaco5"], world["tecnico5"]
    room = await _room(db, opened.id)
    async with db.transaction() as uow:
        await actions.do_set_item(uow, chair, opened.id, room.items[2].id)
    async with db.transaction() as uow:
        await attendance.do_check_in(uow, mayor, opened.id, await comune_id(db, PINEROLO))
    async with db.transaction() as uow:
        first = await floor.do_raise_hand(uow, mayor, opened.id)
    async with db.transaction() as uow:
        await floor.do_raise_hand(uow, tech, opened.id)
    async with db.transaction() as uow:
        await floor.do_raise_hand(uow, world["staff"], opened.id)
    async with db.transaction() as uow:
        await floor.do_grant_floor(uow, chair, opened.id, first.id)
    async with db.transaction() as uow:
        vote = await voting.do_open_vote(uow, chair, opened.id, "Parere sul PTGM")
    async with db.transaction() as uow:
        await voting.do_cast_ballot(uow, mayor, opened.id, vote.id, "contrario")
    page = await (await login_as("tecnico5")).get(f"/meetings/{opened.id}")
    current = parse(page).select_one('[aria-current="step"]')
    assert current is not None and current["id"] == f"agenda-item-{room.items[2].id}"
    assert text_of(page, '[data-testid="speaker-name"]') == "Sindaco5"
    queue = [
        " ".join(li.get_text(" ").split()) for li in parse(page).select('[data-testid="queue"] li')
    ]
    assert queue == ["Tecnico5 (Luserna San Giovanni)", "Staff"]
    assert text_of(page, '[data-testid="count-contrario"]') == "1"
    assert text_of(page, '[data-testid="names-contrario"]') == "Pinerolo"
    assert text_of(page, '[data-testid="quorum"]').startswith("Presenti 1 su")
    # The technician is queued: the page shows the withdraw control, not the raise one.
    assert _visible(page, "withdraw-hand") and not _visible(page, "raise-hand")


async def test_a_secret_vote_shows_no_names_and_only_own_ballot(
    db: Database, world: World, login_as: Login, opened: Meeting
) -> None:
    chair, mayor = world["portavoce5"], world["sindaco5"]
    async with db.transaction() as uow:
        await attendance.do_check_in(uow, mayor, opened.id, await comune_id(db, PINEROLO))
    async with db.transaction() as uow:
        vote = await voting.do_open_vote(uow, chair, opened.id, "Nomina", secret=True)
    async with db.transaction() as uow:
        await voting.do_cast_ballot(uow, mayor, opened.id, vote.id, "favorevole")
    mine = await (await login_as("sindaco5")).get(f"/meetings/{opened.id}")
    assert text_of(mine, '[data-testid="own-ballot"]') == "Pinerolo ha votato: Favorevole"
    theirs = await (await login_as("portavoce5")).get(f"/meetings/{opened.id}")
    assert not _has(theirs, "own-ballot") and not _has(theirs, "tally")
    assert "Pinerolo" not in text_of(theirs, "#room-vote")
    assert text_of(theirs, '[data-testid="ballots-cast"]').startswith("Voti espressi: 1")
    async with db.transaction() as uow:
        await voting.do_close_vote(uow, chair, opened.id, vote.id)
    page = await (await login_as("tecnico5")).get(f"/meetings/{opened.id}")
    line = text_of(page, '[data-testid="roll-call"]')
    assert "1 favorevole" in line and "Pinerolo" not in line


async def test_the_public_page(
    db: Database, world: World, new_client: Callable[[], Client], opened: Meeting
) -> None:
    async with db.transaction() as uow:
        await attendance.do_check_in(
            uow, world["sindaco5"], opened.id, await comune_id(db, PINEROLO)
        )
    token = (await _room(db, opened.id)).meeting.public_token
    anonymous = new_client()
    page = await anonymous.get(f"/m/{token}")
    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "same-origin"
    assert text_of(page, '[data-testid="room-title"]') == opened.title
    assert "Pinerolo" in text_of(page, '[data-testid="present"]')
    assert "Sindaco5" not in text_of(page, "#room")  # not who checked the comune in
    assert "@" not in text_of(page, "#room")
    forms = parse(page).select("#room form")
    assert forms == []  # read-only
    live = parse(page).select_one("#live")
    assert live is not None and live["ws-connect"] == f"/ws?public={token}"
    assert (await anonymous.get("/m/not-a-token")).status_code == 404
    async with db.transaction() as uow:
        await actions.do_set_public(uow, world["portavoce5"], opened.id, False)
    assert (await anonymous.get(f"/m/{token}")).status_code == 404


async def test_the_public_page_is_rate_limited_per_address(
    new_client: Callable[..., Client], meeting: Meeting, db: Database
) -> None:
    token = (await _room(db, meeting.id)).meeting.public_token
    hammer = new_client(ip="10.0.0.9")
    for _ in range(60):
        assert (await hammer.get(f"/m/{token}")).status_code == 200
    refused = await hammer.get(f"/m/{token}")
    assert refused.status_code == 429
    assert italian("Too many requests") in refused.text
    assert (await new_client(ip="10.0.0.10").get(f"/m/{token}")).status_code == 200


def test_the_sliding_window_forgets_old_hits() -> None:
    from collab.ratelimit import SlidingWindow

    window = SlidingWindow(limit=2, window=60.0)
    assert window.allow("a", now=0.0) and window.allow("a", now=1.0)
    assert not window.allow("a", now=59.0)
    assert window.allow("b", now=59.0)  # per address
    assert window.allow("a", now=60.5)  # the first hit left the window
