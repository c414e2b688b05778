"""The meeting actions one by one: what each changes, the events it sends, and
every way it refuses (the right error class, an Italian message, nothing changed,
no event)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from collab.accounts.actions import do_create_user
from collab.db import Database
from collab.errors import ActionError, Conflict, InvalidFields, NotFound, PermissionDenied
from collab.meetings import actions, attendance, floor, minutes, voting
from collab.meetings.actions import AgendaLine, Convocation
from collab.meetings.models import Attendance, Meeting, MeetingState
from collab.meetings.room import Room, load_room
from collab.models import Comune, Theme, User, utcnow
from collab.notifications.actions import MailOwed
from collab.realtime.events import (
    AttendanceChanged,
    FloorChanged,
    MeetingUpdated,
    NotesChanged,
    NotificationsChanged,
    VerbaleChanged,
    VoteChanged,
)
from tests.conftest import World
from tests.helpers import PASSWORD, capture_events, italian, snapshot
from tests.meetings.scene import comune_id, convene, zone_ids

# ISTAT codes of the ZO 5 comuni of the demo CSV.
PINEROLO, LUSERNA, TORRE_PELLICE, CUMIANA = "001191", "001139", "001275", "001097"
IVREA = "001125"  # ZO 9

Write = Callable[..., Awaitable[Any]]  # called as write(uow, *args)

NO_MEETING = "This meeting does not exist."  # who may not follow a meeting


# --- helpers shared by the meeting test modules ----------------------------------------


async def act(db: Database, write: Write, *args: Any) -> tuple[Any, list[Any]]:
    """``write(uow, *args)`` in its own transaction: its result and the events it sent."""
    async with capture_events(db) as events, db.transaction() as uow:
        result = await write(uow, *args)
    return result, list(events)


async def refused(
    db: Database, error: type[ActionError], message: str, write: Write, *args: Any
) -> ActionError:
    """``write(uow, *args)`` fails with exactly ``error`` and ``message`` (translated
    into Italian), sends no event and leaves every row of every table as it was."""
    before = await snapshot(db)
    async with capture_events(db) as events:
        with pytest.raises(ActionError) as caught:
            async with db.transaction() as uow:
                await write(uow, *args)
    assert type(caught.value) is error, (caught.value, caught.value.message)
    assert caught.value.message == message
    assert italian(message)
    assert events == []
    assert await snapshot(db) == before
    return caught.value


async def room_of(db: Database, meeting_id: int) -> Room:
    async with db.session() as session:
        room = await load_room(session, meeting_id)
    assert room is not None
    return room


async def add_sindaco(db: Database, key: str, istat: str) -> User:
    """Another sindaco (the world has one per zone), as tests/conftest.py makes users."""
    async with db.transaction() as uow:
        return await do_create_user(
            uow, None, email=f"{key}@test.collab.it", name=key.title(), role="sindaco",
            password=PASSWORD, comune_istat=istat,
        )  # fmt: skip


async def opened(db: Database, world: World, **kwargs: Any) -> Meeting:
    """A ZO 5 meeting convened by staff and opened by the zone's portavoce."""
    meeting = await convene(db, world["staff"], (5,), **kwargs)
    async with db.transaction() as uow:
        await actions.do_open(uow, world["portavoce5"], meeting.id)
    return meeting


async def check_in(db: Database, user: User, meeting_id: int, istat: str) -> None:
    comune = await comune_id(db, istat)
    async with db.transaction() as uow:
        await attendance.do_check_in(uow, user, meeting_id, comune)


# --- convene --------------------------------------------------------------------------


async def _form(db: Database, **changes: Any) -> Convocation:
    async with db.session() as session:
        theme = await session.scalar(select(Theme).where(Theme.active).order_by(Theme.position))
    assert theme is not None
    form = Convocation(
        title="Parere sul PSM",
        zone_ids=await zone_ids(db, 5),
        starts_at=utcnow() + timedelta(days=2),
        items=[AgendaLine("Parere sul Piano strategico", theme.id, 30)],
        place="Sala consiliare, Pinerolo",
    )
    return replace(form, **changes)


