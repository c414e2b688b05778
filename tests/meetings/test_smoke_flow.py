"""The whole meeting through the actions: convene, attend, speak, vote, close, verbale."""

from __future__ import annotations

from collab.db import Database
from collab.meetings import actions, attendance, floor, minutes, voting
from collab.meetings.room import load_room
from tests.conftest import World
from tests.meetings.scene import comune_id, convene


async def test_meeting_from_convening_to_verbale(db: Database, world: World) -> None:
    staff, mayor, chair = world["staff"], world["sindaco5"], world["portavoce5"]
    meeting = await convene(db, staff, (5,))
    pinerolo = await comune_id(db, "001191")
    cumiana = await comune_id(db, "001097")
    async with db.transaction() as uow:
        await actions.do_open(uow, chair, meeting.id)
    async with db.transaction() as uow:
        await attendance.do_check_in(uow, mayor, meeting.id, pinerolo)
    async with db.transaction() as uow:
        await attendance.do_check_in(uow, chair, meeting.id, cumiana)
    async with db.transaction() as uow:
        request = await floor.do_raise_hand(uow, mayor, meeting.id)
    async with db.transaction() as uow:
        await floor.do_grant_floor(uow, chair, meeting.id, request.id)
    async with db.transaction() as uow:
        await floor.do_end_floor(uow, mayor, meeting.id)
    async with db.session() as session:
        room = await load_room(session, meeting.id)
    assert room is not None and room.current_item is not None
    async with db.transaction() as uow:
        await floor.do_save_notes(uow, chair, meeting.id, room.current_item.id, "Discusso.")
    async with db.transaction() as uow:
        vote = await voting.do_open_vote(uow, chair, meeting.id, "Parere favorevole sul PSM")
    async with db.transaction() as uow:
        await voting.do_cast_ballot(uow, mayor, meeting.id, vote.id, "favorevole")
    async with db.transaction() as uow:
        await voting.do_cast_ballot(uow, chair, meeting.id, vote.id, "contrario")
    async with db.transaction() as uow:
        closed = await voting.do_close_vote(uow, chair, meeting.id, vote.id)
    assert closed.result is not None
    assert closed.result["favorevoli"] == ["Pinerolo"]
    async with db.transaction() as uow:
        await minutes.do_close(uow, chair, meeting.id)
    async with db.session() as session:
        room = await load_room(session, meeting.id)
    assert room is not None and room.verbale is not None
    source = room.verbale.source
    assert "1 favorevole (Pinerolo)" in source
    assert "1 contrario (Cumiana)" in source
    assert "Discusso." in source
