"""The room page and its controls over HTTP: each mode, plain and htmx, bad input."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from bs4 import BeautifulSoup

from collab.db import Database
from collab.meetings import actions, voting
from collab.meetings.room import Room, load_room
from collab.models import Meeting
from tests.conftest import World
from tests.helpers import Client, italian, parse, snapshot, text_of
from tests.meetings.scene import comune_id, convene

Login = Callable[[str], Awaitable[Client]]


async def _room(db: Database, meeting_id: int) -> Room:
    async with db.session() as session:
        room = await load_room(session, meeting_id)
    assert room is not None
    return room


@pytest.fixture
async def meeting(db: Database, world: World) -> Meeting:
    return await convene(db, world["staff"], (5,), public=True)


@pytest.fixture
async def opened(db: Database, world: World, meeting: Meeting) -> Meeting:
    async with db.transaction() as uow:
        await actions.do_open(uow, world["portavoce5"], meeting.id)
    return meeting


async def test_the_chair_sees_the_room_and_its_controls(
    login_as: Login, meeting: Meeting
) -> None:
    chair = await login_as("portavoce5")
    response = await chair.get(f"/meetings/{meeting.id}")
    assert response.status_code == 200, response.text
    page = parse(response)
    assert text_of(response, '[data-testid="room-state"]') == "Convocata"
    assert page.select_one('[data-testid="open-meeting"]') is not None
