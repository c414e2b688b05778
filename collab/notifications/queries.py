"""Reading notifications: the bell's count and the notifications page.

Domain code: no Starlette here.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from collab.forums.queries import Page, paginate
from collab.notifications.models import Notification

__all__ = ["PAGE_SIZE", "notifications_page", "unread_count"]

PAGE_SIZE = 30


async def unread_count(session: AsyncSession, user_id: int) -> int:
    """What the bell shows (the index on ``(user_id, read_at)`` answers it)."""
    count = await session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )
    return int(count or 0)


async def notifications_page(
    session: AsyncSession, user_id: int, number: int, unread_only: bool = False
) -> Page[Notification]:
    """One page of ``user_id``'s notifications, newest first."""
    query = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    query = query.order_by(Notification.created_at.desc(), Notification.id.desc())
    return await paginate(session, query, number, PAGE_SIZE)
