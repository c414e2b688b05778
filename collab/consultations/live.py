"""Consultations, live: the topic kind ``consultation:N`` (members of an
addressed zone, staff and admins) and the frames of ``consultation.*`` and
``contribution.*`` events (:mod:`collab.consultations.frames`), which also
reach the boards of the addressed zones."""

from __future__ import annotations

from collab.consultations import rules
from collab.consultations.frames import ConsultationFrames
from collab.consultations.queries import consultation_zone_ids
from collab.db import Database
from collab.models import User
from collab.realtime.registry import LiveFeature, TopicKind, Zones

__all__ = ["feature"]


async def _zones(db: Database, consultation_id: int) -> Zones | None:
    """A consultation's zones are fixed when it is opened."""
    async with db.session() as session:
        zones = await consultation_zone_ids(session, consultation_id)
    return frozenset(zones) or None


def _may_follow(user: User, zones: Zones) -> bool:
    return rules.may_read(user, [z for z in zones if z is not None])


feature = LiveFeature(
    name="consultations",
    topics=(TopicKind("consultation", _zones, _may_follow),),
    frames={"consultation": ConsultationFrames, "contribution": ConsultationFrames},
)
