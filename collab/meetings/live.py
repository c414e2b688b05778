"""Meetings, live: the topic kind ``meeting:N`` (members of a convened zone,
staff and admins; the chair, the vice chair and a body's members wherever
they are from; anyone with the meeting's public link) and the frames of
``meeting.*`` events (:mod:`collab.meetings.frames`)."""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import HTTPConnection

from collab.db import Database
from collab.meetings import room_public, rules
from collab.meetings.frames import MeetingFrames
from collab.meetings.models import BodyKind, BodyMember, Meeting, VotingBody
from collab.meetings.room import meeting_zone_ids
from collab.models import User
from collab.realtime.events import meeting_topic
from collab.realtime.registry import LiveFeature, TopicKind, Zones

__all__ = ["feature"]


async def _zones(db: Database, meeting_id: int) -> Zones | None:
    """A meeting's zones are fixed when it is convened."""
    async with db.session() as session:
        zones = await meeting_zone_ids(session, meeting_id)
    return frozenset(zones) or None


def _may_follow(user: User, zones: Zones) -> bool:
    return rules.may_read(user, [z for z in zones if z is not None])


async def _named(db: Database, user: User, meeting_id: int) -> bool:
    """Who follows the meeting outside its zones, as on its page
    (:func:`collab.meetings.actions.require_reader`): its chair and vice chair,
    and the active members of its body of people."""
    if not user.active:
        return False
    async with db.session() as session:
        meeting = await session.get(Meeting, meeting_id)
        if meeting is None:
            return False
        if user.id in (meeting.chair_id, meeting.vice_chair_id):
            return True
        if meeting.body_id is None:
            return False
        member = await session.scalar(
            select(BodyMember.id)
            .join(VotingBody, VotingBody.id == BodyMember.body_id)
            .where(
                BodyMember.body_id == meeting.body_id,
                BodyMember.user_id == user.id,
                BodyMember.active,
                VotingBody.kind == BodyKind.PEOPLE,
            )
        )
        return member is not None


async def _topic_of_token(conn: HTTPConnection, token: str) -> str | None:
    meeting_id = await room_public.meeting_of_token(conn, token)
    return None if meeting_id is None else meeting_topic(meeting_id)


feature = LiveFeature(
    name="meetings",
    topics=(TopicKind("meeting", _zones, _may_follow, public=_topic_of_token, named=_named),),
    frames={"meeting": MeetingFrames},
)