async def test_convene_makes_the_meeting_and_its_agenda(db: Database, world: World) -> None:
    form = await _form(db, zone_ids=await zone_ids(db, 5, 9), quorum=4, public=True)
    meeting, events = await act(db, actions.do_convene, world["staff"], form)
    # Nobody follows a room that did not exist; the invited hear on their own
    # topics (and by e-mail at once: the commit wakes the mailer).
    assert {e.type for e in events} <= {NotificationsChanged.type, MailOwed.type}
    room = await room_of(db, meeting.id)
    assert room.meeting.state == MeetingState.CONVOCATA
    assert (room.meeting.chair_id, room.meeting.quorum) == (world["staff"].id, 4)
    assert room.meeting.public_token
    assert [z.number for z in room.zones] == [5, 9]
    assert [i.title for i in room.items] == ["Parere sul Piano strategico"]
    assert room.current_item is None


async def test_convene_names_the_bad_field(db: Database, world: World) -> None:
    async with db.session() as session:
        themes = list(await session.scalars(select(Theme).order_by(Theme.position)))
    line = AgendaLine("Parere", themes[0].id, 30)
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"title": " a "}, "title", "The title must be at least 3 characters long."),
        ({"title": "x" * 201}, "title", "The title must be at most 200 characters long."),
        ({"zone_ids": []}, "zones", "Choose at least one zone."),
        ({"starts_at": None}, "starts_at", "Give the date and time of the meeting."),
        ({"starts_at": utcnow() - timedelta(days=3)}, "starts_at",
         "The meeting cannot start in the past."),
        ({"place": " ", "video_url": ""}, "place", "Give a place, a video-call link, or both."),
        ({"video_url": "javascript:alert(1)"}, "video_url",
         "The address must start with https:// or http://."),
        ({"items": []}, "items", "The agenda needs at least one item."),
        ({"items": [replace(line, theme_id=10**6)]}, "item-0",
         "Each agenda item needs a theme in use."),
        ({"items": [replace(line, minutes=0)]}, "item-0",
         "An agenda item lasts from 1 to 480 minutes."),
        ({"items": [replace(line, title="no")]}, "item-0",
         "The title must be at least 3 characters long."),
        ({"quorum": 0}, "quorum", "The quorum must be a number of comuni."),
        ({"materials": [("Bozza", "")]}, "material-0", "Each material needs an address."),
    ]  # fmt: skip
    for changes, field, message in cases:
        form = await _form(db, **changes)
        error = await refused(db, InvalidFields, message, actions.do_convene, world["staff"], form)
        assert error.field == field, changes


async def test_portavoce_convenes_own_zone_only_staff_any(db: Database, world: World) -> None:
    own, other = await zone_ids(db, 5), await zone_ids(db, 9)
    message = "You may convene meetings of your own zone only."
    for key, zones in [
        ("portavoce5", other),
        ("portavoce5", own + other),  # one foreign zone is enough to refuse
        ("sindaco5", own),
        ("tecnico5", own),
        ("admin", own),  # admins manage users, they do not chair assemblies
    ]:
        form = await _form(db, zone_ids=zones)
        await refused(
            db, PermissionDenied, message,
            actions.do_convene, world[key], form,
        )  # fmt: skip
    mine, _ = await act(db, actions.do_convene, world["portavoce5"], replace(form, zone_ids=own))
    theirs, _ = await act(
        db, actions.do_convene, world["staff"], replace(form, zone_ids=own + other)
    )
    assert (await room_of(db, mine.id)).zone_ids == set(own)
    assert (await room_of(db, theirs.id)).zone_ids == set(own + other)


# --- open and cancel -----------------------------------------------------------------


async def test_open_fixes_the_quorum_at_the_majority_of_the_comuni(
    db: Database, world: World
) -> None:
    one = await convene(db, world["staff"], (5,))
    two = await convene(db, world["staff"], (5, 9))
    fixed = await convene(db, world["staff"], (5,), quorum=2)
    assert (await room_of(db, one.id)).meeting.quorum is None
    room, events = await act(db, actions.do_open, world["portavoce5"], one.id)
    first = room.items[0]
    assert events == [MeetingUpdated(None, one.id, state="in_corso", item_id=first.id)]
    for meeting in (two, fixed):
        await act(db, actions.do_open, world["staff"], meeting.id)
    # ZO 5 has 4 comuni in the demo data, ZO 5 and ZO 9 together 8.
    quorums = [(await room_of(db, m.id)).meeting.quorum for m in (one, two, fixed)]
    assert quorums == [3, 5, 2]
    room = await room_of(db, one.id)
    assert room.meeting.state == MeetingState.IN_CORSO
    assert room.meeting.chair_id == world["portavoce5"].id  # whoever opens it chairs it
    assert room.current_item is not None and room.current_item.id == first.id
    # A comune added to the zone later does not move the quorum of a meeting in progress.
    zone5 = (await zone_ids(db, 5))[0]
    async with db.transaction() as uow:
        for n in range(4):
            uow.session.add(Comune(istat_code=f"00190{n}", name=f"Nuovo {n}", zone_id=zone5))
    assert len((await room_of(db, one.id)).comuni) == 8
    assert (await room_of(db, one.id)).quorum == 3


