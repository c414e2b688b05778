"""``/admin/bodies/{id}/verbale``: an admin edits a voting body's template of the verbale.

The template (:mod:`collab.meetings.verbale_template`) is checked before it
is saved: it must compile and render the sample meeting
(:func:`collab.meetings.verbale_template.sample_record`) without error;
otherwise the page says why in Italian, next to the field, keeps what was
typed and saves nothing. "Anteprima" shows the sample's draft without
saving; "Ripristina" goes back to the default template (stored empty, so
that a later default applies to the body too).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from collab import web
from collab.admin.actions import check_admin
from collab.audit import audit
from collab.db import UnitOfWork
from collab.errors import ActionError, NotFound
from collab.i18n import N_
from collab.markup import render_markdown
from collab.meetings.models import BodyKind, VotingBody
from collab.meetings.verbale_template import DEFAULT_TEMPLATE, check
from collab.models import User

__all__ = ["do_save_template", "routes"]

NO_BODY = N_("This voting body does not exist.")
SAVED = N_("The template of the verbale is saved.")
RESET = N_("The body uses the default template again.")


def _normal(source: str) -> str:
    """The text as stored: Unix line ends; the default template's text is stored empty."""
    source = source.replace("\r\n", "\n")
    return "" if source.strip() == DEFAULT_TEMPLATE.strip() else source


async def do_save_template(uow: UnitOfWork, user: User, body_id: int, source: str) -> str:
    """Check ``source`` on the sample meeting, then save it as the body's template.

    Returns the sample's draft. Raises :class:`collab.meetings.verbale_template.TemplateProblem`
    (nothing saved) when it does not compile or render.
    """
    check_admin(user)
    body = await uow.session.get(VotingBody, body_id, with_for_update=True)
    if body is None:
        raise NotFound(NO_BODY)
    source = _normal(source)
    preview = check(source, body.kind == BodyKind.PEOPLE)
    if source != body.verbale_template:
        body.verbale_template = source
        audit(uow.session, user, "body.verbale_template", body, default=not source)
    return preview


async def _body(request: Request, user: User) -> VotingBody:
    check_admin(user)
    async with web.db(request).session() as session:
        body = await session.get(VotingBody, request.path_params["id"])
    if body is None:
        raise NotFound(NO_BODY)
    return body


async def _page(
    request: Request, body: VotingBody, source: str, status: int = 200, **extra: Any
) -> Response:
    context = {"body": body, "source": source, "is_default": not body.verbale_template.strip(),
               **extra}  # fmt: skip
    return await web.render(
        request, "meetings/verbale_template_edit.html", context, status_code=status
    )


async def template_page(request: Request) -> Response:
    user = await web.require_user(request)
    body = await _body(request, user)
    done = {"saved": SAVED, "reset": RESET}.get(request.query_params.get("done", ""))
    return await _page(request, body, body.verbale_template or DEFAULT_TEMPLATE, done=done)


async def save_template(request: Request) -> Response:
    user = await web.require_user(request)
    body = await _body(request, user)
    data = await web.form(request)
    action = web.field(data, "action")
    source = DEFAULT_TEMPLATE if action == "reset" else web.field(data, "source")
    locale = web.locale_of(request)
    if action == "preview":
        try:
            preview = check(_normal(source), body.kind == BodyKind.PEOPLE, locale)
        except ActionError as exc:
            problem = {"error": web.translate(request, exc), "error_field": exc.field}
            return await _page(request, body, source, 422, **problem)
        return await _page(request, body, source, preview_html=render_markdown(preview))

    async def write(uow: UnitOfWork) -> None:
        await do_save_template(uow, user, body.id, source)

    error = await web.attempt(request, write)
    if error is not None:
        return await _page(request, body, source, 422, **error)
    done = "reset" if action == "reset" else "saved"
    return web.redirect(request, f"/admin/bodies/{body.id}/verbale?done={done}")


def routes() -> list[BaseRoute]:
    """This module's URL map (built by ``create_app``, after the ``id`` convertor)."""
    return [
        Route("/admin/bodies/{id:id}/verbale", template_page, methods=["GET"]),
        Route("/admin/bodies/{id:id}/verbale", save_template, methods=["POST"]),
    ]
