"""The public follow-along page of a meeting: ``/m/<token>``, no account needed.

Read-only: the room's regions in mode ``public`` (no controls; no e-mail
addresses, nobody's ballot, not who checked a comune in: only comune names,
the chair's and the speakers' names, as a published verbale shows them), live
over ``/ws?public=<token>`` (see :mod:`collab.realtime.ws`). An unknown or
revoked token is a 404. The page is sent with ``Referrer-Policy: same-origin``
(:data:`REFERRER_POLICY`) so the token does not leak to the sites its links
lead to. Not ``no-referrer``: with it browsers send ``Origin: null`` on the
page's own form posts (the footer's language form), which the CSRF check
rightly refuses as cross-origin.

**Rate limit.** Page loads and public websocket opens share one sliding
window per client IP and per process (``Services.public_limiter``, a
:class:`collab.ratelimit.SlidingWindow`): at most ``PUBLIC_LIMIT`` in
``PUBLIC_WINDOW`` seconds (then 429 with the Italian error page, or close
code 4429 for a socket). It is in memory, so with N workers a client gets up
to N times the limit; it is there to stop one client from hammering the
unauthenticated endpoints, not to meter use.
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from collab import web
from collab.errors import NotFound
from collab.i18n import N_
from collab.meetings.models import Meeting
from collab.meetings.room import load_room
from collab.meetings.room_views import RoomView, Variant, region_context
from collab.realtime.events import meeting_topic
from collab.realtime.log import last_seqs
from collab.services import services
from collab.tokens import well_formed

__all__ = [
    "REFERRER_POLICY",
    "allow_public",
    "public_page",
]

NO_SUCH_LINK = N_("This public link does not exist or is no longer valid.")
REFERRER_POLICY = web.SECRET_URL_HEADERS  # the token stays on this site


def allow_public(conn: HTTPConnection) -> bool:
    """Count one public page load or socket open of this client; False when over."""
    return services(conn).public_limiter.allow(conn.client.host if conn.client else "")


async def meeting_of_token(conn: HTTPConnection, token: str) -> int | None:
    """The id of the meeting whose public link is ``token`` (None if none).

    A token not of the shape ours have is refused before the database (a NUL
    in it was a 500 on PostgreSQL, which refuses NUL in text)."""
    if not well_formed(token):
        return None
    async with web.db(conn).session() as session:
        meeting_id: int | None = await session.scalar(
            select(Meeting.id).where(Meeting.public_token == token)
        )
    return meeting_id


async def public_page(request: Request) -> Response:
    if not allow_public(request):
        return await web.error_response(request, 429)
    token: str = request.path_params["token"]
    meeting_id = await meeting_of_token(request, token)
    if meeting_id is None:
        raise NotFound(NO_SUCH_LINK)
    async with web.db(request).session() as session:
        topics = await last_seqs(session, [meeting_topic(meeting_id)])  # before the content
        room = await load_room(session, meeting_id)
    if room is None or room.meeting.public_token != token:
        raise NotFound(NO_SUCH_LINK)
    view = RoomView(room, Variant("public"), me=None, token=token)
    context = {**region_context(view, web.locale_of(request)), "live_topics": topics}
    return await web.render(request, "meetings/public.html", context, headers=REFERRER_POLICY)


def routes() -> list[BaseRoute]:
    """This module's URL map (built by ``create_app``, after the ``id`` convertor)."""
    return [Route("/m/{token}", public_page, methods=["GET"])]