async def test_open_refusals(db: Database, world: World) -> None:
    meeting = await convene(db, world["staff"], (5,))
    chair_only = "Only the chair of the meeting can do this."
    for key in ("sindaco5", "tecnico5", "admin"):
        await refused(
            db, PermissionDenied, chair_only,
            actions.do_open, world[key], meeting.id,
        )  # fmt: skip
    # Another zone's portavoce may not even follow it: as if it did not exist.
    await refused(db, NotFound, NO_MEETING, actions.do_open, world["portavoce9"], meeting.id)
    await refused(
        db, NotFound, "This meeting does not exist.",
        actions.do_open, world["staff"], meeting.id + 1000,
    )  # fmt: skip
    await act(db, actions.do_open, world["portavoce5"], meeting.id)
    await refused(
        db, Conflict, "The meeting is in progress.",
        actions.do_open, world["staff"], meeting.id,
    )  # fmt: skip


async def test_cancel_only_while_convened(db: Database, world: World) -> None:
    meeting = await convene(db, world["staff"], (5,))
    await refused(
        db, PermissionDenied, "Only the chair of the meeting can do this.",
        actions.do_cancel, world["sindaco5"], meeting.id,
    )  # fmt: skip
    room, events = await act(db, actions.do_cancel, world["portavoce5"], meeting.id)
    assert room.meeting.state == MeetingState.ANNULLATA
    meeting_events = [e for e in events if not isinstance(e, NotificationsChanged | MailOwed)]
    assert meeting_events == [MeetingUpdated(None, meeting.id, state="annullata", item_id=None)]
    for write in (actions.do_cancel, actions.do_open):
        await refused(
            db, Conflict, "The meeting has been cancelled.",
            write, world["staff"], meeting.id,
        )  # fmt: skip
    running = await opened(db, world)
    await refused(
        db, Conflict, "The meeting is in progress.",
        actions.do_cancel, world["staff"], running.id,
    )  # fmt: skip


# --- the agenda ----------------------------------------------------------------------


async def test_move_between_items(db: Database, world: World) -> None:
    chair = world["portavoce5"]
    meeting = await convene(db, world["staff"], (5,))
    items = (await room_of(db, meeting.id)).items
    await refused(
        db, Conflict, "The meeting has not started yet.",
        actions.do_set_item, chair, meeting.id, items[1].id,
    )  # fmt: skip
    await act(db, actions.do_open, chair, meeting.id)
    room, events = await act(db, actions.do_set_item, chair, meeting.id, items[1].id)
    assert events == [MeetingUpdated(None, meeting.id, state="in_corso", item_id=items[1].id)]
    room = await room_of(db, meeting.id)
    assert room.current_item is not None and room.current_item.id == items[1].id
    assert room.items[0].closed_at is not None
    first_opened = room.items[0].opened_at
    # Back to the first item: it is current again, and keeps when it was first opened.
    await act(db, actions.do_set_item, chair, meeting.id, items[0].id)
    room = await room_of(db, meeting.id)
    assert [i.id for i in room.items if i.opened_at and not i.closed_at] == [items[0].id]
    assert room.items[0].opened_at == first_opened
    # The current item again: nothing to announce.
    _, events = await act(db, actions.do_set_item, chair, meeting.id, items[0].id)
    assert events == []


