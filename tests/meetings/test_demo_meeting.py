"""The demo's meeting (collab/demo.py) can be run to a vote that counts: its
comuni have enough voting members among the demo users to reach the quorum."""

from __future__ import annotations

from sqlalchemy import select

from collab.db import Database
from collab.demo import DEMO_USERS, load_demo
from collab.meetings import actions, attendance, voting
from collab.meetings.models import Meeting
from collab.meetings.room import Room, load_room
from collab.meetings.rules import voting_comune
from collab.meetings.tally import thaw
from collab.models import User


async def _room(db: Database, meeting_id: int) -> Room:
    async with db.session() as session:
        room = await load_room(session, meeting_id)
    assert room is not None
    return room


async def test_the_demo_meeting_has_voters_enough_for_its_quorum(db: Database) -> None:
    assert await load_demo(db)
    async with db.session() as session:
        meeting = await session.scalar(select(Meeting).where(Meeting.public_token.is_not(None)))
        assert meeting is not None
        emails = [email for email, *_ in DEMO_USERS]
        users = {u.email: u for u in await session.scalars(select(User))}
    staff = users["staff@demo.collab.it"]
    async with db.transaction() as uow:
        await actions.do_open(uow, staff, meeting.id)
    room = await _room(db, meeting.id)
    voters = {
        comune: users[email]
        for email in emails
        if (comune := voting_comune(users[email], room.zone_ids, room.delegates)) is not None
    }
    # One voter for each comune of the convened zones: more than the quorum.
    assert set(voters) == {c.id for c in room.comuni}
    assert len(voters) >= room.quorum > 1

    for comune, user in voters.items():
        async with db.transaction() as uow:
            await attendance.do_check_in(uow, user, meeting.id, comune)
    assert (await _room(db, meeting.id)).quorum_held
    async with db.transaction() as uow:
        vote = await voting.do_open_vote(uow, staff, meeting.id, "Parere favorevole sul PSM")
    for n, user in enumerate(voters.values()):
        async with db.transaction() as uow:
            choice = "contrario" if n == 0 else "favorevole"
            await voting.do_cast_ballot(uow, user, meeting.id, vote.id, choice)
    async with db.transaction() as uow:
        closed = await voting.do_close_vote(uow, staff, meeting.id, vote.id)
    assert closed.result is not None
    outcome = thaw(closed.result)
    assert outcome.quorum_held and closed.approved
    assert (len(outcome.favorevoli), len(outcome.contrari)) == (len(voters) - 1, 1)
