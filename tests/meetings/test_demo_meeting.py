"""The demo's meeting (collab/demo.py) can be run to a vote that counts: its
body's comuni have enough voting members among the demo users to reach the
quorum, and its chair presides. The demo has a body of people too."""

from __future__ import annotations

from sqlalchemy import select

from collab.db import Database
from collab.demo import ASSEMBLY, COMMISSION, DEMO_USERS, load_demo
from collab.meetings import actions, attendance, voting
from collab.meetings.models import BodyKind, BodyMember, Majority, Meeting, VotingBody
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
    chair = users["staff@demo.collab.it"]
    async with db.transaction() as uow:
        await actions.do_open(uow, chair, meeting.id)
    room = await _room(db, meeting.id)
    assert room.body is not None and room.body.name == ASSEMBLY
    assert room.body.majority == Majority.DOUBLE
    assert room.meeting.vice_chair_id == users["portavoce.pinerolese@demo.collab.it"].id
    assert all(c.population for c in room.comuni)  # a double majority can be counted
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
        vote = await voting.do_open_vote(uow, chair, meeting.id, "Parere favorevole sul PSM")
    for n, user in enumerate(voters.values()):
        async with db.transaction() as uow:
            choice = "contrario" if n == 0 else "favorevole"
            await voting.do_cast_ballot(uow, user, meeting.id, vote.id, choice)
    async with db.transaction() as uow:
        closed = await voting.do_close_vote(uow, chair, meeting.id, vote.id)
    assert closed.result is not None
    outcome = thaw(closed.result)
    assert outcome.quorum_held and closed.approved
    assert (len(outcome.favorevoli), len(outcome.contrari)) == (len(voters) - 1, 1)
    assert outcome.population_for is not None  # counted by comuni and by population


async def test_the_demo_has_a_commission_of_named_people(db: Database) -> None:
    assert await load_demo(db)
    async with db.session() as session:
        body = await session.scalar(select(VotingBody).where(VotingBody.name == COMMISSION))
        assert body is not None and body.kind == BodyKind.PEOPLE
        members = list(
            await session.scalars(
                select(BodyMember)
                .where(BodyMember.body_id == body.id)
                .order_by(BodyMember.position)
            )
        )
    assert (members[0].user.email, members[0].title) == (
        "portavoce.pinerolese@demo.collab.it",
        "Consigliere delegato alla mobilità, presidente",
    )
    assert len(members) == 4 and all(m.title for m in members)