async def test_move_to_another_meetings_item_is_refused(db: Database, world: World) -> None:
    chair = world["portavoce5"]
    meeting, other = await opened(db, world), await opened(db, world)
    foreign = (await room_of(db, other.id)).items[1]
    error = await refused(
        db, ActionError, "This item is not on the agenda of this meeting.",
        actions.do_set_item, chair, meeting.id, foreign.id,
    )  # fmt: skip
    assert error.field == "item"
    await refused(
        db, PermissionDenied, "Only the chair of the meeting can do this.",
        actions.do_set_item, world["sindaco5"], meeting.id, foreign.id,
    )  # fmt: skip
    for m in (meeting, other):
        current = (await room_of(db, m.id)).current_item
        assert current is not None and current.position == 1


# --- attendance -----------------------------------------------------------------------


async def test_check_in_by_the_sindaco_or_portavoce_of_the_comune(
    db: Database, world: World
) -> None:
    meeting = await convene(db, world["staff"], (5,))
    pinerolo, cumiana = await comune_id(db, PINEROLO), await comune_id(db, CUMIANA)
    # Before the meeting opens too: the comuni arrive before the chair starts.
    room, events = await act(db, attendance.do_check_in, world["sindaco5"], meeting.id, pinerolo)
    assert events == [AttendanceChanged(None, meeting.id)]
    await act(db, attendance.do_check_in, world["portavoce5"], meeting.id, cumiana)
    room = await room_of(db, meeting.id)
    assert room.present_ids == {pinerolo, cumiana}
    rows = {a.comune_id: a for a in room.attendance}
    assert rows[pinerolo].user_id == world["sindaco5"].id and rows[pinerolo].voting


async def test_check_in_refusals(db: Database, world: World) -> None:
    meeting = await opened(db, world)
    pinerolo, luserna = await comune_id(db, PINEROLO), await comune_id(db, LUSERNA)
    ivrea = await comune_id(db, IVREA)
    only_sindaco = "Only the sindaco of the comune or its delegate can do this."
    for key, comune in [
        ("sindaco5", luserna),  # another comune of the zone
        ("tecnico5", luserna),  # their own comune, but not its sindaco nor its delegate
        ("portavoce5", pinerolo),  # the portavoce votes for Cumiana, not for the zone
        ("staff", pinerolo),
    ]:
        await refused(
            db, PermissionDenied, only_sindaco,
            attendance.do_check_in, world[key], meeting.id, comune,
        )  # fmt: skip
    error = await refused(
        db, ActionError, "This comune does not belong to the convened zones.",
        attendance.do_check_in, world["sindaco5"], meeting.id, ivrea,
    )  # fmt: skip
    assert error.field == "comune"
    await refused(
        db, NotFound, NO_MEETING,
        attendance.do_check_in, world["sindaco9"], meeting.id, ivrea,
    )  # fmt: skip
    await check_in(db, world["sindaco5"], meeting.id, PINEROLO)
    await refused(
        db, Conflict, "This comune is already checked in.",
        attendance.do_check_in, world["sindaco5"], meeting.id, pinerolo,
    )  # fmt: skip


async def test_the_delegate_named_for_this_meeting_checks_in(db: Database, world: World) -> None:
    meeting, other = await opened(db, world), await opened(db, world)
    luserna = await comune_id(db, LUSERNA)
    mayor = await add_sindaco(db, "sindaco-luserna", LUSERNA)
    delegate, events = await act(
        db, attendance.do_name_delegate, mayor, meeting.id, "tecnico5@test.collab.it"
    )
    assert delegate.user_id == world["tecnico5"].id
    assert events == [AttendanceChanged(None, meeting.id)]
    # A delegate only for the meeting they were named for.
    await refused(
        db, PermissionDenied, "Only the sindaco of the comune or its delegate can do this.",
        attendance.do_check_in, world["tecnico5"], other.id, luserna,
    )  # fmt: skip
    await act(db, attendance.do_check_in, world["tecnico5"], meeting.id, luserna)
    room = await room_of(db, meeting.id)
    assert room.present_ids == {luserna}
    # Now the comune is here: its sindaco cannot check it in a second time.
    await refused(
        db, Conflict, "This comune is already checked in.",
        attendance.do_check_in, mayor, meeting.id, luserna,
    )  # fmt: skip


