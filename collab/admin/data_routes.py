"""Admin pages for the reference data: themes, comuni (and their CSV import), zones."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from collab import importer, web
from collab.admin import actions
from collab.errors import NotFound
from collab.forums.models import Thread
from collab.i18n import N_, translations
from collab.models import Comune, Theme, User, Zone
from collab.uploads import upload_gate

__all__ = ["routes"]

# The multipart envelope (boundaries, part headers, the CSRF-free fields) on
# top of the file itself; the file alone is held to importer.MAX_BYTES.
UPLOAD_OVERHEAD = 64 * 1024
# A garbage file of 2 MB could have 100,000 bad lines: show the first ones.
MAX_ERRORS_SHOWN = 500


async def _admin(request: Request) -> User:
    user = await web.require_user(request)
    actions.check_admin(user)
    return user


async def _zones(session: AsyncSession) -> list[Zone]:
    return list((await session.scalars(select(Zone).order_by(Zone.number))).all())


# --- themes ------------------------------------------------------------------


async def _themes_page(request: Request, status: int = 200, **context: Any) -> Response:
    threads = select(Thread.theme_id, func.count().label("n")).group_by(Thread.theme_id).subquery()
    stmt = (
        select(Theme, func.coalesce(threads.c.n, 0))
        .outerjoin(threads, threads.c.theme_id == Theme.id)
        .order_by(Theme.position, Theme.name, Theme.id)
    )
    async with web.db(request).session() as session:
        rows = [(theme, count) for theme, count in await session.execute(stmt)]
    context = {"rows": rows, "values": {}, **context}
    return await web.render(request, "admin/themes.html", context, status_code=status)


async def themes_page(request: Request) -> Response:
    await _admin(request)
    return await _themes_page(request)


async def create_theme(request: Request) -> Response:
    actor = await _admin(request)
    data = await web.form(request)
    values = {k: web.field(data, k) for k in ("name", "name_en", "slug")}
    error = await web.attempt(request, lambda uow: actions.do_create_theme(uow, actor, **values))
    if error:
        return await _themes_page(request, 422, values=values, **error)
    return web.redirect(request, "/admin/themes")


async def _theme(request: Request) -> Theme:
    async with web.db(request).session() as session:
        theme = await session.get(Theme, request.path_params["id"])
    if theme is None:
        raise NotFound(N_("This theme does not exist."))
    return theme


async def edit_theme_page(request: Request) -> Response:
    await _admin(request)
    theme = await _theme(request)
    values = {"name": theme.name, "name_en": theme.name_en or "", "slug": theme.slug}
    return await web.render(request, "admin/theme_form.html", {"theme": theme, "values": values})


async def update_theme(request: Request) -> Response:
    actor = await _admin(request)
    theme = await _theme(request)
    data = await web.form(request)
    values = {k: web.field(data, k) for k in ("name", "name_en", "slug")}
    # A form without the field (an older page, a script) leaves the English name alone.
    name_en = values["name_en"] if "name_en" in data else None
    error = await web.attempt(
        request,
        lambda uow: actions.do_update_theme(
            uow, actor, theme.id, name=values["name"], slug=values["slug"], name_en=name_en
        ),
    )
    if error:
        context = {"theme": theme, "values": values, **error}
        return await web.render(request, "admin/theme_form.html", context, status_code=422)
    return web.redirect(request, "/admin/themes")


async def move_theme(request: Request) -> Response:
    actor = await _admin(request)
    direction = web.field(await web.form(request), "direction")
    async with web.db(request).transaction() as uow:
        await actions.do_move_theme(uow, actor, request.path_params["id"], direction)
    return web.redirect(request, "/admin/themes")


async def set_theme_active(request: Request) -> Response:
    actor = await _admin(request)
    active = web.field(await web.form(request), "active") == "1"
    async with web.db(request).transaction() as uow:
        await actions.do_set_theme_active(uow, actor, request.path_params["id"], active)
    return web.redirect(request, "/admin/themes")


# --- comuni ------------------------------------------------------------------


async def comuni_page(request: Request) -> Response:
    await _admin(request)
    # PostgreSQL refuses NUL in a text parameter (a 500): drop it, as web.field does.
    query = request.query_params.get("q", "").replace("\x00", "").strip()[:120]
    raw_zone = request.query_params.get("zone", "")
    zone = (
        int(raw_zone) if raw_zone.isascii() and raw_zone.isdigit() and len(raw_zone) < 4 else None
    )
    users = select(User.comune_id, func.count().label("n")).group_by(User.comune_id).subquery()
    stmt = (
        select(Comune, func.coalesce(users.c.n, 0))
        .join(Comune.zone)
        .options(contains_eager(Comune.zone))
        .outerjoin(users, users.c.comune_id == Comune.id)
        .order_by(Zone.number, Comune.name)
    )
    if zone is not None:
        stmt = stmt.where(Zone.number == zone)
    if query:
        stmt = stmt.where(
            Comune.name.icontains(query, autoescape=True)
            | Comune.istat_code.contains(query, autoescape=True)
        )
    async with web.db(request).session() as session:
        rows = [(comune, count) for comune, count in await session.execute(stmt)]
        zones = await _zones(session)
    context = {"rows": rows, "zones": zones, "q": query, "zone": zone}
    return await web.render(request, "admin/comuni.html", context)


async def _comune(request: Request) -> tuple[Comune, int]:
    async with web.db(request).session() as session:
        comune = await session.get(Comune, request.path_params["id"])
        if comune is None:
            raise NotFound(N_("This comune does not exist."))
        users = await session.scalar(select(func.count()).where(User.comune_id == comune.id))
    return comune, users or 0


async def _comune_form(
    request: Request, comune: Comune, users: int, status: int = 200, **context: Any
) -> Response:
    async with web.db(request).session() as session:
        zones = await _zones(session)
    context = {"comune": comune, "users": users, "zones": zones, **context}
    return await web.render(request, "admin/comune_form.html", context, status_code=status)


async def edit_comune_page(request: Request) -> Response:
    await _admin(request)
    comune, users = await _comune(request)
    population = str(comune.population) if comune.population is not None else ""
    values = {"name": comune.name, "zone": str(comune.zone.number), "population": population}
    return await _comune_form(request, comune, users, values=values)


async def update_comune(request: Request) -> Response:
    actor = await _admin(request)
    comune, users = await _comune(request)
    data = await web.form(request)
    values = {k: web.field(data, k) for k in ("name", "zone", "population")}
    # A form without the field (an older page, a script) leaves the population alone.
    population = values["population"] if "population" in data else None
    error = await web.attempt(
        request,
        lambda uow: actions.do_update_comune(
            uow, actor, comune.id, name=values["name"], zone_number=values["zone"],
            population=population,
        ),
    )  # fmt: skip
    if error:
        return await _comune_form(request, comune, users, 422, values=values, **error)
    return web.redirect(request, "/admin/comuni")


# --- comuni import -----------------------------------------------------------


async def import_page(request: Request) -> Response:
    await _admin(request)
    return await web.render(request, "admin/comuni_import.html", {"max_mb": _max_mb()})


def _max_mb() -> int:
    return importer.MAX_BYTES // (1024 * 1024)


async def _read_csv(request: Request) -> bytes | None:
    """The uploaded file's bytes (413 over the limit), or None when no file came."""
    async with upload_gate(request):  # a slot, and room on the disk
        data = await web.upload_form(request, importer.MAX_BYTES + UPLOAD_OVERHEAD)
    try:
        upload = data.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return None
        content = await upload.read(importer.MAX_BYTES + 1)
    finally:
        await data.close()
    if len(content) > importer.MAX_BYTES:
        raise HTTPException(413)
    return content


