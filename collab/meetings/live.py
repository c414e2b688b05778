"""Meetings, live: the topic kind ``meeting:N`` (members of a convened zone,
staff and admins; anyone with the meeting's public link) and the frames of
``meeting.*`` events (:mod:`collab.meetings.frames`)."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from collab.db import Database
from collab.meetings import room_public, rules
from collab.meetings.frames import MeetingFrames
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


async def _topic_of_token(conn: HTTPConnection, token: str) -> str | None:
    meeting_id = await room_public.meeting_of_token(conn, token)
    return None if meeting_id is None else meeting_topic(meeting_id)


feature = LiveFeature(
    name="meetings",
    topics=(TopicKind("meeting", _zones, _may_follow, public=_topic_of_token),),
    frames={"meeting": MeetingFrames},
)