async def test_name_delegate_refusals(db: Database, world: World) -> None:
    meeting = await opened(db, world)
    error = await refused(
        db, ActionError, "The delegate must be a user of your comune.",
        attendance.do_name_delegate, world["sindaco5"], meeting.id,
                                             "tecnico5@test.collab.it",
    )  # fmt: skip
    assert error.field == "email"
    await refused(
        db, ActionError, "The delegate must be someone else.",
        attendance.do_name_delegate, world["sindaco5"], meeting.id,
                                             "sindaco5@test.collab.it",
    )  # fmt: skip
    for key in ("tecnico5", "staff"):
        await refused(
            db, PermissionDenied, "Only the sindaco of the comune or its delegate can do this.",
            attendance.do_name_delegate, world[key], meeting.id,
                                                                "sindaco5@test.collab.it",
        )  # fmt: skip
    # Who may not follow the meeting is refused as by the room page (issue 14).
    await refused(
        db, NotFound, NO_MEETING,
        attendance.do_name_delegate, world["sindaco9"], meeting.id, "sindaco5@test.collab.it",
    )  # fmt: skip


async def test_leave_and_come_back(db: Database, world: World) -> None:
    meeting = await opened(db, world)
    pinerolo = await comune_id(db, PINEROLO)
    await refused(
        db, Conflict, "You are not checked in.",
        attendance.do_check_out, world["sindaco5"], meeting.id,
    )  # fmt: skip
    await check_in(db, world["sindaco5"], meeting.id, PINEROLO)
    _, events = await act(db, attendance.do_check_out, world["sindaco5"], meeting.id)
    assert events == [AttendanceChanged(None, meeting.id)]
    room = await room_of(db, meeting.id)
    assert pinerolo not in room.present_ids
    assert [a.left_at is not None for a in room.attendance] == [True]
    await refused(
        db, Conflict, "You are not checked in.",
        attendance.do_check_out, world["sindaco5"], meeting.id,
    )  # fmt: skip
    await check_in(db, world["sindaco5"], meeting.id, PINEROLO)
    room = await room_of(db, meeting.id)
    assert room.present_ids == {pinerolo}
    assert [(a.comune_id, a.left_at) for a in room.attendance] == [(pinerolo, None)]  # one row


async def test_no_check_in_once_the_meeting_is_closed(db: Database, world: World) -> None:
    meeting = await opened(db, world)
    await act(db, minutes.do_close, world["portavoce5"], meeting.id)
    pinerolo = await comune_id(db, PINEROLO)
    await refused(
        db, Conflict, "The meeting is closed.",
        attendance.do_check_in, world["sindaco5"], meeting.id, pinerolo,
    )  # fmt: skip


async def test_guests_are_present_without_a_vote(db: Database, world: World) -> None:
    meeting = await opened(db, world)
    _, events = await act(db, attendance.do_join_as_guest, world["staff"], meeting.id)
    assert events == [AttendanceChanged(None, meeting.id)]
    room = await room_of(db, meeting.id)
    assert [(g.user_id, g.comune_id, g.voting) for g in room.guests] == [
        (world["staff"].id, None, False)
    ]
    assert room.present_ids == set()  # a guest is no comune: not in the quorum
    await refused(
        db, Conflict, "You are already registered at this meeting.",
        attendance.do_join_as_guest, world["staff"], meeting.id,
    )  # fmt: skip
    await refused(
        db, NotFound, NO_MEETING,
        attendance.do_join_as_guest, world["sindaco9"], meeting.id,
    )  # fmt: skip
    vote, _ = await act(db, voting.do_open_vote, world["portavoce5"], meeting.id,
                                                            "Parere sul PSM")  # fmt: skip
    await refused(
        db, PermissionDenied, "Only the sindaco of the comune or its delegate can vote.",
        voting.do_cast_ballot, world["staff"], meeting.id, vote.id, "favorevole",
    )  # fmt: skip
    # A guest leaves and comes back like a comune.
    await act(db, attendance.do_check_out, world["staff"], meeting.id)
    assert (await room_of(db, meeting.id)).guests == []
    await act(db, attendance.do_join_as_guest, world["staff"], meeting.id)
    assert len((await room_of(db, meeting.id)).guests) == 1


# --- the floor -----------------------------------------------------------------------


