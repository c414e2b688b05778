"""Admin pages of the legal pages: the list, the edit form, the versions.

Saving goes through :func:`collab.legal.actions.do_save_page` (checked,
versioned, audited); the form carries the version it was loaded with, and a
save that lost a race with another administrator's is shown again with the
person's text and a 409, ready to be saved over the newer version knowingly.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from collab import web
from collab.admin import actions
from collab.errors import ActionError, NotFound
from collab.i18n import N_
from collab.legal.actions import (
    LegalForm,
    check_kind,
    do_save_page,
    get_page,
    load_view,
    revisions,
)
from collab.legal.content import (
    ASSESSMENT_LABELS,
    CONFORMITY_LABELS,
    MAX_TEXT,
    LegalView,
    view_of_revision,
)
from collab.legal.models import TITLES, LegalKind
from collab.legal.pages import page_context
from collab.models import User

__all__ = ["routes"]


async def _admin(request: Request) -> User:
    user = await web.require_user(request)
    actions.check_admin(user)
    return user


def _values(view: LegalView) -> LegalForm:
    """The form as the page stands (the template text when it was never saved)."""
    statement = view.statement
    facts: dict[str, str] = {}
    if statement is not None:
        facts = {
            "conformity": statement.conformity.value if statement.conformity else "",
            "drafted_on": statement.drafted_on.isoformat() if statement.drafted_on else "",
            "reviewed_on": statement.reviewed_on.isoformat() if statement.reviewed_on else "",
            "assessment": statement.assessment.value if statement.assessment else "",
            "feedback_email": statement.feedback_email,
            "feedback_url": statement.feedback_url,
            "agid_url": statement.agid_url,
        }
    return LegalForm(body_it=view.body_it, body_en=view.body_en, version=str(view.version), **facts)


async def legal_list(request: Request) -> Response:
    await _admin(request)
    async with web.db(request).session() as session:
        views = [await load_view(session, kind) for kind in LegalKind]
    return await web.render(request, "admin/legal.html", {"views": views, "titles": TITLES})


async def _form(
    request: Request, view: LegalView, values: LegalForm, status: int = 200, **extra: Any
) -> Response:
    context = {
        "view": view, "kind": view.kind.value, "title": TITLES[view.kind],
        "values": asdict(values), "max_text": MAX_TEXT,
        "conformity_labels": {c.value: label for c, label in CONFORMITY_LABELS.items()},
        "assessment_labels": {a.value: label for a, label in ASSESSMENT_LABELS.items()},
        **extra,
    }  # fmt: skip
    return await web.render(request, "admin/legal_form.html", context, status_code=status)


async def edit_page(request: Request) -> Response:
    await _admin(request)
    kind = check_kind(request.path_params["kind"])
    async with web.db(request).session() as session:
        view = await load_view(session, kind)
    return await _form(request, view, _values(view))


async def save_page(request: Request) -> Response:
    actor = await _admin(request)
    kind = check_kind(request.path_params["kind"])
    data = await web.form(request)
    values = LegalForm(**{f.name: web.field(data, f.name) for f in fields(LegalForm)})
    try:
        async with web.db(request).transaction() as uow:
            await do_save_page(uow, actor, kind, values)
    except ActionError as exc:
        if exc.status not in (409, 422):
            raise
        async with web.db(request).session() as session:
            view = await load_view(session, kind)
        if exc.status == 409:
            # Shown again over the newer version: saving now replaces it knowingly.
            values = LegalForm(**{**asdict(values), "version": str(view.version)})
        return await _form(
            request, view, values, exc.status,
            error=web.translate(request, exc), error_field=exc.field, conflict=exc.status == 409,
        )  # fmt: skip
    return web.redirect(request, f"/legal/{kind.value}")


async def history_page(request: Request) -> Response:
    await _admin(request)
    kind = check_kind(request.path_params["kind"])
    async with web.db(request).session() as session:
        page = await get_page(session, kind)
        previous = await revisions(session, page) if page is not None else []
        view = await load_view(session, kind)
    versions = [view] if view.saved else []
    versions += [view_of_revision(kind, revision) for revision in previous]
    context = {"kind": kind.value, "title": TITLES[kind], "current": view, "versions": versions}
    return await web.render(request, "admin/legal_history.html", context)


async def version_page(request: Request) -> Response:
    await _admin(request)
    kind = check_kind(request.path_params["kind"])
    number: int = request.path_params["version"]
    async with web.db(request).session() as session:
        page = await get_page(session, kind)
        found = [r for r in await revisions(session, page) if r.version == number] if page else []
        view = await load_view(session, kind)
    if found:
        view = view_of_revision(kind, found[0])
    elif not view.saved or view.version != number:
        raise NotFound(N_("This version of the page does not exist."))
    context = {**page_context(request, view), "current_version": page.version if page else 0}
    return await web.render(request, "admin/legal_version.html", context)


GET, POST = ["GET"], ["POST"]


def routes() -> list[BaseRoute]:
    """This module's URL map (built by ``create_app``, after the ``id`` convertor)."""
    return [
        Route("/admin/legal", legal_list, methods=GET),
        Route("/admin/legal/{kind:str}", edit_page, methods=GET),
        Route("/admin/legal/{kind:str}", save_page, methods=POST),
        Route("/admin/legal/{kind:str}/history", history_page, methods=GET),
        Route("/admin/legal/{kind:str}/versions/{version:id}", version_page, methods=GET),
    ]
