"""How far each person has read each thread, and what is unread for them.

Domain code: no Starlette here. A :class:`~collab.forums.models.ThreadRead`
row holds the last post a person has seen of a thread (post ids only grow,
so "read up to N" is one number). A post is **unread** for someone when it
comes after that number, is not removed, and is not their own (nobody needs
to read what they wrote). A thread they never opened counts as new only when
its last activity is recent (:data:`NEW_WINDOW`) and came after their account
was created; older ones count as read, as Discourse does: a new account is
not greeted by years of "unread" threads.

Every list costs one grouped query whatever its length (no query per row).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from collab.forums.models import Post, Thread, ThreadRead
from collab.models import User, utcnow

__all__ = [
    "NEW_WINDOW",
    "ReadState",
    "first_unread",
    "last_read",
    "mark_read",
    "new_since",
    "thread_states",
    "unread_threads",
]

#: A thread never opened counts as new when its last activity is this recent.
NEW_WINDOW = timedelta(days=14)


@dataclass(frozen=True)
class ReadState:
    """What one person has not read of one thread."""

    unread: int  # posts by others after the last one read
    opened: bool  # False: never opened (then every post counts, if recent)

    @property
    def new(self) -> bool:
        """Never opened, with something to read: the "new" marker."""
        return not self.opened and self.unread > 0


def new_since(user: User, now: datetime | None = None) -> datetime:
    """Threads never opened with activity from this moment on count as new."""
    cutoff = (now or utcnow()) - NEW_WINDOW
    return max(cutoff, user.created_at) if user.created_at else cutoff


def _unread_post(user_id: int, after: Any) -> ColumnElement[bool]:
    """A post that ``user_id`` has not read: later than ``after``, visible, not theirs."""
    return and_(Post.deleted_at.is_(None), Post.author_id != user_id, Post.id > after)


async def mark_read(session: AsyncSession, user_id: int, thread_id: int, post_id: int) -> None:
    """Record that ``user_id`` has seen ``thread_id`` up to ``post_id``: one upsert
    that only ever moves forward (an older page seen later changes nothing).

    Part of the caller's transaction; the same statement on SQLite and PostgreSQL.
    """
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(ThreadRead).values(
        user_id=user_id, thread_id=thread_id, last_read_post_id=post_id, updated_at=utcnow()
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[ThreadRead.user_id, ThreadRead.thread_id],
            set_={
                "last_read_post_id": stmt.excluded.last_read_post_id,
                "updated_at": stmt.excluded.updated_at,
            },
            # Concurrent pages of one person: the larger id wins, whatever the order.
            where=ThreadRead.last_read_post_id < stmt.excluded.last_read_post_id,
        )
    )


async def last_read(session: AsyncSession, user_id: int, thread_id: int) -> int | None:
    """The last post ``user_id`` has seen of ``thread_id``; None: never opened."""
    value = await session.scalar(
        select(ThreadRead.last_read_post_id).where(
            ThreadRead.user_id == user_id, ThreadRead.thread_id == thread_id
        )
    )
    return None if value is None else int(value)


async def first_unread(
    session: AsyncSession, user: User, thread: Thread, read_up_to: int | None
) -> int | None:
    """The first post of ``thread`` that ``user`` has not read, or None when all is read.

    ``read_up_to`` is :func:`last_read`'s answer (the caller usually has it).
    A thread never opened whose activity is old counts as read.
    """
    if read_up_to is None and thread.last_activity_at < new_since(user):
        return None
    post_id = await session.scalar(
        select(func.min(Post.id)).where(
            Post.thread_id == thread.id, _unread_post(user.id, read_up_to or 0)
        )
    )
    return None if post_id is None else int(post_id)


async def thread_states(
    session: AsyncSession, user: User, threads: Iterable[Thread]
) -> dict[int, ReadState]:
    """The read state of each of ``threads`` (a page of a board), in one query."""
    by_id = {thread.id: thread for thread in threads}
    if not by_id:
        return {}
    read = ThreadRead
    rows = await session.execute(
        select(Thread.id, read.user_id.is_not(None), func.count(Post.id))
        .outerjoin(read, and_(read.thread_id == Thread.id, read.user_id == user.id))
        .outerjoin(
            Post,
            and_(
                Post.thread_id == Thread.id,
                _unread_post(user.id, func.coalesce(read.last_read_post_id, 0)),
            ),
        )
        .where(Thread.id.in_(by_id))
        .group_by(Thread.id, read.user_id)
    )
    since = new_since(user)
    states: dict[int, ReadState] = {}
    for thread_id, opened, count in rows:
        # Never opened and quiet for long: read, whatever it holds.
        old = not opened and by_id[thread_id].last_activity_at < since
        states[thread_id] = ReadState(unread=0 if old else int(count), opened=bool(opened))
    return states


async def unread_threads(
    session: AsyncSession,
    user: User,
    group: InstrumentedAttribute[int] | InstrumentedAttribute[int | None],
    where: ColumnElement[bool] | None = None,
) -> dict[int | None, int]:
    """How many threads hold something unread for ``user``, per ``group`` value
    (``Thread.theme_id`` on a zone page, ``Thread.zone_id`` on the home page),
    in one grouped query. Threads the user may not read are the caller's to
    leave out (``where``, or by not showing their group)."""
    read = ThreadRead
    unread_post = exists().where(
        Post.thread_id == Thread.id,
        _unread_post(user.id, func.coalesce(read.last_read_post_id, 0)),
    )
    stmt = (
        select(group, func.count())
        .select_from(Thread)
        .outerjoin(read, and_(read.thread_id == Thread.id, read.user_id == user.id))
        .where(
            or_(read.user_id.is_not(None), Thread.last_activity_at >= new_since(user)),
            unread_post,
        )
        .group_by(group)
    )
    if where is not None:
        stmt = stmt.where(where)
    return {key: int(count) for key, count in await session.execute(stmt)}