async def test_raise_and_withdraw(db: Database, world: World) -> None:
    mayor = world["sindaco5"]
    meeting = await opened(db, world)
    request, events = await act(db, floor.do_raise_hand, mayor, meeting.id)
    assert events == [FloorChanged(None, meeting.id)]
    await refused(
        db, Conflict, "You have already asked for the floor.",
        floor.do_raise_hand, mayor, meeting.id,
    )  # fmt: skip
    _, events = await act(db, floor.do_withdraw_hand, mayor, meeting.id)
    assert events == [FloorChanged(None, meeting.id)]
    assert (await room_of(db, meeting.id)).queue == []
    await refused(
        db, Conflict, "You have not asked for the floor.",
        floor.do_withdraw_hand, mayor, meeting.id,
    )  # fmt: skip
    await refused(
        db, Conflict, "This request for the floor is no longer in the queue.",
        floor.do_grant_floor, world["portavoce5"], meeting.id, request.id,
    )  # fmt: skip
    await refused(
        db, NotFound, NO_MEETING,
        floor.do_raise_hand, world["sindaco9"], meeting.id,
    )  # fmt: skip


async def test_grant_ends_the_previous_speaker(db: Database, world: World) -> None:
    chair, mayor, tech = world["portavoce5"], world["sindaco5"], world["tecnico5"]
    meeting = await opened(db, world)
    first, _ = await act(db, floor.do_raise_hand, mayor, meeting.id)
    second, _ = await act(db, floor.do_raise_hand, tech, meeting.id)
    await refused(
        db, PermissionDenied, "Only the chair of the meeting can do this.",
        floor.do_grant_floor, mayor, meeting.id, first.id,
    )  # fmt: skip
    _, events = await act(db, floor.do_grant_floor, chair, meeting.id, first.id)
    assert events == [FloorChanged(None, meeting.id)]
    room = await room_of(db, meeting.id)
    assert room.speaker is not None and room.speaker.id == first.id
    assert room.speaker.item_id == room.items[0].id
    assert [r.id for r in room.queue] == [second.id]
    await refused(
        db, Conflict, "You have the floor already.",
        floor.do_raise_hand, mayor, meeting.id,
    )  # fmt: skip
    await act(db, floor.do_grant_floor, chair, meeting.id, second.id)
    room = await room_of(db, meeting.id)
    assert room.speaker is not None and room.speaker.id == second.id
    assert [r.id for r in room.speeches] == [first.id]  # ended, not lost
    assert room.queue == []


async def test_end_the_floor_by_the_speaker_or_the_chair(db: Database, world: World) -> None:
    chair, mayor, tech = world["portavoce5"], world["sindaco5"], world["tecnico5"]
    meeting = await opened(db, world)
    await refused(
        db, Conflict, "Nobody has the floor.",
        floor.do_end_floor, chair, meeting.id,
    )  # fmt: skip
    for speaker, ender in ((mayor, mayor), (tech, chair)):
        request, _ = await act(db, floor.do_raise_hand, speaker, meeting.id)
        await act(db, floor.do_grant_floor, chair, meeting.id, request.id)
        bystander = tech if speaker is mayor else mayor
        await refused(
            db, PermissionDenied, "Only the chair of the meeting can do this.",
            floor.do_end_floor, bystander, meeting.id,
        )  # fmt: skip
        _, events = await act(db, floor.do_end_floor, ender, meeting.id)
        assert events == [FloorChanged(None, meeting.id)]
        assert (await room_of(db, meeting.id)).speaker is None
    assert len((await room_of(db, meeting.id)).speeches) == 2


# --- notes ----------------------------------------------------------------------------


