"""Pages of what each person tracks: where they stopped reading a thread, and
what they follow (a thread, a theme in a zone, a theme's library).

The domain is in :mod:`collab.forums.reads` and :mod:`collab.forums.follows`;
these handlers parse, check the reader's right on every request, and answer
htmx with a partial or a plain form post with a redirect back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from collab import web
from collab.documents import library
from collab.errors import ActionError, NotFound, PermissionDenied
from collab.forums import actions, follows, queries, reads
from collab.forums.boards import Board
from collab.forums.models import Post, Thread
from collab.i18n import N_
from collab.models import Theme, User, Zone
from collab.notifications.models import FollowLevel
from collab.permissions import Action, can

__all__ = [
    "ThreadReading",
    "follow_library_theme",
    "follow_theme",
    "follow_thread",
    "read_post",
    "record_view",
    "theme_follow_context",
    "thread_reading",
    "unread",
]


@dataclass(frozen=True)
class ThreadReading:
    """What a thread page needs of its reader's progress, read before the page
    records its own view (so the separator marks what was unread on arrival)."""

    thread_id: int
    last_read: int | None  # None: never opened
    first_unread: int | None  # thread-wide; None: all read
    first_unread_url: str | None  # the jump link ("#post-N" when on this page)
    shown_max: int | None  # the largest post id on the page shown
    follow_level: FollowLevel | None

    def context(self) -> dict[str, Any]:
        return {
            "first_unread": self.first_unread,
            "first_unread_url": self.first_unread_url,
            "follow_level": self.follow_level.value if self.follow_level else follows.DEFAULT,
            "follow_levels": follows.LEVELS,
        }


async def _page_of(session: AsyncSession, thread_id: int, post_id: int) -> int:
    before = await session.scalar(
        select(func.count()).where(Post.thread_id == thread_id, Post.id < post_id)
    )
    return (before or 0) // queries.POSTS_PER_PAGE + 1


async def thread_reading(
    session: AsyncSession, user: User, thread: Thread, page: queries.Page[Post]
) -> ThreadReading:
    """The reader's progress in ``thread`` as the ``page`` of it is shown."""
    last = await reads.last_read(session, user.id, thread.id)
    first = await reads.first_unread(session, user, thread, last)
    url = None
    if first is not None:
        on_page = any(post.id == first for post in page.items)
        number = page.number if on_page else await _page_of(session, thread.id, first)
        url = f"#post-{first}" if on_page else f"/threads/{thread.id}?page={number}#post-{first}"
    shown = max((post.id for post in page.items), default=None)
    level = await follows.thread_level(session, user.id, thread.id)
    return ThreadReading(thread.id, last, first, url, shown, level)


async def record_view(request: Request, user: User, reading: ThreadReading) -> None:
    """The page was shown: its posts are read. Writes only when it moves forward."""
    if reading.shown_max is None or reading.shown_max <= (reading.last_read or 0):
        return
    async with web.db(request).transaction() as uow:
        await reads.mark_read(uow.session, user.id, reading.thread_id, reading.shown_max)


async def unread(request: Request) -> Response:
    """``/threads/{id}/unread``: to the first unread post, or the last one when all is read."""
    user = await web.require_user(request)
    async with web.db(request).session() as session:
        thread = await actions.get_readable_thread(session, user, request.path_params["id"])
        last = await reads.last_read(session, user.id, thread.id)
        target = await reads.first_unread(session, user, thread, last)
        if target is None:
            target = await session.scalar(
                select(func.max(Post.id)).where(Post.thread_id == thread.id)
            )
        if target is None:  # a thread always has its first post; be safe anyway
            return web.redirect(request, f"/threads/{thread.id}")
        number = await _page_of(session, thread.id, target)
    return web.redirect(request, f"/threads/{thread.id}?page={number}#post-{target}")


async def read_post(request: Request) -> Response:
    """``POST /threads/{id}/read`` with ``post``: a post shown live was seen."""
    user = await web.require_user(request)
    raw = web.field(await web.form(request), "post")
    thread_id = request.path_params["id"]
    async with web.db(request).transaction() as uow:
        await actions.get_readable_thread(uow.session, user, thread_id)
        post_id = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 12 else None
        found = post_id is not None and await uow.session.scalar(
            select(Post.id).where(Post.id == post_id, Post.thread_id == thread_id)
        )
        if not found or post_id is None:
            raise ActionError(N_("This message is not in this thread."), field="post")
        await reads.mark_read(uow.session, user.id, thread_id, post_id)
    return Response(status_code=204)


async def follow_thread(request: Request) -> Response:
    """``POST /threads/{id}/follow`` with ``level`` = default, watching or muted."""
    user = await web.require_user(request)
    raw = web.field(await web.form(request), "level")
    async with web.db(request).transaction() as uow:
        thread = await actions.get_readable_thread(uow.session, user, request.path_params["id"])
        level = follows.check_level(raw)
        await follows.do_set_level(uow, user.id, thread.id, level)
    if web.is_htmx(request):
        context = {"thread": thread, "follow_level": raw, "follow_levels": follows.LEVELS}
        return await web.render(request, "forums/_follow.html", context)
    return web.redirect(request, f"/threads/{thread.id}")


async def _zone_of(session: AsyncSession, request: Request, user: User) -> Zone | None:
    """The board's zone from the URL (None: metropolitan), if the user may read it."""
    number = request.path_params.get("number")
    zone = None
    if number is not None:
        zone = await session.scalar(select(Zone).where(Zone.number == number))
        if zone is None:
            raise NotFound(N_("This zone does not exist."))
    if not can(user, Action.READ, zone.id if zone else None):
        raise PermissionDenied(N_("You are not allowed to see this zone's boards."))
    return zone


def theme_follow_context(url: str, following: bool) -> dict[str, Any]:
    """What ``forums/_theme_follow.html`` needs: where it posts, and the state."""
    return {"theme_follow_url": url, "following_theme": following}


async def _toggle_theme(
    request: Request, user: User, theme: Theme, zone_id: int | None, back: str
) -> Response:
    follow = follows.check_theme_follow(web.field(await web.form(request), "follow"))
    async with web.db(request).transaction() as uow:
        await follows.do_follow_theme(uow, user.id, theme.id, zone_id, follow)
    if web.is_htmx(request):
        context = theme_follow_context(f"{back}/follow", follow)
        return await web.render(request, "forums/_theme_follow.html", context)
    return web.redirect(request, back)


async def follow_theme(request: Request) -> Response:
    """``POST /zones/{n}/{theme}/follow`` and ``/metro/{theme}/follow`` with ``follow`` 1 or 0."""
    user = await web.require_user(request)
    async with web.db(request).session() as session:
        board = Board(await _zone_of(session, request, user))
        theme = await actions.get_theme(session, request.path_params["theme"])
    return await _toggle_theme(request, user, theme, board.zone_id, board.theme_url(theme))


async def follow_library_theme(request: Request) -> Response:
    """``POST /library/{theme}/follow``: the same choice as the metropolitan board's."""
    user = await web.require_user(request)
    if not library.may_read(user):
        raise PermissionDenied(N_("You are not allowed to read the library."))
    async with web.db(request).session() as session:
        theme = await actions.get_theme(session, request.path_params["theme"])
    return await _toggle_theme(request, user, theme, None, f"/library/{theme.slug}")
