"""The meetings schema holds its invariants in the database itself, whatever
the code above it does: one ballot per comune per vote, one attendance per
comune and per person per meeting, one verbale per meeting."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from collab.db import Database
from collab.meetings.models import (
    Attendance,
    Ballot,
    Choice,
    Meeting,
    MeetingState,
    MeetingZone,
    Verbale,
    Vote,
)
from collab.models import utcnow
from tests.conftest import World


async def _meeting(db: Database, world: World) -> Meeting:
    async with db.transaction() as uow:
        meeting = Meeting(
            title="Giornata di sintesi",
            starts_at=utcnow() + timedelta(days=3),
            convened_by_id=world["staff"].id,
        )
        uow.session.add(meeting)
        await uow.session.flush()
        uow.session.add(MeetingZone(meeting_id=meeting.id, zone_id=world["sindaco5"].zone_id))
    return meeting


async def test_a_new_meeting_is_convened_with_defaults(db: Database, world: World) -> None:
    meeting = await _meeting(db, world)
    async with db.session() as session:
        stored = await session.get_one(Meeting, meeting.id)
        zones = (
            await session.scalars(
                select(MeetingZone.zone_id).where(MeetingZone.meeting_id == meeting.id)
            )
        ).all()
    assert stored.state is MeetingState.CONVOCATA
    assert stored.quorum is None and stored.public_token is None
    assert stored.convened_by.id == world["staff"].id
    assert list(zones) == [world["sindaco5"].zone_id]


async def test_a_comune_votes_once_per_vote(db: Database, world: World) -> None:
    meeting = await _meeting(db, world)
    mayor = world["sindaco5"]
    assert mayor.comune_id is not None
    async with db.transaction() as uow:
        vote = Vote(meeting_id=meeting.id, motion="Parere sul Piano strategico", quorum=1)
        uow.session.add(vote)
        await uow.session.flush()
        uow.session.add(
            Ballot(vote_id=vote.id, comune_id=mayor.comune_id, cast_by_id=mayor.id,
                   choice=Choice.FAVOREVOLE)
        )  # fmt: skip
    with pytest.raises(IntegrityError):
        async with db.transaction() as uow:
            uow.session.add(
                Ballot(vote_id=vote.id, comune_id=mayor.comune_id, cast_by_id=mayor.id,
                       choice=Choice.CONTRARIO)
            )  # fmt: skip
    async with db.session() as session:
        ballots = (await session.scalars(select(Ballot).where(Ballot.vote_id == vote.id))).all()
    assert [b.choice for b in ballots] == [Choice.FAVOREVOLE]  # the first one stands


@pytest.mark.parametrize("same", ["comune", "person"])
async def test_one_attendance_per_comune_and_per_person(
    db: Database, world: World, same: str
) -> None:
    meeting = await _meeting(db, world)
    mayor, chair = world["sindaco5"], world["portavoce5"]
    async with db.transaction() as uow:
        uow.session.add(
            Attendance(meeting_id=meeting.id, comune_id=mayor.comune_id, user_id=mayor.id,
                       voting=True)
        )  # fmt: skip
    second = (
        Attendance(meeting_id=meeting.id, comune_id=mayor.comune_id, user_id=chair.id)
        if same == "comune"
        else Attendance(meeting_id=meeting.id, comune_id=None, user_id=mayor.id)
    )
    with pytest.raises(IntegrityError):
        async with db.transaction() as uow:
            uow.session.add(second)


async def test_one_verbale_per_meeting(db: Database, world: World) -> None:
    meeting = await _meeting(db, world)
    async with db.transaction() as uow:
        uow.session.add(Verbale(meeting_id=meeting.id, source="Bozza", html="<p>Bozza</p>"))
    with pytest.raises(IntegrityError):
        async with db.transaction() as uow:
            uow.session.add(Verbale(meeting_id=meeting.id, source="Altra", html="<p>Altra</p>"))
