"""The API's URL map and handlers: GET only, the session cookie, JSON errors.

Permissions are the pages' own (:mod:`collab.consultations.rules`,
:func:`collab.permissions.can`). An anonymous request gets 401, not the
login redirect (except search, which finds public material as the page
does); an object the user may not read is a 404, so its existence
is not revealed; a list the user may not read is a 403. Error messages are
English msgids, translated to the request's locale.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from collab import web
from collab.api import queries, schema
from collab.api.serialize import (
    JSON,
    comune_json,
    consultation_json,
    contribution_json,
    document_json,
    file_json,
    hit_json,
    theme_json,
    zone_json,
)
from collab.consultations import queries as consultation_queries
from collab.consultations.models import Consultation, Contribution
from collab.consultations.rules import may_read
from collab.documents.files import files_of
from collab.documents.models import Document
from collab.i18n import N_, translations
from collab.models import Comune, Theme, User, Zone, utcnow
from collab.permissions import Action, can
from collab.search.engine import PER_PAGE, Results
from collab.search.index import engine_for
from collab.search.params import BadFilter, raw_filters, read_filters
from collab.search.text import QueryError, parse_query

__all__ = ["ApiError", "routes"]

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
PRIVATE = {"Cache-Control": "private, no-store"}

Handler = Callable[[Request], Awaitable[Response]]
Zones = dict[int, list[Zone]]


class ApiError(Exception):
    """Answered as ``{"error": <translated message>}`` with ``status``."""

    def __init__(self, status: int, message: str, params: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.params = params  # the message's %(name)s values, if it has any


NOT_FOUND = N_("Not found, or you may not read it.")


def endpoint(handler: Handler) -> Handler:
    """Turn an :class:`ApiError` raised by ``handler`` into a JSON error response."""

    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            text = translations(web.locale_of(request)).gettext(exc.message)
            if exc.params:
                text %= exc.params
            return JSONResponse({"error": text}, status_code=exc.status, headers=PRIVATE)

    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


async def _user(request: Request) -> User:
    user = await web.current_user(request)
    if user is None:
        raise ApiError(401, N_("Log in to use the API."))
    return user


def _number(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) < 10):
        raise ApiError(400, N_("Query parameters limit, before and after must be whole numbers."))
    return int(raw)


def _page(request: Request, cursor: str = "before") -> tuple[int, int | None]:
    """The page asked for: ``limit`` and the ``cursor`` parameter (the last
    item of the previous page)."""
    limit = _number(request, "limit")
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, N_("The limit must be between 1 and 200."))
    return limit or DEFAULT_LIMIT, _number(request, cursor)


def _json(payload: JSON) -> Response:
    return JSONResponse(payload, headers=PRIVATE)


async def _summaries(session: AsyncSession, rows: list[Consultation], zones: Zones) -> list[JSON]:
    ids = [c.id for c in rows]
    themes = await consultation_queries.themes_of(session, ids)
    counts = await consultation_queries.contribution_counts(session, ids)
    now = utcnow()
    return [
        consultation_json(c, zones=zones.get(c.id, []), themes=themes.get(c.id, []),
                          contribution_count=counts.get(c.id, 0), now=now)
        for c in rows
    ]  # fmt: skip


async def _readable(session: AsyncSession, user: User, request: Request) -> Consultation:
    """The consultation of the URL if ``user`` may read it, else a 404."""
    consultation = await session.scalar(
        select(Consultation)
        .options(raiseload(Consultation.created_by))
        .where(Consultation.id == request.path_params["id"])
    )
    if consultation is None:
        raise ApiError(404, NOT_FOUND)
    zones = (await consultation_queries.zones_of(session, [consultation.id]))[consultation.id]
    if not may_read(user, {z.id for z in zones}):
        raise ApiError(404, NOT_FOUND)
    return consultation


@endpoint
async def consultations(request: Request) -> Response:
    user = await _user(request)
    limit, before = _page(request)
    async with web.db(request).session() as session:
        rows, zones, more = await queries.readable_consultations(session, user, limit, before)
        items = await _summaries(session, rows, zones)
    after = f"/api/v1/consultations?limit={limit}&before={rows[-1].id}" if more else None
    return _json({"consultations": items, "next": after})


@endpoint
async def consultation(request: Request) -> Response:
    user = await _user(request)
    async with web.db(request).session() as session:
        found = await _readable(session, user, request)
        zones = await consultation_queries.zones_of(session, [found.id])
        [item] = await _summaries(session, [found], zones)
        drafts = await files_of(session, "consultation_id", [found.id])
    files = [file_json(f) for f in drafts[found.id]]
    return _json({**item, "body_html": found.body_html, "documents": files})


@endpoint
async def contributions(request: Request) -> Response:
    """A page of a consultation's contributions, by receipt number (``after``
    the last number of the previous page): a consultation for 312 comuni
    would otherwise be one answer of hundreds of kilobytes."""
    user = await _user(request)
    limit, after = _page(request, "after")
    async with web.db(request).session() as session:
        found = await _readable(session, user, request)
        query = select(Contribution).where(Contribution.consultation_id == found.id)
        if after is not None:
            query = query.where(Contribution.number > after)
        rows = list(await session.scalars(query.order_by(Contribution.number).limit(limit + 1)))
        more, rows = len(rows) > limit, rows[:limit]
        after = rows[-1].number if rows else None
        views = await consultation_queries.contribution_views(session, rows)
    items = [contribution_json(v.contribution, v.current.body_html, v.files) for v in views]
    following = None
    if more:
        following = f"/api/v1/consultations/{found.id}/contributions?limit={limit}&after={after}"
    return _json({"consultation_id": found.id, "contributions": items, "next": following})


def _check_library(user: User) -> None:
    if not can(user, Action.READ, None):
        raise ApiError(403, N_("You may not read the forms library."))


@endpoint
async def theme_documents(request: Request) -> Response:
    user = await _user(request)
    _check_library(user)
    async with web.db(request).session() as session:
        theme = await session.get(Theme, request.path_params["id"])
        if theme is None:
            raise ApiError(404, NOT_FOUND)
        rows = list(
            await session.scalars(
                select(Document)
                .options(raiseload(Document.created_by), raiseload(Document.theme))
                .where(Document.theme_id == theme.id)
                .order_by(Document.title, Document.id)
            )
        )
        files = await queries.document_files(session, rows)
    items = [document_json(d, files.get(d.id, [])) for d in rows]
    return _json({"theme": theme_json(theme), "documents": items})


@endpoint
async def document(request: Request) -> Response:
    user = await _user(request)
    async with web.db(request).session() as session:
        found = await session.scalar(
            select(Document)
            .options(raiseload(Document.created_by))
            .where(Document.id == request.path_params["id"])
        )
        # The library is metropolitan: one who may not read it learns nothing.
        if found is None or not can(user, Action.READ, None):
            raise ApiError(404, NOT_FOUND)
        files = await queries.document_files(session, [found])
    return _json({**document_json(found, files.get(found.id, [])),
                  "theme": theme_json(found.theme)})  # fmt: skip


def _search_page(request: Request) -> int:
    raw = request.query_params.get("page")
    if raw is None:
        return 1
    if not (raw.isascii() and raw.isdigit() and 0 < len(raw) < 7 and int(raw) > 0):
        raise ApiError(400, N_("The page must be a whole number, from 1."))
    return int(raw)


async def _places(session: AsyncSession, results: Results) -> dict[str, dict[int, JSON]]:
    """The zones, themes and comuni the hits name, as JSON by id: a query each at most."""
    zones = {h.zone_id for h in results.hits if h.zone_id is not None}
    themes = {h.theme_id for h in results.hits if h.theme_id is not None}
    comuni = {h.comune_id for h in results.hits if h.comune_id is not None}
    found: dict[str, dict[int, JSON]] = {"zone": {}, "theme": {}, "comune": {}}
    if zones:
        rows = await session.scalars(select(Zone).where(Zone.id.in_(zones)))
        found["zone"] = {z.id: zone_json(z) for z in rows}
    if themes:
        rows_t = await session.scalars(select(Theme).where(Theme.id.in_(themes)))
        found["theme"] = {t.id: theme_json(t) for t in rows_t}
    if comuni:
        rows_c = await session.scalars(select(Comune).where(Comune.id.in_(comuni)))
        found["comune"] = {c.id: comune_json(c) for c in rows_c}
    return found


@endpoint
async def search(request: Request) -> Response:
    """The ``/search`` page's search as JSON: the same parameters, read by the
    same code (:mod:`collab.search.params`), within what the user may read.
    Without a login, as on the page, only public meetings and their verbali."""
    user = await web.current_user(request)
    params = request.query_params
    q = params.get("q", "")
    raw = raw_filters(params)
    page = _search_page(request)
    async with web.db(request).session() as session:
        try:
            filters = await read_filters(session, raw)
            # A submitted search: whole words (the page's typing prefix is for its box).
            query = parse_query(q, prefix=False)
        except BadFilter as exc:
            raise ApiError(400, str(exc)) from None
        except QueryError as exc:
            raise ApiError(400, exc.message, exc.params if exc.bound else None) from None
        results = await engine_for(session).search(session, user, query, filters, page)
        places = await _places(session, results)
    following = None
    if results.has_next:
        kept = {"q": q, **{k: v for k, v in raw.items() if v}, "page": results.page + 1}
        following = "/api/v1/search?" + urlencode(kept)
    return _json({
        "query": q, "total": results.total, "more": results.more,
        "page": results.page, "pages": results.pages,
        "per_page": PER_PAGE, "results": [hit_json(hit, places) for hit in results.hits],
        "next": following,
    })  # fmt: skip


async def openapi(request: Request) -> Response:
    return JSONResponse(schema.OPENAPI)


async def docs(request: Request) -> Response:
    return await web.render(request, "api/docs.html", {"endpoints": schema.endpoints()})


def routes() -> list[BaseRoute]:
    """This module's URL map (built by ``create_app``, after the ``id`` convertor)."""
    return [
        Route("/api/v1/consultations", consultations, methods=["GET"]),
        Route("/api/v1/consultations/{id:id}", consultation, methods=["GET"]),
        Route("/api/v1/consultations/{id:id}/contributions", contributions, methods=["GET"]),
        Route("/api/v1/themes/{id:id}/documents", theme_documents, methods=["GET"]),
        Route("/api/v1/documents/{id:id}", document, methods=["GET"]),
        Route("/api/v1/search", search, methods=["GET"]),
        Route("/api/v1/openapi.json", openapi, methods=["GET"]),
        Route("/api/docs", docs, methods=["GET"]),
    ]
