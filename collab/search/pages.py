"""The ``/search`` page: the query and its filters in the URL, results within
what the reader may read.

Without JavaScript the form submits to this same URL; with htmx the box
asks as one types and gets the results partial alone
(``templates/search/_results.html``, included by the page). A filter value
that names nothing (an unknown zone, theme, comune, a malformed date) is a
400 with the page and its message, and no search.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collab import web
from collab.bounds import EARLIEST, LATEST
from collab.i18n import N_, translations
from collab.models import Comune, Theme, User, Zone
from collab.search.documents import KINDS
from collab.search.engine import SORTS, Filters, Results
from collab.search.index import engine_for
from collab.search.text import QueryError, parse_query
from collab.templating import ROME

__all__ = ["routes"]

KIND_LABELS = {
    "thread": N_("Thread"),
    "post": N_("Message"),
    "consultation": N_("Consultation"),
    "contribution": N_("Contribution"),
    "meeting": N_("Meeting"),
    "verbale": N_("Minutes"),
}
FILTERS = ("kind", "zone", "theme", "comune", "author", "from", "to", "sort")


class BadFilter(ValueError):
    """A filter names nothing: its msgid, for the page."""


@dataclass
class Asked:
    """What the URL asks: the raw values (to fill the form again) and the filters."""

    q: str
    raw: dict[str, str]
    filters: Filters = field(default_factory=Filters)


def _day(raw: str) -> date:
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise BadFilter(N_("Give dates as year-month-day, e.g. 2026-03-31.")) from None
    if not EARLIEST <= day <= LATEST:
        raise BadFilter(N_("Give dates as year-month-day, e.g. 2026-03-31."))
    return day


def _rome_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=ROME)


async def _one(session: AsyncSession, column: Any, where: Any, message: str) -> int:
    found = await session.scalar(select(column).where(where))
    if found is None:
        raise BadFilter(message)
    return int(found)


async def _filters(session: AsyncSession, raw: dict[str, str]) -> Filters:
    """The filters of the URL; :class:`BadFilter` when one names nothing."""
    values: dict[str, Any] = {}
    if raw["kind"]:
        if raw["kind"] not in KINDS:
            raise BadFilter(N_("There is no such kind of result."))
        values["kind"] = raw["kind"]
    number = raw["zone"]
    if number:
        if not (number.isascii() and number.isdigit() and len(number) <= 3):
            raise BadFilter(N_("There is no such zone."))
        values["zone_id"] = await _one(
            session, Zone.id, Zone.number == int(number), N_("There is no such zone.")
        )
    if raw["theme"]:
        values["theme_id"] = await _one(
            session, Theme.id, Theme.slug == raw["theme"][:80], N_("There is no such theme.")
        )
    if raw["comune"]:
        values["comune_id"] = await _one(
            session,
            Comune.id,
            Comune.istat_code == raw["comune"][:6],
            N_("There is no such comune."),
        )
    author = raw["author"]
    if author:
        if not (author.isascii() and author.isdigit() and len(author) <= 9):
            raise BadFilter(N_("There is no such person."))
        values["author_id"] = await _one(
            session, User.id, User.id == int(author), N_("There is no such person.")
        )
    since = _day(raw["from"]) if raw["from"] else None
    until = _day(raw["to"]) if raw["to"] else None
    if since and until and since > until:
        raise BadFilter(N_("The first day comes after the last one."))
    if since:
        values["since"] = _rome_midnight(since)
    if until:
        values["until"] = _rome_midnight(until + timedelta(days=1))
    if raw["sort"]:
        if raw["sort"] not in SORTS:
            raise BadFilter(N_("Sort by relevance or by date."))
        values["sort"] = raw["sort"]
    return Filters(**values)


async def search_page(request: Request) -> Response:
    """``GET /search``: the page, or its results alone for htmx."""
    user = await web.current_user(request)
    params = request.query_params
    q = params.get("q", "")
    raw = {name: params.get(name, "").strip()[:100] for name in FILTERS}
    gettext = translations(web.locale_of(request)).gettext
    results: Results | None = None
    message, status = None, 200
    async with web.db(request).session() as session:
        try:
            filters = await _filters(session, raw)
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
