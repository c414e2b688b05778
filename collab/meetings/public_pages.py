"""A zone's public page, ``/public/zones/<n>``, and every zone's public meetings,
``/public/meetings``: for everyone, with or without an account.

Its public meetings (convened or in progress; then the past ones, a page at a
time), each linking its follow-along page ``/m/<token>``, and the latest
published verbali of those meetings (see :mod:`collab.meetings.public` for
what counts as public). The zone's boards stay behind the login; a user who
may read them gets a link there.
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from collab import web
from collab.errors import NotFound
from collab.forums.queries import paginate, zone_comuni
from collab.i18n import N_
from collab.meetings.public import (
    past_public,
    public_listing,
    published_verbali,
    upcoming_public,
)
from collab.models import Zone
from collab.permissions import Action, can

__all__ = [
    "PAST_PER_PAGE",
    "UPCOMING_SHOWN",
    "VERBALI_SHOWN",
    "public_meetings_page",
    "routes",
    "zone_public_page",
]

PAST_PER_PAGE = 20
VERBALI_SHOWN = 10
UPCOMING_SHOWN = 50  # of every zone: more are months ahead, on the zones' pages


async def zone_public_page(request: Request) -> Response:
    user = await web.current_user(request)
    async with web.db(request).session() as session:
        zone = await session.scalar(
            select(Zone).where(Zone.number == request.path_params["number"])
        )
        if zone is None:
            raise NotFound(N_("This zone does not exist."))
        upcoming = await upcoming_public(session, zone.id)
        page = await paginate(
            session, past_public(zone.id), web.page_number(request), PAST_PER_PAGE
        )
        past = await public_listing(session, page.items)
        verbali = await published_verbali(session, zone.id, VERBALI_SHOWN)
        comuni = await zone_comuni(session, zone.id)
    feed = f"{web.settings(request).base_url}/public/zones/{zone.number}/meetings.ics"
    context = {
        "zone": zone, "upcoming": upcoming, "past": past, "page": page, "verbali": verbali,
        "comuni": comuni, "may_read_boards": can(user, Action.READ, zone.id),
        "feed": feed, "feed_webcal": "webcal" + feed[feed.index(":") :],
    }  # fmt: skip
    return await web.render(request, "meetings/public_zone.html", context)


async def public_meetings_page(request: Request) -> Response:
    """Every zone's public meetings: those to come or under way (the soonest
    first), then the recent ones, held or cancelled (the latest first), a page
    at a time. Linked from the home page; for everyone."""
    async with web.db(request).session() as session:
        upcoming = await upcoming_public(session, limit=UPCOMING_SHOWN)
        page = await paginate(session, past_public(), web.page_number(request), PAST_PER_PAGE)
        past = await public_listing(session, page.items)
    return await web.render(
        request,
        "meetings/public_list.html",
        {"upcoming": upcoming, "upcoming_limit": UPCOMING_SHOWN, "past": past, "page": page},
    )


def routes() -> list[BaseRoute]:
    """This module's URL map (built by ``create_app``, after the ``id`` convertor)."""
    return [
        Route("/public/meetings", public_meetings_page, methods=["GET"]),
        Route("/public/zones/{number:id}", zone_public_page, methods=["GET"]),
    ]
