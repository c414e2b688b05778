"""What anyone may see of the meetings, without an account.

Only meetings with a public link (``Meeting.public_token``: the chair gave one
and has not taken it away) and, of their verbali, only the published ones:
the same rule as ``/m/<token>`` and ``/m/<token>/verbale``, so these lists
never point at a page that would answer 404, and a private meeting, a draft
verbale or a zone's boards never show. Nothing here reads who attended or
voted: a listing names the meeting, its time, place, state and zones.

Domain code: no Starlette here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from collab.meetings.models import Meeting, MeetingState, MeetingZone, Verbale
from collab.models import Zone

__all__ = [
    "ONGOING",
    "PublicMeeting",
    "past_public",
    "public_listing",
    "published_verbali",
    "upcoming_counts",
    "upcoming_public",
]

ONGOING = (MeetingState.CONVOCATA, MeetingState.IN_CORSO)  # still to come, or under way


@dataclass(frozen=True)
class PublicMeeting:
    """A public meeting as listed: its convened zones and, once published, its verbale's date."""

    meeting: Meeting
    zones: list[Zone]
    verbale_published_at: datetime | None = None

    @property
    def url(self) -> str:
        return f"/m/{self.meeting.public_token}"

    @property
    def verbale_url(self) -> str | None:
        return f"{self.url}/verbale" if self.verbale_published_at else None


def _public(zone_id: int | None) -> Select[Meeting]:
    stmt = select(Meeting).where(Meeting.public_token.is_not(None))
    if zone_id is not None:
        convened = select(MeetingZone.meeting_id).where(MeetingZone.zone_id == zone_id)
        stmt = stmt.where(Meeting.id.in_(convened))
    return stmt


async def public_listing(session: AsyncSession, meetings: Sequence[Meeting]) -> list[PublicMeeting]:
    """``meetings`` with their zones (by number) and published verbale dates: two queries."""
    ids = [m.id for m in meetings]
    zones: dict[int, list[Zone]] = {i: [] for i in ids}
    convened = await session.execute(
        select(MeetingZone.meeting_id, Zone)
        .join(Zone, Zone.id == MeetingZone.zone_id)
        .where(MeetingZone.meeting_id.in_(ids))
        .order_by(Zone.number)
    )
    for meeting_id, zone in convened:
        zones[meeting_id].append(zone)
    verbali = await session.execute(
        select(Verbale.meeting_id, Verbale.published_at).where(
            Verbale.meeting_id.in_(ids), Verbale.published_at.is_not(None)
        )
    )
    published = {meeting_id: at for meeting_id, at in verbali}
    return [PublicMeeting(m, zones[m.id], published.get(m.id)) for m in meetings]


async def upcoming_public(
    session: AsyncSession, zone_id: int | None = None, limit: int | None = None
) -> list[PublicMeeting]:
    """Public meetings convened or in progress (of ``zone_id``, or of any zone), soonest first."""
    stmt = (
        _public(zone_id)
        .where(Meeting.state.in_(ONGOING))
        .order_by(Meeting.starts_at, Meeting.id)
        .limit(limit)
    )
    return await public_listing(session, list(await session.scalars(stmt)))


def past_public(zone_id: int | None = None) -> Select[Meeting]:
    """Public meetings (of ``zone_id``, or of any zone) that were held or cancelled,
    newest first (to paginate)."""
    return (
        _public(zone_id)
        .where(Meeting.state.not_in(ONGOING))
        .order_by(Meeting.starts_at.desc(), Meeting.id.desc())
    )


async def published_verbali(session: AsyncSession, zone_id: int, limit: int) -> list[PublicMeeting]:
    """The latest published verbali of ``zone_id``'s public meetings, newest first."""
    stmt = (
        _public(zone_id)
        .join(Verbale, Verbale.meeting_id == Meeting.id)
        .where(Verbale.published_at.is_not(None))
        .order_by(Verbale.published_at.desc(), Meeting.id.desc())
        .limit(limit)
    )
    return await public_listing(session, list(await session.scalars(stmt)))


async def upcoming_counts(session: AsyncSession) -> dict[int, int]:
    """How many public meetings each zone has convened or in progress, by zone id."""
    rows = await session.execute(
        select(MeetingZone.zone_id, func.count())
        .join(Meeting, Meeting.id == MeetingZone.meeting_id)
        .where(Meeting.public_token.is_not(None), Meeting.state.in_(ONGOING))
        .group_by(MeetingZone.zone_id)
    )
    return {zone_id: count for zone_id, count in rows}
