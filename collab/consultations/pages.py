"""Consultation pages: the list, opening one (staff), one consultation and its staff forms.

Upload forms are multipart and stream through :func:`collab.uploads.read_upload`,
only after the route has checked who may write there and the consultation's
state (``actions.check_*``); for htmx requests (the progress bar) bad input
answers with the alert fragment and leaves the form as it was, chosen files
included; plain posts get the page again with the error next to the field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from collab import web
from collab.consultations import actions, rules
from collab.consultations.models import Consultation, Status
from collab.consultations.queries import (
    ConsultationView,
    comune_contribution,
    contributions_page,
    load_consultation,
    own_contributions,
    readable_consultations,
    status_counts,
)
from collab.consultations.rows import rendered_rows
from collab.db import UnitOfWork
from collab.documents.download import file_store
from collab.errors import NotFound, PermissionDenied
from collab.i18n import N_
from collab.models import Theme, User, Zone, utcnow
from collab.permissions import Action, can_in_zones
from collab.realtime.events import consultation_topic
from collab.realtime.log import last_seqs
from collab.services import services
from collab.uploads import UploadForm, read_upload

__all__ = [
    "add_drafts",
    "consultation_page",
    "consultation_page_context",
    "consultations_list",
    "edit_page",
    "extend",
    "get_readable",
    "name_delegate",
    "open_consultation",
    "open_page",
    "revise",
    "upload",
]

NO_CONSULTATION = N_("This consultation does not exist.")


def upload(request: Request, max_files: int = actions.MAX_FILES) -> Awaitable[UploadForm]:
    """The request's multipart form, files streamed into the store (use with ``async with``)."""
    limit = web.settings(request).upload_max_bytes
    return read_upload(request, file_store(request), limit, max_files=max_files)


async def form_error(
    request: Request, error: dict[str, Any], page: Callable[[dict[str, Any]], Awaitable[Response]]
) -> Response:
    """Bad input: the alert for htmx (the form stays as it was), else the page with the error."""
    if web.is_htmx(request):
        return await web.error_response(request, 422, error["error"])
    return await page(error)


async def get_readable(
    request: Request, user: User, consultation_id: int, *, contributions: bool = True
) -> ConsultationView:
    """The consultation if ``user`` may read it (``contributions``: as in ``load_consultation``)."""
    async with web.db(request).session() as session:
        view = await load_consultation(session, consultation_id, contributions=contributions)
    if view is None or not rules.may_read(user, view.zone_ids):
        raise NotFound(NO_CONSULTATION)
    return view


async def consultations_list(request: Request) -> Response:
    user = await web.require_user(request)
    async with web.db(request).session() as session:
        views = await readable_consultations(session, user)
        zone_ids = list(await session.scalars(select(Zone.id)))
        own = await own_contributions(session, user, views)
    now = utcnow()
    open_ = sorted((v for v in views if v.open_at(now)), key=lambda v: v.consultation.deadline)
    return await web.render(
        request,
        "consultations/list.html",
        {"open": open_, "closed": [v for v in views if not v.open_at(now)],
         "may_open": can_in_zones(user, Action.CONSULT, zone_ids), "now": now,
         "own_contributions": own},
    )  # fmt: skip


async def _choices(request: Request, user: User) -> dict[str, Any]:
    async with web.db(request).session() as session:
        zones = list(await session.scalars(select(Zone).order_by(Zone.number)))
        themes = list(
            await session.scalars(select(Theme).where(Theme.active).order_by(Theme.position))
        )
    if not rules.may_manage(user, [z.id for z in zones]):
        raise PermissionDenied(actions.NOT_STAFF)
    return {"zones": zones, "themes": themes}


def _opening(data: UploadForm) -> actions.Opening:
    def ids(name: str) -> list[int]:
        return [int(v) for v in data.getlist(name) if v.isascii() and v.isdigit() and len(v) < 10]

    return actions.Opening(
        title=data.get("title"), body=data.get("body"),
        deadline=web.rome_to_utc(data.get("deadline"), "deadline"),
        zone_ids=ids("zones"), theme_ids=ids("themes"),
        publish_names=data.get("publish_names") == "1",
    )  # fmt: skip


async def open_page(request: Request) -> Response:
    user = await web.require_user(request)
    choices = await _choices(request, user)
    return await web.render(request, "consultations/new.html", {**choices, "values": {}})


async def open_consultation(request: Request) -> Response:
    user = await web.require_user(request)
    choices = await _choices(request, user)
    created: list[Consultation] = []
    async with await upload(request) as data:

        async def write(uow: UnitOfWork) -> None:
            created.append(await actions.do_open(uow, user, _opening(data), data.files_of("files")))

        error = await web.attempt(request, write)
        values = {k: v for k, v in data.fields.items()}

    async def page(error: dict[str, Any]) -> Response:
        return await web.render(
            request, "consultations/new.html", {**choices, "values": values, **error},
            status_code=422,
        )  # fmt: skip

    if error is not None:
        return await form_error(request, error, page)
    return web.redirect(request, f"/consultations/{created[0].id}")


async def _edit_context(request: Request, user: User) -> dict[str, Any]:
    view = await get_readable(request, user, request.path_params["id"], contributions=False)
    if not rules.may_manage(user, view.zone_ids):
        raise PermissionDenied(actions.NOT_STAFF)
    async with web.db(request).session() as session:
        themes = list(
            await session.scalars(select(Theme).where(Theme.active).order_by(Theme.position))
        )
    return {"view": view, "c": view.consultation, "themes": themes}


