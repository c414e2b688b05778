"""A person's page (``/people/{id}``), where a mention links: who they are and
the threads they recently wrote in that the viewer may read."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Select, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from collab import web
from collab.errors import NotFound
from collab.forums.models import Post, Thread
from collab.i18n import N_
from collab.models import User, Zone
from collab.permissions import Action, can

__all__ = ["RECENT", "person_page", "recent_threads", "threads_statement"]

RECENT = 10  # threads on a person's page


async def _readable(session: AsyncSession, viewer: User) -> ColumnElement[bool]:
    """The threads ``viewer`` may read, as a condition on ``Thread``."""
    zone_ids = (await session.scalars(select(Zone.id))).all()
    readable = [zone_id for zone_id in zone_ids if can(viewer, Action.READ, zone_id)]
    where: ColumnElement[bool] = Thread.zone_id.in_(readable) if readable else false()
    if can(viewer, Action.READ, None):
        where = or_(where, Thread.zone_id.is_(None))
    return where


async def threads_statement(session: AsyncSession, viewer: User, author_id: int) -> Select[Thread]:
    """The query of :func:`recent_threads`. It reads ``author_id``'s live posts
    through their own index (``ix_post_author_thread_live``, migration 0017),
    not every post of the database."""
    latest = (
        select(Post.thread_id, func.max(Post.id).label("last"))
        .where(Post.author_id == author_id, Post.deleted_at.is_(None))
        .group_by(Post.thread_id)
        .subquery()
    )
    return (
        select(Thread)
        .join(latest, latest.c.thread_id == Thread.id)
        .where(await _readable(session, viewer))
        .order_by(latest.c.last.desc())
        .limit(RECENT)
    )


async def recent_threads(session: AsyncSession, viewer: User, author_id: int) -> Sequence[Thread]:
    """The :data:`RECENT` threads ``author_id`` last wrote in (a visible post)
    that ``viewer`` may read, the latest first."""
    return (await session.scalars(await threads_statement(session, viewer, author_id))).all()


async def person_page(request: Request) -> Response:
    """``GET /people/{id}``: logged-in users only; 404 for an unknown or inactive id."""
    viewer = await web.require_user(request)
    async with web.db(request).session() as session:
        person = await session.get(User, request.path_params["id"])
        if person is None or not person.active:
            raise NotFound(N_("This person does not exist."))
        threads = await recent_threads(session, viewer, person.id)
    return await web.render(request, "forums/person.html", {"person": person, "threads": threads})
