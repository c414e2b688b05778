"""What each person follows: a thread (watching or muted), a theme in a zone.

Domain code: no Starlette here. Without a :class:`ThreadFollow` row a person
hears of replies to a thread they started or replied to (the default);
``watching`` hears of every reply; ``muted`` hears of nothing from that
thread, not even a mention. A :class:`ThemeFollow` row says a person wants
to hear of new threads of a theme in a zone, or with ``zone_id`` None of the
metropolitan threads and the forms library of that theme.

The notifications code reads them through :func:`follow_levels` and
:func:`theme_followers`; the pages write them through the ``do_*`` actions,
whose caller has checked that the person may read the thread or the board.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from collab.db import UnitOfWork
from collab.errors import ActionError
from collab.i18n import N_
from collab.models import utcnow
from collab.notifications.models import FollowLevel, ThemeFollow, ThreadFollow

__all__ = [
    "DEFAULT",
    "LEVELS",
    "check_level",
    "check_theme_follow",
    "do_follow_theme",
    "do_set_level",
    "follow_levels",
    "follows_theme",
    "theme_followers",
    "thread_level",
]

#: The form value of "no explicit choice" (no row).
DEFAULT = "default"
#: What the thread's control may send, in the order it shows them.
LEVELS = (DEFAULT, FollowLevel.WATCHING.value, FollowLevel.MUTED.value)


def check_level(raw: str) -> FollowLevel | None:
    """The level a form sent (None: the default); anything else is refused (422)."""
    if raw == DEFAULT:
        return None
    try:
        return FollowLevel(raw)
    except ValueError:
        raise ActionError(
            N_("Choose how to follow the thread: default, watching or muted."), field="level"
        ) from None


def check_theme_follow(raw: str) -> bool:
    """The toggle's ``follow`` field: "1" follows, "0" stops following."""
    if raw not in ("0", "1"):
        raise ActionError(N_("Say whether to follow the theme or not."), field="follow")
    return raw == "1"


async def thread_level(session: AsyncSession, user_id: int, thread_id: int) -> FollowLevel | None:
    """One person's explicit choice for a thread (None: the default)."""
    return await session.scalar(
        select(ThreadFollow.level).where(
            ThreadFollow.user_id == user_id, ThreadFollow.thread_id == thread_id
        )
    )


async def do_set_level(
    uow: UnitOfWork, user_id: int, thread_id: int, level: FollowLevel | None
) -> None:
    """Set (or, with None, clear) one person's choice for a thread: one statement."""
    session = uow.session
    if level is None:
        await session.execute(
            delete(ThreadFollow).where(
                ThreadFollow.user_id == user_id, ThreadFollow.thread_id == thread_id
            )
        )
        return
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(ThreadFollow).values(
        user_id=user_id, thread_id=thread_id, level=level, created_at=utcnow()
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[ThreadFollow.user_id, ThreadFollow.thread_id],
            set_={"level": stmt.excluded.level},
        )
    )


def _theme_rows(user_id: int, theme_id: int, zone_id: int | None) -> list[ColumnElement[bool]]:
    zone = ThemeFollow.zone_id.is_(None) if zone_id is None else ThemeFollow.zone_id == zone_id
    return [ThemeFollow.user_id == user_id, ThemeFollow.theme_id == theme_id, zone]


async def follows_theme(
    session: AsyncSession, user_id: int, theme_id: int, zone_id: int | None
) -> bool:
    rows = _theme_rows(user_id, theme_id, zone_id)
    return (await session.scalar(select(ThemeFollow.id).where(*rows).limit(1))) is not None


async def do_follow_theme(
    uow: UnitOfWork, user_id: int, theme_id: int, zone_id: int | None, follow: bool
) -> None:
    """Follow a theme in a zone (None: metropolitan and library), or stop.

    The unique constraint does not hold for a NULL zone (NULLs differ in SQL),
    so the rows are deleted before one is written: following twice leaves one
    row. The DELETE takes the write lock first (SQLite) or the rows' locks
    (PostgreSQL); two simultaneous first follows could still write two rows on
    PostgreSQL, which :func:`theme_followers` counts once.
    """
    rows = _theme_rows(user_id, theme_id, zone_id)
    await uow.session.execute(delete(ThemeFollow).where(*rows))
    if follow:
        uow.session.add(ThemeFollow(user_id=user_id, theme_id=theme_id, zone_id=zone_id))


async def follow_levels(session: AsyncSession, thread_id: int) -> dict[int, FollowLevel]:
    """The explicit choices for a thread: user id -> watching or muted."""
    rows = await session.execute(
        select(ThreadFollow.user_id, ThreadFollow.level).where(ThreadFollow.thread_id == thread_id)
    )
    return {int(user_id): FollowLevel(level) for user_id, level in rows}


async def theme_followers(session: AsyncSession, theme_id: int, zone_id: int | None) -> list[int]:
    """Who follows ``theme_id`` in ``zone_id`` (None: its metropolitan threads
    and forms library), each once, in id order. Whether each may still read
    there is the caller's to check (a person may have moved zone since)."""
    zone = ThemeFollow.zone_id.is_(None) if zone_id is None else ThemeFollow.zone_id == zone_id
    rows = await session.scalars(
        select(ThemeFollow.user_id)
        .where(ThemeFollow.theme_id == theme_id, zone)
        .distinct()
        .order_by(ThemeFollow.user_id)
    )
    return [int(user_id) for user_id in rows]