async def edit_page(request: Request) -> Response:
    """Staff correct the title, the text or the themes (zones and deadline stay)."""
    user = await web.require_user(request)
    context = await _edit_context(request, user)
    c = context["c"]
    values = {"title": [c.title], "body": [c.body_source],
              "themes": [str(t.id) for t in context["view"].themes]}  # fmt: skip
    return await web.render(request, "consultations/edit.html", {**context, "values": values})


async def revise(request: Request) -> Response:
    user = await web.require_user(request)
    context = await _edit_context(request, user)
    data = await web.form(request)
    values = {"title": [web.field(data, "title")], "body": [web.field(data, "body")],
              "themes": [v for v in data.getlist("themes") if isinstance(v, str)]}  # fmt: skip
    form = actions.Opening(
        title=values["title"][0], body=values["body"][0],
        theme_ids=[int(v) for v in values["themes"] if v.isascii() and v.isdigit() and len(v) < 10],
    )  # fmt: skip

    async def write(uow: UnitOfWork) -> None:
        await actions.do_revise(uow, user, request.path_params["id"], form)

    error = await web.attempt(request, write)
    if error is not None:
        return await web.render(
            request, "consultations/edit.html", {**context, "values": values, **error},
            status_code=422,
        )  # fmt: skip
    return web.redirect(request, f"/consultations/{context['c'].id}")


async def consultation_page_context(
    request: Request, user: User, consultation_id: int
) -> dict[str, Any]:
    # ``?status=under_review``: the contributions in one state (an unknown value: all).
    raw = request.query_params.get("status", "")
    shown = next((s for s in Status if s.value == raw), None)
    async with web.db(request).session() as session:
        # The log's position first: whatever happens after it reaches the page live.
        live = await last_seqs(session, [consultation_topic(consultation_id)])
        # Uncounted: the counts by state give the total too.
        view = await load_consultation(session, consultation_id, contributions=False, counted=False)
        if view is None or not rules.may_read(user, view.zone_ids):
            raise NotFound(NO_CONSULTATION)
        comune_id = rules.contributing_comune(user, view.zone_ids, view.delegates)
        counts = await status_counts(session, consultation_id)
        view.contribution_count = sum(counts.values())
        number = web.page_number(request)
        page = await contributions_page(session, consultation_id, shown, number, counts)
        own = None if comune_id is None else await comune_contribution(
            session, consultation_id, comune_id
        )  # fmt: skip
    now = utcnow()
    list_url = f"/consultations/{consultation_id}" + (f"?status={shown.value}" if shown else "")
    return {
        "view": view,
        "c": view.consultation,
        "is_open": view.open_at(now),
        "may_manage": rules.may_manage(user, view.zone_ids),
        "comune_id": comune_id,
        "own": own,
        "may_name_delegate": user.comune_id is not None
        and rules.may_contribute_own(user, view.zone_ids),
        "my_delegate": next((d for d in view.delegates if d.comune_id == user.comune_id), None),
        "live_topics": live,
        "statuses": list(Status),
        "status_filter": shown,
        "status_counts": counts,
        "received": sum(counts.values()),
        "listed": page.items,
        # The rows' HTML, each rendered once per content (collab.consultations.rows).
        "rows": rendered_rows(services(request).templates, web.locale_of(request), page.items),
        "page": page,
        "list_url": list_url,
        "now": now,
    }


async def consultation_page(request: Request) -> Response:
    user = await web.require_user(request)
    context = await consultation_page_context(request, user, request.path_params["id"])
    return await web.render(request, "consultations/consultation.html", context)


async def _consultation_write(
    request: Request, write: Callable[[UnitOfWork, User], Awaitable[object]], data: Any = None
) -> Response:
    """Run a staff or sindaco form of the consultation page; errors show on that page."""
    user = await web.require_user(request)
    consultation_id = request.path_params["id"]

    async def run(uow: UnitOfWork) -> None:
        await write(uow, user)

    error = await web.attempt(request, run)

    async def page(error: dict[str, Any]) -> Response:
        context = await consultation_page_context(request, user, consultation_id)
        return await web.render(
            request, "consultations/consultation.html", {**context, **error}, status_code=422
        )

    if error is not None:
        return await form_error(request, error, page)
    return web.redirect(request, f"/consultations/{consultation_id}")


async def extend(request: Request) -> Response:
    data = await web.form(request)

    async def write(uow: UnitOfWork, user: User) -> None:
        deadline = web.rome_to_utc(web.field(data, "deadline"), "deadline")
        await actions.do_extend(uow, user, request.path_params["id"], deadline)

    return await _consultation_write(request, write)


async def name_delegate(request: Request) -> Response:
    data = await web.form(request)

    async def write(uow: UnitOfWork, user: User) -> None:
        await actions.do_name_delegate(
            uow, user, request.path_params["id"], web.field(data, "email")
        )

    return await _consultation_write(request, write)


async def add_drafts(request: Request) -> Response:
    user = await web.require_user(request)
    async with web.db(request).session() as session:
        await actions.check_add_drafts(session, user, request.path_params["id"])
    async with await upload(request) as data:

        async def write(uow: UnitOfWork, user: User) -> None:
            await actions.do_add_drafts(
                uow, user, request.path_params["id"], data.files_of("files")
            )

        return await _consultation_write(request, write)
