"""Forum reads: summaries for the home and zone pages, paginated lists."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from collab.documents.files import files_of
from collab.documents.models import StoredFile
from collab.forums.models import Post, Thread
from collab.models import Comune, Theme, Zone
from collab.prepared import Prepared

__all__ = [
    "POSTS_PER_PAGE",
    "RECENT_THREADS",
    "THREADS_PER_PAGE",
    "BoardSummary",
    "Page",
    "board_summaries",
    "page_span",
    "paginate",
    "post_files",
    "post_position",
    "recent_threads",
    "zone_summaries",
    "zone_summary",
]

THREADS_PER_PAGE = 20
RECENT_THREADS = 10
POSTS_PER_PAGE = 20
T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    number: int
    pages: int
    total: int

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


async def page_span(
    session: AsyncSession, stmt: Select[Any], number: int, per_page: int
) -> tuple[int, int, int]:
    """The page number asked for, kept within the pages of ``stmt`` (past the
    end: the last), how many pages there are and how many rows."""
    total = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    total = total or 0
    pages = max(1, math.ceil(total / per_page))
    return min(max(1, number), pages), pages, total


async def paginate(session: AsyncSession, stmt: Select[T], number: int, per_page: int) -> Page[T]:
    """One page of ``stmt``; a page number past the end gives the last page."""
    number, pages, total = await page_span(session, stmt, number, per_page)
    items = (await session.scalars(stmt.limit(per_page).offset((number - 1) * per_page))).all()
    return Page(items=items, number=number, pages=pages, total=total)


@dataclass(frozen=True)
class BoardSummary:
    """Thread count and latest activity of a zone (or a zone's theme)."""

    thread_count: int
    last_activity_at: datetime | None
    last_thread: Thread | None


async def _summaries(
    session: AsyncSession,
    group: InstrumentedAttribute[int] | InstrumentedAttribute[int | None],
    where: ColumnElement[bool] | None,
) -> dict[int | None, BoardSummary]:
    """Thread count and latest thread per ``group`` value, in one query."""
    order = (Thread.last_activity_at.desc(), Thread.id.desc())
    ranked = select(
        Thread.id.label("tid"),
        group.label("grp"),
        func.row_number().over(partition_by=group, order_by=order).label("rn"),
        func.count().over(partition_by=group).label("cnt"),
    )
    if where is not None:
        ranked = ranked.where(where)
    sub = ranked.subquery()
    rows = await session.execute(
        select(Thread, sub.c.grp, sub.c.cnt).join(sub, sub.c.tid == Thread.id).where(sub.c.rn == 1)
    )
    return {grp: BoardSummary(cnt, thread.last_activity_at, thread) for thread, grp, cnt in rows}


async def zone_summaries(
    session: AsyncSession,
) -> tuple[list[tuple[Zone, int]], dict[int | None, BoardSummary]]:
    """All zones with their comuni count, and per-zone summaries (key None = metropolitan)."""
    zones = (
        await session.execute(
            select(Zone, func.count(Comune.id))
            .outerjoin(Comune, Comune.zone_id == Zone.id)
            .group_by(Zone.id)
            .order_by(Zone.number)
        )
    ).all()
    return [(z, n) for z, n in zones], await _summaries(session, Thread.zone_id, None)


async def zone_summary(session: AsyncSession, zone_id: int | None) -> BoardSummary | None:
    """One zone's (or the metropolitan area's) summary, as on the home page."""
    where = Thread.zone_id.is_(None) if zone_id is None else Thread.zone_id == zone_id
    return (await _summaries(session, Thread.zone_id, where)).get(zone_id)


async def board_summaries(
    session: AsyncSession, zone_id: int | None
) -> tuple[Sequence[Theme], dict[int | None, BoardSummary]]:
    """Active themes in order, with per-theme summaries for one zone (None = metropolitan)."""
    themes = (
        await session.scalars(
            select(Theme).where(Theme.active).order_by(Theme.position, Theme.name)
        )
    ).all()
    where = Thread.zone_id.is_(None) if zone_id is None else Thread.zone_id == zone_id
    return themes, await _summaries(session, Thread.theme_id, where)


async def zone_comuni(session: AsyncSession, zone_id: int | None) -> Sequence[Comune]:
    if zone_id is None:
        return []
    return (
        await session.scalars(select(Comune).where(Comune.zone_id == zone_id).order_by(Comune.name))
    ).all()


def _board_filter(stmt: Select[Thread], zone_id: int | None) -> Select[Thread]:
    return stmt.where(Thread.zone_id.is_(None) if zone_id is None else Thread.zone_id == zone_id)


async def recent_threads(
    session: AsyncSession, zone_id: int | None, limit: int = RECENT_THREADS
) -> Sequence[Thread]:
    stmt = _board_filter(select(Thread), zone_id)
    return (await session.scalars(stmt.order_by(Thread.last_activity_at.desc()).limit(limit))).all()


async def board_threads(
    session: AsyncSession, zone_id: int | None, theme_id: int, number: int
) -> Page[Thread]:
    """Threads of a board: pinned first, then by latest activity."""
    stmt = _board_filter(select(Thread), zone_id).where(Thread.theme_id == theme_id)
    stmt = stmt.order_by(Thread.pinned.desc(), Thread.last_activity_at.desc(), Thread.id.desc())
    return await paginate(session, stmt, number, THREADS_PER_PAGE)


async def thread_posts(session: AsyncSession, thread_id: int, number: int) -> Page[Post]:
    """Posts of a thread in order; removed posts keep their place (as a notice).

    The page's ids are picked in a subquery from the ``(thread_id, id)`` index
    alone, then only those posts are read with their authors: an ``OFFSET``
    over the posts themselves makes the database join each skipped post's
    author and remover, with their comuni and zones (the eager loads), before
    dropping it, so that the last page of a 5,000-post thread cost twice the
    first. Page numbers and permalinks are unchanged (:func:`post_position`).
    """
    ids = select(Post.id).where(Post.thread_id == thread_id)
    number, pages, total = await page_span(session, ids, number, POSTS_PER_PAGE)
    ids = ids.order_by(Post.id).limit(POSTS_PER_PAGE).offset((number - 1) * POSTS_PER_PAGE)
    stmt = select(Post).where(Post.id.in_(ids.scalar_subquery())).order_by(Post.id)
    posts = (await session.scalars(stmt)).all()
    return Page(items=posts, number=number, pages=pages, total=total)


_POSITIONS = "collab.forums.post_positions"  # key of ``Session.info``: post id -> posts before


# The posts before one in its thread; built once (every reply counts).
_BEFORE = Prepared(
    select(func.count()).where(Post.thread_id == bindparam("thread_id"), Post.id < bindparam("id"))
)


async def post_position(session: AsyncSession, post: Post) -> int:
    """The page of its thread on which ``post`` appears.

    Counted once per session: a post's place never changes (posts are never
    deleted, removed ones keep their place, ids only grow), and a reply asks
    twice in its transaction (its notifications' link, then its redirect).
    """
    known: dict[int, int] = session.info.setdefault(_POSITIONS, {})
    before = known.get(post.id)
    if before is None:
        before = await _BEFORE.scalar(session, {"thread_id": post.thread_id, "id": post.id})
        before = known[post.id] = before or 0
    return before // POSTS_PER_PAGE + 1


async def post_files(session: AsyncSession, posts: Sequence[Post]) -> dict[int, list[StoredFile]]:
    """The attachments of ``posts`` by post id, in one query (a page of posts, or one)."""
    return await files_of(session, "post_id", [post.id for post in posts])
