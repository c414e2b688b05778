"""The ``/search`` page: the query and its filters in the URL, results within
what the reader may read.

Without JavaScript the form submits to this same URL; with htmx the box
asks as one types and gets the results partial alone
(``templates/search/_results.html``, included by the page). A filter value
that names nothing (an unknown zone, theme, comune, a malformed date) is a
400 with the page and its message, and no search; the parameters are read
by :mod:`collab.search.params`, as for ``/api/v1/search``.
"""

from __future__ import annotations

from urllib.parse import urlencode

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collab import web
from collab.i18n import N_, translations
from collab.models import Theme, Zone
from collab.search.engine import Results
from collab.search.index import engine_for
from collab.search.params import BadFilter, raw_filters, read_filters
from collab.search.text import QueryError, parse_query

__all__ = ["routes"]

KIND_LABELS = {
    "thread": N_("Thread"),
    "post": N_("Message"),
    "consultation": N_("Consultation"),
    "contribution": N_("Contribution"),
    "meeting": N_("Meeting"),
    "verbale": N_("Minutes"),
    "document": N_("Forms library"),
}


async def search_page(request: Request) -> Response:
    """``GET /search``: the page, or its results alone for htmx."""
    user = await web.current_user(request)
    params = request.query_params
    q = params.get("q", "")
    raw = raw_filters(params)
    gettext = translations(web.locale_of(request)).gettext
    results: Results | None = None
    message, status = None, 200
    async with web.db(request).session() as session:
        try:
            filters = await read_filters(session, raw)
            if q:
                # As one types (htmx), the last word may be unfinished.
                query = parse_query(q, prefix=web.is_htmx(request))
                results = await engine_for(session).search(
                    session, user, query, filters, web.page_number(request)
                )
        except BadFilter as exc:
            message, status = gettext(str(exc)), 400
        except QueryError as exc:
            # Past the bounds: a request no search box sends. Else: say what to type.
            message, status = gettext(exc.message) % exc.params, 400 if exc.bound else 200
        zones = list(await session.scalars(select(Zone).order_by(Zone.number)))
        themes = list(await session.scalars(select(Theme).order_by(Theme.position)))
        names = {z.id: z for z in zones}, {t.id: t for t in themes}
    context = {
        "q": q, "raw": raw, "results": results, "message": message, "zones": zones,
        "themes": themes, "zone_of": names[0], "theme_of": names[1], "kinds": KIND_LABELS,
        "base": _base_url(q, raw),
    }  # fmt: skip
    template = "search/_results.html" if web.is_htmx(request) else "search/search.html"
    return await web.render(request, template, context, status_code=status)


def _base_url(q: str, raw: dict[str, str]) -> str:
    """The URL of this search without its page (for the pager)."""
    kept = {"q": q, **{k: v for k, v in raw.items() if v}}
    return "/search?" + urlencode(kept)


def routes() -> list[Route]:
    return [Route("/search", search_page, methods=["GET"])]