async def test_notes_by_the_chair_or_the_secretary(db: Database, world: World) -> None:
    chair, tech = world["portavoce5"], world["tecnico5"]
    meeting = await opened(db, world)
    other = await opened(db, world)
    item = (await room_of(db, meeting.id)).items[0]
    only = "Only the chair or the secretary can do this."
    for key in ("sindaco5", "tecnico5"):
        await refused(
            db, PermissionDenied, only,
            floor.do_save_notes, world[key], meeting.id, item.id, "x",
        )  # fmt: skip
    await refused(
        db, NotFound, NO_MEETING,
        floor.do_save_notes, world["portavoce9"], meeting.id, item.id, "x",
    )  # fmt: skip
    saved, events = await act(db, floor.do_save_notes, chair, meeting.id, item.id, "Apertura.\r\n")
    assert saved.notes == "Apertura."
    assert events == [NotesChanged(None, meeting.id, item_id=item.id)]
    _, events = await act(db, floor.do_save_notes, chair, meeting.id, item.id, "Apertura.")
    assert events == []  # the same text: nothing to announce
    # The meeting's secretary (a tecnico here) writes the notes too, of that meeting only.
    async with db.transaction() as uow:
        await uow.session.execute(
            update(Meeting).where(Meeting.id == meeting.id).values(secretary_id=tech.id)
        )
    await act(db, floor.do_save_notes, tech, meeting.id, item.id, "Dal tecnico.")
    assert (await room_of(db, meeting.id)).items[0].notes == "Dal tecnico."
    foreign = (await room_of(db, other.id)).items[0]
    await refused(
        db, PermissionDenied, only,
        floor.do_save_notes, tech, other.id, foreign.id, "x",
    )  # fmt: skip
    error = await refused(
        db, ActionError, "This item is not on the agenda of this meeting.",
        floor.do_save_notes, chair, meeting.id, foreign.id, "x",
    )  # fmt: skip
    assert error.field == "item"
    error = await refused(
        db, ActionError, "The notes are too long.",
        floor.do_save_notes, chair, meeting.id, item.id, "x" * 50_001,
    )  # fmt: skip
    assert error.field == "notes"


# --- close ---------------------------------------------------------------------------


async def test_close_is_refused_while_a_vote_is_open(db: Database, world: World) -> None:
    chair = world["portavoce5"]
    meeting = await opened(db, world)
    vote, _ = await act(db, voting.do_open_vote, chair, meeting.id, "Parere PSM")
    await refused(
        db, Conflict, "A vote is still open: close it first.",
        minutes.do_close, chair, meeting.id,
    )  # fmt: skip
    await refused(
        db, PermissionDenied, "Only the chair of the meeting can do this.",
        minutes.do_close, world["sindaco5"], meeting.id,
    )  # fmt: skip
    _, events = await act(db, voting.do_close_vote, chair, meeting.id, vote.id)
    assert events == [VoteChanged(None, meeting.id, vote_id=vote.id)]


async def test_close_ends_everything_and_drafts_the_verbale(db: Database, world: World) -> None:
    chair, mayor, tech = world["portavoce5"], world["sindaco5"], world["tecnico5"]
    meeting = await opened(db, world)
    await check_in(db, mayor, meeting.id, PINEROLO)
    await act(db, attendance.do_join_as_guest, world["staff"], meeting.id)
    speaking, _ = await act(db, floor.do_raise_hand, mayor, meeting.id)
    await act(db, floor.do_grant_floor, chair, meeting.id, speaking.id)
    await act(db, floor.do_raise_hand, tech, meeting.id)
    room, events = await act(db, minutes.do_close, chair, meeting.id)
    assert events == [
        MeetingUpdated(None, meeting.id, state="chiusa", item_id=None),
        VerbaleChanged(None, meeting.id, published=False),
    ]
    room = await room_of(db, meeting.id)
    assert room.meeting.state == MeetingState.CHIUSA and room.meeting.closed_at is not None
    assert room.current_item is None and room.speaker is None and room.queue == []
    assert all(a.left_at is not None for a in room.attendance)
    assert room.verbale is not None and room.verbale.published_at is None
    source = room.verbale.source
    assert source.startswith(f"# {italian('Minutes of the session')}\n\n**Giornata di sintesi**")
    assert "Pinerolo (Sindaco5)" in source  # present, with who checked it in
    assert "Sindaco5 (Pinerolo)" in source  # spoke until the close
    assert "Staff" in source  # present without a vote
    await refused(
        db, Conflict, "Only a meeting in progress can be closed.",
        minutes.do_close, chair, meeting.id,
    )  # fmt: skip
    await refused(
        db, Conflict, "The meeting is closed.",
        floor.do_raise_hand, mayor, meeting.id,
    )  # fmt: skip


async def test_attendance_rows_are_one_per_comune(db: Database, world: World) -> None:
    meeting = await opened(db, world)
    for _ in range(3):
        await check_in(db, world["sindaco5"], meeting.id, PINEROLO)
        await act(db, attendance.do_check_out, world["sindaco5"], meeting.id)
    async with db.session() as session:
        rows = list(
            await session.scalars(select(Attendance).where(Attendance.meeting_id == meeting.id))
        )
    assert len(rows) == 1
