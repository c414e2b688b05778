"""Reading notifications: the bell's count and the notifications page.

Domain code: no Starlette here.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from collab.forums.queries import Page, paginate
from collab.models import Theme, TopicSeq, Zone
from collab.notifications.models import Notification

__all__ = [
    "PAGE_SIZE",
    "Place",
    "bell_state",
    "notifications_page",
    "place_names",
]

PAGE_SIZE = 30


# The bell of every page in one statement, built once: the last seq of the
# user's topic and the unread count, read in one snapshot (a single statement
# sees one), so the count can be no older than the seq it is sent with.
_BELL = select(
    select(TopicSeq.last_seq).where(TopicSeq.topic == bindparam("topic")).scalar_subquery(),
    select(func.count())
    .select_from(Notification)
    .where(Notification.user_id == bindparam("user_id"), Notification.read_at.is_(None))
    .scalar_subquery(),
)


async def bell_state(session: AsyncSession, user_id: int, topic: str) -> tuple[int, int]:
    """(last seq of ``topic``, 0 if none yet; ``user_id``'s unread notifications)."""
    row = (await session.execute(_BELL, {"topic": topic, "user_id": user_id})).one()
    return int(row[0] or 0), int(row[1] or 0)


async def notifications_page(
    session: AsyncSession, user_id: int, number: int, unread_only: bool = False
) -> Page[Notification]:
    """One page of ``user_id``'s notifications, newest first."""
    query = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    query = query.order_by(Notification.created_at.desc(), Notification.id.desc())
    return await paginate(session, query, number, PAGE_SIZE)


Place = tuple[int | None, int | None]  # (zone id, theme id)


async def place_names(
    session: AsyncSession, notifications: Sequence[Notification], locale: str
) -> dict[Place, str]:
    """ "Zone · Theme" of each (zone, theme) the notifications name, in ``locale``
    ("" when neither); two queries whatever their number."""
    zone_ids = {n.zone_id for n in notifications if n.zone_id is not None}
    theme_ids = {n.theme_id for n in notifications if n.theme_id is not None}
    zones = {
        z.id: z.label(locale)
        for z in (await session.scalars(select(Zone).where(Zone.id.in_(zone_ids)))).all()
    }
    themes = {
        t.id: t.label(locale)
        for t in (await session.scalars(select(Theme).where(Theme.id.in_(theme_ids)))).all()
    }
    return {
        (n.zone_id, n.theme_id): " · ".join(
            part
            for part in (zones.get(n.zone_id or 0, ""), themes.get(n.theme_id or 0, ""))
            if part
        )
        for n in notifications
    }
