"""Confirmation before a meeting's irreversible steps (collab/meetings/confirm.py):
closing the meeting, cancelling it, closing a vote, publishing the verbale.

Each step acts only with ``confirmed=1``; without it the POST answers with the
confirmation page (the GET at the same address), which posts the step with the
field; CSRF and permissions are the step's own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from collab.db import Database
from collab.meetings import actions, attendance, minutes, voting
from collab.meetings.models import Meeting, MeetingState
from collab.meetings.room import Room, load_room
from tests.conftest import World
from tests.helpers import Client, italian, parse, snapshot, text_of
from tests.meetings.scene import comune_id, convene

Login = Callable[[str], Awaitable[Client]]
PINEROLO = "001191"
CONFIRMED = {"confirmed": "1"}


async def _room(db: Database, meeting_id: int) -> Room:
    async with db.session() as session:
        room = await load_room(session, meeting_id)
    assert room is not None
    return room


@pytest.fixture
async def meeting(db: Database, world: World) -> Meeting:
    return await convene(db, world["staff"], (5,))


@pytest.fixture
async def opened(db: Database, world: World, meeting: Meeting) -> Meeting:
    async with db.transaction() as uow:
        await actions.do_open(uow, world["portavoce5"], meeting.id)
    return meeting


async def _open_vote(db: Database, world: World, meeting: Meeting) -> int:
    chair, mayor = world["portavoce5"], world["sindaco5"]
    async with db.transaction() as uow:
        await attendance.do_check_in(uow, mayor, meeting.id, await comune_id(db, PINEROLO))
    async with db.transaction() as uow:
        vote = await voting.do_open_vote(uow, chair, meeting.id, "Parere sul PSM")
    async with db.transaction() as uow:
        await voting.do_cast_ballot(uow, mayor, meeting.id, vote.id, "favorevole")
    return vote.id


def _asks(response: httpx.Response, action: str, title: str) -> None:
    """The response is the confirmation page of ``action``."""
    assert response.status_code == 200, response.text[:300]
    assert text_of(response, '[data-testid="confirm-title"]') == italian(title)
    form = parse(response).select_one('form[data-testid="confirm-form"]')
    assert form is not None and form["method"] == "post" and form["action"] == action
    fields = {str(i["name"]): i.get("value") for i in form.select("input[type=hidden]")}
    assert fields["confirmed"] == "1" and fields["csrf_token"]


async def test_closing_the_meeting_asks_first(
    db: Database, login_as: Login, opened: Meeting
) -> None:
    chair = await login_as("portavoce5")
    url = f"/meetings/{opened.id}/close"
    page = await chair.get(url)
    _asks(page, url, "Close the meeting?")
    assert text_of(page, '[data-testid="confirm-subject"]') == opened.title
    back = parse(page).select_one('[data-testid="confirm-back"]')
    assert back is not None and back["href"] == f"/meetings/{opened.id}"
    # A post without the field: the same page, nothing changed.
    before = await snapshot(db)
    _asks(await chair.post(url), url, "Close the meeting?")
    assert await snapshot(db) == before
    # With htmx: a redirect to the page, nothing changed.
    response = await chair.post(url, htmx=True)
    assert response.status_code == 200 and response.headers["HX-Redirect"] == url
    assert await snapshot(db) == before
    # Confirmed: it closes.
    response = await chair.post(url, CONFIRMED)
    assert response.status_code == 303
    assert (await _room(db, opened.id)).meeting.state == MeetingState.CHIUSA


async def test_cancelling_asks_first(db: Database, login_as: Login, meeting: Meeting) -> None:
    chair = await login_as("portavoce5")
    url = f"/meetings/{meeting.id}/cancel"
    _asks(await chair.get(url), url, "Cancel the meeting?")
    _asks(await chair.post(url, {"confirmed": "yes"}), url, "Cancel the meeting?")
    assert (await _room(db, meeting.id)).meeting.state == MeetingState.CONVOCATA
    assert (await chair.post(url, CONFIRMED)).status_code == 303
    assert (await _room(db, meeting.id)).meeting.state == MeetingState.ANNULLATA
    # Now it is cancelled: the page says so (409) rather than asking again.
    response = await chair.get(url)
    assert response.status_code == 409
    assert italian("The meeting has been cancelled.") in response.text


async def test_closing_a_vote_asks_first(
    db: Database, world: World, login_as: Login, opened: Meeting
) -> None:
    vote_id = await _open_vote(db, world, opened)
    chair = await login_as("portavoce5")
    url = f"/meetings/{opened.id}/votes/{vote_id}/close"
    page = await chair.get(url)
    _asks(page, url, "Close the vote?")
    assert text_of(page, '[data-testid="confirm-subject"]') == "Parere sul PSM"
    _asks(await chair.post(url), url, "Close the vote?")
    assert (await _room(db, opened.id)).open_vote is not None
    response = await chair.post(url, CONFIRMED, htmx=True)
    assert response.status_code == 200
    assert "1 favorevole (Pinerolo)" in text_of(response, '[data-testid="roll-call"]')
    assert (await _room(db, opened.id)).open_vote is None
    # A vote that is not this meeting's: the step's own answer.
    assert (await chair.get(f"/meetings/{opened.id}/votes/999999/close")).status_code == 422


async def test_publishing_the_verbale_asks_first(
    db: Database, world: World, login_as: Login, opened: Meeting
) -> None:
    async with db.transaction() as uow:
        await minutes.do_close(uow, world["portavoce5"], opened.id)
    chair = await login_as("portavoce5")
    url = f"/meetings/{opened.id}/verbale/publish"
    page = await chair.get(url)
    _asks(page, url, "Publish the verbale?")
    back = parse(page).select_one('[data-testid="confirm-back"]')
    assert back is not None and back["href"] == f"/meetings/{opened.id}/verbale"
    _asks(await chair.post(url), url, "Publish the verbale?")
    assert (await _room(db, opened.id)).verbale.published_at is None  # type: ignore[union-attr]
    assert (await chair.post(url, CONFIRMED)).status_code == 303
    assert (await _room(db, opened.id)).verbale.published_at is not None  # type: ignore[union-attr]


async def test_the_room_offers_the_dialog_and_a_page_without_javascript(
    db: Database, world: World, login_as: Login, opened: Meeting
) -> None:
    vote_id = await _open_vote(db, world, opened)
    chair = await login_as("portavoce5")
    page = parse(await chair.get(f"/meetings/{opened.id}"))
    for testid, action in [
        ("close-meeting", f"/meetings/{opened.id}/close"),
        ("close-vote", f"/meetings/{opened.id}/votes/{vote_id}/close"),
    ]:
        trigger = page.select_one(f'form[data-testid="{testid}"]')
        # Without JavaScript, a GET to the confirmation page; with it, the dialog's texts.
        assert trigger is not None and trigger["method"] == "get" and trigger["action"] == action
        assert trigger["data-confirm-title"] and trigger["data-confirm-text"]
    dialog = page.select_one("dialog#confirm-dialog")
    assert dialog is not None and dialog["aria-labelledby"] == "confirm-dialog-title"
    assert dialog.select_one('input[name="confirmed"][value="1"]') is not None
    assert dialog.select_one('input[name="csrf_token"]') is not None
    # The dialog is outside the regions live updates replace.
    assert dialog.find_parent(id="room-vote") is None
    assert dialog.find_parent(id="room-controls") is None
    # Who does not chair has neither the steps nor the dialog.
    mayor = parse(await (await login_as("sindaco5")).get(f"/meetings/{opened.id}"))
    assert mayor.select_one("dialog#confirm-dialog") is None
    assert mayor.select_one("form[data-confirm]") is None


async def test_csrf_is_still_required(
    db: Database, login_as: Login, new_client: Callable[[], Client], opened: Meeting
) -> None:
    chair = await login_as("portavoce5")
    url = f"/meetings/{opened.id}/close"
    before = await snapshot(db)
    response = await chair.http.post(url, data=CONFIRMED)  # no token
    assert response.status_code == 403
    response = await chair.http.post(url, data={**CONFIRMED, "csrf_token": "forged"})
    assert response.status_code == 403
    assert await snapshot(db) == before
    assert (await _room(db, opened.id)).meeting.state == MeetingState.IN_CORSO


@pytest.mark.parametrize("confirmed", [{}, CONFIRMED])
async def test_permissions_are_unchanged(
    db: Database, login_as: Login, opened: Meeting, confirmed: dict[str, str]
) -> None:
    url = f"/meetings/{opened.id}/close"
    mayor, outsider = await login_as("sindaco5"), await login_as("tecnico9")
    before = await snapshot(db)
    # A member of the zone who does not chair: 403, confirmed or not, page or post.
    assert (await mayor.get(url)).status_code == 403
    assert (await mayor.post(url, confirmed)).status_code == 403
    assert (await mayor.post(url, confirmed, htmx=True)).status_code == 403
    # Someone of another zone: the meeting does not exist for them.
    assert (await outsider.get(url)).status_code == 404
    assert (await outsider.post(url, confirmed)).status_code == 404
    assert (await outsider.get(f"/meetings/{opened.id}/verbale/publish")).status_code == 404
    assert await snapshot(db) == before
