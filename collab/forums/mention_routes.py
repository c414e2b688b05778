"""Mentions on the web: the autocomplete, and what the author is told after posting.

The autocomplete (``static/js/mentions.js`` asks it) answers a listbox of the
people who may read the thread, or the board a thread is being started on;
the permission is checked on every request, as the thread page does. Without
JavaScript nobody asks it: people type ``@**Full Name**`` by hand.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from collab import web
from collab.errors import NotFound, PermissionDenied
from collab.forums import actions, mentions
from collab.forums.models import Post, Thread
from collab.i18n import N_, translations
from collab.models import User, Zone
from collab.permissions import Action, can

__all__ = [
    "BEYOND_LIMIT",
    "board_suggestions",
    "notice_after_post",
    "notice_after_thread",
    "pop_notice",
    "remember_notice",
    "thread_suggestions",
]

QUERY_CHARS = 60
NOTICE_KEY = "mention_notice"
BEYOND_LIMIT = N_(
    "Only %(limit)d of the %(count)d people you mentioned are notified (the limit per "
    "message); the others are linked but not told."
)


def _query(request: Request) -> str:
    return request.query_params.get("q", "").lstrip("@").strip()[:QUERY_CHARS]


async def _options(request: Request, zone_id: int | None, user: User) -> Response:
    query = _query(request)
    async with web.db(request).session() as session:
        people = await mentions.suggest(session, zone_id, query, exclude=user.id) if query else []
    return await web.render(request, "forums/_mention_options.html", {"people": people})


async def thread_suggestions(request: Request) -> Response:
    """``GET /threads/{id}/mentions?q=``: people who may read the thread."""
    user = await web.require_user(request)
    async with web.db(request).session() as session:
        thread = await actions.get_readable_thread(session, user, request.path_params["id"])
    return await _options(request, thread.zone_id, user)


async def board_suggestions(request: Request) -> Response:
    """``GET /zones/{number}/{theme}/mentions?q=`` (or ``/metro/{theme}/...``):
    people who may read a thread started on that board."""
    user = await web.require_user(request)
    number = request.path_params.get("number")
    async with web.db(request).session() as session:
        zone_id = None
        if number is not None:
            zone_id = await session.scalar(select(Zone.id).where(Zone.number == number))
            if zone_id is None:
                raise NotFound(N_("This zone does not exist."))
        if not can(user, Action.READ, zone_id):
            raise PermissionDenied(N_("You are not allowed to see this zone's boards."))
        await actions.get_theme(session, request.path_params["theme"])
    return await _options(request, zone_id, user)


# --- telling the author --------------------------------------------------------------


def notice_after_post(request: HTTPConnection, html: str, author_id: int) -> str | None:
    """The author's notice when a saved post links more people than it may
    notify (``MENTION_LIMIT``); None when it does not."""
    limit = web.settings(request).mention_limit
    beyond = mentions.beyond_limit(html, author_id, limit)
    if not beyond:
        return None
    text = translations(web.locale_of(request)).gettext(BEYOND_LIMIT)
    return text % {"limit": limit, "count": limit + beyond}


async def notice_after_thread(
    request: HTTPConnection, session: AsyncSession, thread: Thread
) -> str | None:
    """:func:`notice_after_post` for the first post of a thread just started."""
    html = await session.scalar(
        select(Post.html).where(Post.thread_id == thread.id).order_by(Post.id).limit(1)
    )
    return notice_after_post(request, html or "", thread.author_id)


def remember_notice(request: HTTPConnection, notice: str | None) -> None:
    """Keep ``notice`` for the page a redirect leads to (see :func:`pop_notice`)."""
    if notice:
        request.session[NOTICE_KEY] = notice


def pop_notice(request: HTTPConnection) -> str | None:
    """The notice kept for this page, once."""
    notice = request.session.pop(NOTICE_KEY, None) if "session" in request.scope else None
    return notice if isinstance(notice, str) else None
