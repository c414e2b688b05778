"""Convening a body's meeting: the body, the chair and the vice chair, the
session's number, type and call, the notice; who follows it; who presides
(the chair, or the vice chair while the chair is absent); the opening's count."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from collab.db import Database
from collab.errors import PermissionDenied
from collab.meetings import actions, attendance, floor
from collab.meetings.models import Meeting, MeetingLog, MeetingZone, SessionType
from collab.models import Theme
from collab.notifications.models import Notification
from collab.templating import ROME
from tests.conftest import World, email
from tests.helpers import Client, italian, parse, snapshot
from tests.meetings.bodies_scene import body_meeting, make_body
from tests.meetings.scene import comune_id, zone_ids
from tests.meetings.test_actions import CUMIANA, PINEROLO, act, refused, room_of

Login = Callable[[str], Awaitable[Client]]
PRESIDE = "Only the chair of the meeting, or the vice chair while the chair is absent, can do this."


async def _form(db: Database, **changes: Any) -> dict[str, Any]:
    async with db.session() as session:
        theme = await session.scalar(select(Theme).order_by(Theme.position))
    assert theme is not None
    starts = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=7)
    data: dict[str, Any] = {
        "title": "Assemblea dei sindaci", "zones": [], "place": "Sala consiliare, Pinerolo",
        "starts_at": starts.astimezone(ROME).strftime("%Y-%m-%dT%H:%M"),
        "item-0-title": "Parere sul PSM", "item-0-theme": str(theme.id), "item-0-minutes": "30",
        "chair": email("portavoce5"), "vice_chair": email("sindaco5"), "session_number": "7",
        "session_type": "straordinaria", "call": "2", "notice_date": date.today().isoformat(),
        "notice_protocol": "  prot.   n. 4521/2026 ",
    }  # fmt: skip
    return {**data, **changes}


async def _post(client: Client, url: str, data: dict[str, Any]) -> httpx.Response:
    return await client.http.post(url, data={"csrf_token": await client.csrf(), **data})


def _errors(response: httpx.Response) -> dict[str, str]:
    return {
        str(node["data-testid"]).removeprefix("error-"): " ".join(node.get_text(" ").split())
        for node in parse(response).select("[data-testid^=error-]")
    }


async def test_staff_convenes_a_body_of_comuni_with_its_heading(
    login_as: Login, db: Database, world: World
) -> None:
    body = await make_body(db, "Assemblea dei sindaci ZO 5", zones=(5,))
    staff = await login_as("staff")
    page = parse(await staff.get("/meetings/new"))
    assert [o.get_text() for o in page.select("select#body option")][1:] == [body.name]
    response = await _post(staff, "/meetings/new", await _form(db, body=str(body.id)))
    assert response.status_code == 303, _errors(response)
    async with db.session() as session:
        meeting = await session.scalar(select(Meeting))
        zones = set(await session.scalars(select(MeetingZone.zone_id)))
    assert meeting is not None
    assert zones == set(await zone_ids(db, 5))  # the body's zones are convened
    assert (meeting.body_id, meeting.chair_id, meeting.vice_chair_id) == (
        body.id, world["portavoce5"].id, world["sindaco5"].id,
    )  # fmt: skip
    assert (meeting.session_number, meeting.session_type, meeting.call) == (
        7, SessionType.STRAORDINARIA, 2,
    )  # fmt: skip
    assert (meeting.notice_date, meeting.notice_protocol) == (date.today(), "prot. n. 4521/2026")
    assert meeting.convened_by_id == world["staff"].id and meeting.quorum is None
    # The edit form shows the heading as stored, and changes it.
    edit = parse(await staff.get(f"/meetings/{meeting.id}/edit"))
    values = {n: edit.select_one(f"#{n}") for n in ("chair", "vice_chair", "notice_protocol")}
    assert {n: v["value"] for n, v in values.items() if v is not None} == {
        "chair": email("portavoce5"), "vice_chair": email("sindaco5"),
        "notice_protocol": "prot. n. 4521/2026",
    }  # fmt: skip
    chosen = edit.select_one("select#call option[selected]")
    assert chosen is not None and chosen["value"] == "2"
    response = await _post(staff, f"/meetings/{meeting.id}/edit",
                           await _form(db, body=str(body.id), call="1", vice_chair=""))  # fmt: skip
    assert response.status_code == 303, _errors(response)
    async with db.session() as session:
        edited = await session.get(Meeting, meeting.id)
    assert edited is not None and (edited.call, edited.vice_chair_id) == (1, None)


async def test_every_bad_heading_field_is_shown_at_once(
    login_as: Login, db: Database, world: World
) -> None:
    body = await make_body(db, "Assemblea dei sindaci ZO 5", zones=(5,))
    staff = await login_as("staff")
    before = await snapshot(db)
    data = await _form(
        db, body=str(body.id), chair="nessuno@example.it", vice_chair=email("sindaco9"),
        session_number="0", session_type="riservata", call="3", quorum="3",
        notice_date=(date.today() + timedelta(days=30)).isoformat(), notice_protocol="x" * 61,
    )  # fmt: skip
    response = await _post(staff, "/meetings/new", data)
    assert response.status_code == 422
    assert _errors(response) == {
        "quorum": italian("The body's rules set the quorum: leave it empty."),
        "chair": italian("%(email)s is not an active user.", email="nessuno@example.it"),
        "vice_chair": italian(
            "The chair and the vice chair must be users who can follow the meeting: of a "
            "convened zone, CMTo staff, or members of the body."
        ),
        "session_number": italian("The session number is a whole number from 1 to 9999."),
        "session_type": italian("Choose an ordinary or an extraordinary session."),
        "call": italian("Choose the first or the second call."),
        "notice_date": italian("The notice cannot be dated after the meeting."),
        "notice_protocol": italian("The protocol number is at most 60 characters long."),
    }  # fmt: skip
    page = parse(response)
    chair = page.select_one("input#chair")
    assert chair is not None and chair["value"] == "nessuno@example.it"
    assert chair["aria-invalid"] == "true"
    assert await snapshot(db) == before
    # The same person twice, a body not in use, a date that is no date.
    async with db.transaction() as uow:
        stored = await uow.session.get(type(body), body.id)
        assert stored is not None
        stored.active = False
    response = await _post(staff, "/meetings/new", await _form(
        db, body=str(body.id), vice_chair=email("portavoce5"), notice_date="31/12/2026",
        zones=[str(z) for z in await zone_ids(db, 5)],
    ))  # fmt: skip
    assert _errors(response) == {
        "body": italian("Choose a body in use."),
        "vice_chair": italian("The vice chair must be someone other than the chair."),
        "notice_date": italian("Give the notice's date as a date."),
    }
    async with db.session() as session:
        assert await session.scalar(select(Meeting.id)) is None


async def test_a_portavoce_may_not_convene_a_body_of_other_zones(
    login_as: Login, db: Database, world: World
) -> None:
    body = await make_body(db, "Conferenza ZO 5 e ZO 9", zones=(5, 9))
    portavoce = await login_as("portavoce5")
    before = await snapshot(db)
    data = await _form(db, body=str(body.id), chair="", vice_chair="")
    response = await _post(portavoce, "/meetings/new", data)
    assert response.status_code == 422
    assert _errors(response) == {
        "body": italian("You may not convene this body: its comuni include zones not yours.")
    }
    assert await snapshot(db) == before


async def test_a_body_of_people_follows_its_meeting_from_anywhere(
    login_as: Login, db: Database, world: World
) -> None:
    body = await make_body(
        db, "Tavolo tecnico", people=((world["sindaco9"], "Sindaco di Ivrea"),
                                      (world["portavoce5"], "Coordinatore")),
    )  # fmt: skip
    meeting = await body_meeting(db, world["staff"], body, (5,), chair_email=email("portavoce5"))
    member = await login_as("sindaco9")  # of zone 9: a member, not of a convened zone
    assert (await member.get(f"/meetings/{meeting.id}")).status_code == 200
    listed = parse(await member.get("/meetings"))
    assert [a["href"] for a in listed.select(f"a[href='/meetings/{meeting.id}']")]
    outsider = await login_as("tecnico9")
    assert (await outsider.get(f"/meetings/{meeting.id}")).status_code == 404
    assert not parse(await outsider.get("/meetings")).select(f"a[href='/meetings/{meeting.id}']")
    # A chair who cannot follow the meeting is refused when convening.
    with_outsider = await _post(await login_as("staff"), "/meetings/new", await _form(
        db, body=str(body.id), zones=[str(z) for z in await zone_ids(db, 5)],
        chair=email("tecnico9"), vice_chair=email("sindaco9"),
    ))  # fmt: skip
    assert _errors(with_outsider) == {
        "chair": italian(
            "The chair and the vice chair must be users who can follow the meeting: of a "
            "convened zone, CMTo staff, or members of the body."
        )
    }


async def test_the_chair_presides_and_the_vice_only_while_the_chair_is_absent(
    db: Database, world: World
) -> None:
    body = await make_body(db, "Assemblea dei sindaci ZO 5", zones=(5,))
    chair, vice, staff = world["portavoce5"], world["sindaco5"], world["staff"]
    meeting = await body_meeting(
        db, staff, body, chair_email=chair.email, vice_chair_email=vice.email,
    )  # fmt: skip
    # The convener (staff) manages the meeting but does not preside it.
    await refused(db, PermissionDenied, PRESIDE, actions.do_open, staff, meeting.id)
    # The vice opens while the chair is absent; the opening's count is kept.
    await act(db, attendance.do_check_in, vice, meeting.id, await comune_id(db, PINEROLO))
    await act(db, actions.do_open, vice, meeting.id)
    room = await room_of(db, meeting.id)
    assert room.meeting.opening == {"members": 4, "present": 1, "required": 3, "held": False}
    assert room.meeting.chair_id == chair.id  # opening does not change who chairs
    # Once the chair is checked in, only the chair moves the agenda.
    await act(db, attendance.do_check_in, chair, meeting.id, await comune_id(db, CUMIANA))
    second = room.items[1].id
    await refused(db, PermissionDenied, PRESIDE, actions.do_set_item, vice, meeting.id, second)
    await act(db, actions.do_set_item, chair, meeting.id, second)
    async with db.session() as session:
        entries = list(
            await session.scalars(
                select(MeetingLog)
                .where(MeetingLog.meeting_id == meeting.id)
                .order_by(MeetingLog.id)
            )
        )
    chair_actions = [(e.action, e.actor_id) for e in entries if e.action in ("opened", "item")]
    assert chair_actions == [("opened", vice.id), ("item", chair.id)]
    opened_entry = next(e for e in entries if e.action == "opened")
    assert opened_entry.detail == room.meeting.opening
    item_entry = next(e for e in entries if e.action == "item")
    assert item_entry.detail == {"item_id": second, "title": room.items[1].title}


async def test_a_body_of_people_hears_of_its_meeting(db: Database, world: World) -> None:
    body = await make_body(db, "Tavolo tecnico", people=((world["sindaco9"], "Sindaco di Ivrea"),))
    meeting = await body_meeting(
        db, world["staff"], body, (5,), vice_chair_email=world["portavoce5"].email
    )
    async with db.session() as session:
        told = set(
            await session.scalars(
                select(Notification.user_id).where(
                    Notification.ref == f"meeting:{meeting.id}:convened"
                )
            )
        )
    # A member of zone 9 is told, as the zone 5 users are; who is neither is not.
    assert world["sindaco9"].id in told and world["tecnico5"].id in told
    assert world["tecnico9"].id not in told and world["staff"].id not in told  # the convener


async def test_who_presides_gives_the_floor(db: Database, world: World) -> None:
    body = await make_body(db, "Assemblea dei sindaci ZO 5", zones=(5,))
    chair, mayor, staff = world["portavoce5"], world["sindaco5"], world["staff"]
    meeting = await body_meeting(db, staff, body, chair_email=chair.email)
    await act(db, attendance.do_check_in, chair, meeting.id, await comune_id(db, CUMIANA))
    await act(db, actions.do_open, chair, meeting.id)
    await act(db, floor.do_raise_hand, mayor, meeting.id)
    (request,) = (await room_of(db, meeting.id)).queue
    # The convener manages the meeting, but the floor is the chair's to give.
    await refused(
        db, PermissionDenied, PRESIDE, floor.do_grant_floor, staff, meeting.id, request.id
    )
    await act(db, floor.do_grant_floor, chair, meeting.id, request.id)
    await refused(db, PermissionDenied, PRESIDE, floor.do_end_floor, staff, meeting.id)
    await act(db, floor.do_end_floor, chair, meeting.id)
    assert (await room_of(db, meeting.id)).speaker is None
