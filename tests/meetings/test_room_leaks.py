"""Who may not follow a meeting learns nothing of its state from its controls.

Regression (issue 14, finding 8): ``checkout``, ``hand/withdraw`` and
``floor/end`` on a meeting the user cannot follow answered 409 with the
meeting's state ("in progress", "closed"...). Every room POST now checks
readability before anything else: a user of another zone gets the room
page's own answer, 404 as for a meeting id never used (as consultations do),
the same whatever state the meeting is in, and nothing changes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from collab.db import Database
from collab.meetings import actions, minutes
from collab.meetings.models import Meeting
from collab.meetings.room import load_room
from tests.conftest import World
from tests.helpers import (
    Client,
    italian,
    parse,
    quiet_db,  # noqa: F401 (the db fixture: writes notify people)
    snapshot,
)
from tests.meetings.scene import comune_id, convene

Login = Callable[[str], Awaitable[Client]]
IVREA = "001125"  # sindaco9's comune, zone 9
NO_MEETING = (404, italian("This meeting does not exist."))


def _controls(meeting_id: int, item_id: int, comune: int) -> list[tuple[str, dict[str, str]]]:
    base = f"/meetings/{meeting_id}"
    return [
        (f"{base}/open", {}),
        (f"{base}/cancel", {"confirmed": "1"}),
        (f"{base}/close", {"confirmed": "1"}),
        (f"{base}/item", {"item_id": str(item_id)}),
        (f"{base}/public", {"value": "1"}),
        (f"{base}/checkin", {"comune_id": str(comune)}),
        (f"{base}/guest", {}),
        (f"{base}/checkout", {}),
        (f"{base}/delegate", {"email": "tecnico9@test.collab.it"}),
        (f"{base}/hand", {}),
        (f"{base}/hand/withdraw", {}),
        (f"{base}/floor/1/grant", {}),
        (f"{base}/floor/end", {}),
        (f"{base}/items/{item_id}/notes", {"notes": "Appunti"}),
        (f"{base}/votes", {"motion": "Approvazione"}),
        (f"{base}/votes/1/ballot", {"choice": "yes"}),
        (f"{base}/votes/1/close", {"confirmed": "1"}),
    ]


def _answer(response: httpx.Response) -> tuple[int, str]:
    alert = parse(response).select_one(".alert-danger")
    assert alert is not None, response.text[:300]
    return response.status_code, " ".join(alert.get_text(" ").split())


async def _answers(outsider: Client, meeting: Meeting, db: Database) -> dict[str, tuple[int, str]]:
    async with db.session() as session:
        room = await load_room(session, meeting.id)
    assert room is not None
    comune = await comune_id(db, IVREA)
    seen = {}
    for url, data in _controls(meeting.id, room.items[0].id, comune):
        seen[url] = _answer(await outsider.post(url, data))
    return seen


async def test_controls_answer_an_outsider_as_the_room_page_does_in_every_state(
    login_as: Login, db: Database, world: World
) -> None:
    outsider = await login_as("sindaco9")
    meetings = {
        "convocata": await convene(db, world["staff"], (5,)),
        "in corso": await convene(db, world["staff"], (5,)),
        "chiusa": await convene(db, world["staff"], (5,)),
        "annullata": await convene(db, world["staff"], (5,)),
    }
    chair = world["portavoce5"]
    for state in ("in corso", "chiusa"):
        async with db.transaction() as uow:
            await actions.do_open(uow, chair, meetings[state].id)
    async with db.transaction() as uow:
        await minutes.do_close(uow, chair, meetings["chiusa"].id)
    async with db.transaction() as uow:
        await actions.do_cancel(uow, chair, meetings["annullata"].id)
    page = _answer(await outsider.get(f"/meetings/{meetings['convocata'].id}"))
    assert page == NO_MEETING
    never = _answer(await outsider.get("/meetings/999999"))
    assert never == NO_MEETING  # as if the meeting did not exist
    before = await snapshot(db)
    by_state = {state: await _answers(outsider, m, db) for state, m in meetings.items()}
    assert await snapshot(db) == before
    # Every control, in every state: the page's answer, nothing about the meeting.
    for state, answers in by_state.items():
        for url, answer in answers.items():
            assert answer == NO_MEETING, (state, url, answer)