def _line_errors(request: Request, report: importer.ImportReport) -> list[tuple[int, str]]:
    gettext = translations(web.locale_of(request)).gettext
    return [
        (err.line, gettext(err.message) % err.params if err.params else gettext(err.message))
        for err in report.errors[:MAX_ERRORS_SHOWN]
    ]


async def upload_comuni(request: Request) -> Response:
    actor = await _admin(request)
    content = await _read_csv(request)
    context: dict[str, Any] = {"max_mb": _max_mb()}
    if content is None:
        context["error"] = translations(web.locale_of(request)).gettext(
            N_("Choose a CSV file to upload.")
        )
        return await web.render(request, "admin/comuni_import.html", context, status_code=422)
    async with web.db(request).transaction() as uow:
        report = await actions.do_import_comuni(uow, actor, content)
    if not report.ok:
        # Nothing was written: the importer checks every line before it writes.
        context.update(errors=_line_errors(request, report), error_count=len(report.errors))
        return await web.render(request, "admin/comuni_import.html", context, status_code=422)
    async with web.db(request).session() as session:
        moved = await session.scalars(
            select(Comune).where(Comune.istat_code.in_(report.moved)).order_by(Comune.name)
        )
        context.update(report=report, moved=list(moved.all()))
    return await web.render(request, "admin/comuni_import.html", context)


