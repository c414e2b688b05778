"""A person's calendar feed: every meeting of their zone (all meetings for
CMTo staff and admins) at a secret address a calendar app can subscribe to,
``/calendar/<token>.ics``, with no cookie. A new address replaces the old
one (which stops working at once); revoking removes it. Each zone has a
feed of its public meetings too, at a public address
(``/public/zones/<n>/meetings.ics``). Domain code: no Starlette here.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from collab.audit import audit
from collab.db import UnitOfWork
from collab.meetings.models import AgendaItem, Meeting, MeetingZone
from collab.models import User, Zone
from collab.tokens import new_token, well_formed

__all__ = [
    "MeetingRow",
    "do_new_calendar_token",
    "do_revoke_calendar_token",
    "feed_owner",
    "meetings_of_zones",
    "user_meetings",
]

MeetingRow = tuple[Meeting, list[AgendaItem], list[Zone]]


async def meetings_of_zones(
    session: AsyncSession, zone_ids: list[int] | None, *, public_only: bool = False
) -> list[MeetingRow]:
    """Every meeting convening any of ``zone_ids`` (None: every meeting), with
    its agenda and zones (three queries). ``public_only``: only those with a
    public link, the rule of :mod:`collab.meetings.public`."""
    stmt = select(Meeting).order_by(Meeting.starts_at, Meeting.id)
    if public_only:
        stmt = stmt.where(Meeting.public_token.is_not(None))
    if zone_ids is not None:
        convening = select(MeetingZone.meeting_id).where(MeetingZone.zone_id.in_(zone_ids))
        stmt = stmt.where(Meeting.id.in_(convening))
    meetings = list(await session.scalars(stmt))
    ids = [m.id for m in meetings]
    items: dict[int, list[AgendaItem]] = {i: [] for i in ids}
    for item in await session.scalars(select(AgendaItem).where(AgendaItem.meeting_id.in_(ids))):
        items[item.meeting_id].append(item)
    zones: dict[int, list[Zone]] = {i: [] for i in ids}
    rows = await session.execute(
        select(MeetingZone.meeting_id, Zone)
        .join(Zone, Zone.id == MeetingZone.zone_id)
        .where(MeetingZone.meeting_id.in_(ids))
    )
    for meeting_id, zone in rows:
        zones[meeting_id].append(zone)
    return [(m, items[m.id], zones[m.id]) for m in meetings]


async def user_meetings(session: AsyncSession, user: User) -> list[MeetingRow]:
    """The meetings ``user`` may see: their zone's, or all for CMTo roles."""
    if user.role.is_cmto:
        return await meetings_of_zones(session, None)
    if user.zone_id is None:
        return []
    return await meetings_of_zones(session, [user.zone_id])


async def feed_owner(session: AsyncSession, token: str) -> User | None:
    """The active user whose feed ``token`` opens, or None."""
    if not well_formed(token):
        return None  # what we hand out is URL-safe base64 (and PostgreSQL refuses NUL)
    user = await session.scalar(select(User).where(User.calendar_token == token))
    return user if user is not None and user.active else None


async def do_new_calendar_token(uow: UnitOfWork, user: User) -> str:
    """A new feed address for ``user``; the previous one stops working."""
    user.calendar_token = new_token()
    audit(uow.session, user, "user.calendar_feed_created", user)
    return user.calendar_token


async def do_revoke_calendar_token(uow: UnitOfWork, user: User) -> None:
    user.calendar_token = None
    audit(uow.session, user, "user.calendar_feed_revoked", user)