# --- zones -------------------------------------------------------------------


async def _zones_page(request: Request, status: int = 200, **context: Any) -> Response:
    comuni = select(Comune.zone_id, func.count()).group_by(Comune.zone_id)
    users = (
        select(Comune.zone_id, func.count())
        .join(User, User.comune_id == Comune.id)
        .group_by(Comune.zone_id)
    )
    async with web.db(request).session() as session:
        zones = await _zones(session)
        comuni_count = {zone_id: n for zone_id, n in await session.execute(comuni)}
        users_count = {zone_id: n for zone_id, n in await session.execute(users)}
    rows = [(z, comuni_count.get(z.id, 0), users_count.get(z.id, 0)) for z in zones]
    context = {"rows": rows, **context}
    return await web.render(request, "admin/zones.html", context, status_code=status)


async def zones_page(request: Request) -> Response:
    await _admin(request)
    return await _zones_page(request)


async def rename_zone(request: Request) -> Response:
    actor = await _admin(request)
    number = request.path_params["number"]
    data = await web.form(request)
    name, name_en = web.field(data, "name"), web.field(data, "name_en")
    # A form without the field (an older page, a script) leaves the English name alone.
    english = name_en if "name_en" in data else None
    error = await web.attempt(
        request, lambda uow: actions.do_rename_zone(uow, actor, number, name, english)
    )
    if error:
        return await _zones_page(
            request, 422, error_zone=number, value=name, value_en=name_en, **error
        )
    return web.redirect(request, "/admin/zones")


GET, POST = ["GET"], ["POST"]


def routes() -> list[BaseRoute]:
    """This module's URL map (built by ``create_app``, after the ``id`` convertor)."""
    return [
        Route("/admin/themes", themes_page, methods=GET),
        Route("/admin/themes", create_theme, methods=POST),
        Route("/admin/themes/{id:id}", edit_theme_page, methods=GET),
        Route("/admin/themes/{id:id}", update_theme, methods=POST),
        Route("/admin/themes/{id:id}/move", move_theme, methods=POST),
        Route("/admin/themes/{id:id}/active", set_theme_active, methods=POST),
        Route("/admin/comuni", comuni_page, methods=GET),
        Route("/admin/comuni/import", import_page, methods=GET),
        Route("/admin/comuni/import", upload_comuni, methods=POST),
        Route("/admin/comuni/{id:id}", edit_comune_page, methods=GET),
        Route("/admin/comuni/{id:id}", update_comune, methods=POST),
        Route("/admin/zones", zones_page, methods=GET),
        Route("/admin/zones/{number:id}", rename_zone, methods=POST),
    ]
