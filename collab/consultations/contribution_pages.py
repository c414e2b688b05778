"""A comune's contribution: submit, edit (a new version), review and answer, the receipt.

The receipt (``/contributions/<id>/receipt``) is what the comune keeps: the
receipt number, the time the version was received and the SHA-256 of every
file, so the comune can prove what it sent. Every version has its own.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from collab import web
from collab.consultations import actions, changes, rules
from collab.consultations.models import Contribution, ContributionVersion, Status
from collab.consultations.pages import (
    consultation_page_context,
    form_error,
    get_readable,
    upload,
)
from collab.consultations.queries import (
    ConsultationView,
    ContributionView,
    contribution_history,
    contribution_list_url,
    contribution_view,
)
from collab.db import UnitOfWork
from collab.documents.files import files_of
from collab.errors import NotFound
from collab.i18n import N_
from collab.models import User, utcnow
from collab.realtime.events import consultation_topic
from collab.realtime.log import last_seqs

__all__ = ["changes_page", "contribution_page", "edit", "receipt", "set_status", "submit"]

NO_CONTRIBUTION = N_("This contribution does not exist.")
NO_VERSION_PAIR = N_("There is no such version to compare with the one before it.")


async def _load(request: Request, user: User) -> tuple[ConsultationView, ContributionView]:
    async with web.db(request).session() as session:
        current = await contribution_view(session, request.path_params["id"])
    if current is None:
        raise NotFound(NO_CONTRIBUTION)
    view = await get_readable(
        request, user, current.contribution.consultation_id, contributions=False
    )
    return view, current


def _asked_version(request: Request) -> int | None:
    """``?version=N``, or None when absent or not a plausible number."""
    raw = request.query_params.get("version", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 6 else None


async def _context(request: Request, user: User) -> dict[str, Any]:
    async with web.db(request).session() as session:
        consultation_id = await session.scalar(
            select(Contribution.consultation_id).where(Contribution.id == request.path_params["id"])
        )
        # The log's position first: whatever happens after it reaches the page live.
        live = await last_seqs(session, [consultation_topic(consultation_id or 0)])
    view, current = await _load(request, user)
    async with web.db(request).session() as session:
        versions, trail = await contribution_history(session, current.contribution)
        version_files = await files_of(session, "contribution_version_id", [v.id for v in versions])
        list_url = await contribution_list_url(session, current.contribution)
    contribution = current.contribution
    mine = rules.contributing_comune(user, view.zone_ids, view.delegates) == contribution.comune_id
    is_open = view.open_at(utcnow())
    return {
        "view": view,
        "c": view.consultation,
        "current": current,
        "contribution": contribution,
        "versions": versions,
        "version_files": version_files,
        "trail": trail,
        "may_edit": mine and is_open and not contribution.status.answered,
        "mine": mine,
        "may_manage": rules.may_manage(user, view.zone_ids),
        "next_states": sorted(actions.NEXT[contribution.status], key=list(Status).index),
        "is_open": is_open,
        "live_topics": live,
        "list_url": list_url,
    }


async def contribution_page(request: Request) -> Response:
    user = await web.require_user(request)
    return await web.render(
        request, "consultations/contribution.html", await _context(request, user)
    )


async def submit(request: Request) -> Response:
    user = await web.require_user(request)
    consultation_id = request.path_params["id"]
    async with web.db(request).session() as session:
        await actions.check_submit(session, user, consultation_id)
    created: list[Contribution] = []
    async with await upload(request) as data:

        async def write(uow: UnitOfWork) -> None:
            created.append(
                await actions.do_submit(
                    uow, user, consultation_id, data.get("body"), data.files_of("files")
                )
            )

        error = await web.attempt(request, write)
        body = data.get("body")

    async def page(error: dict[str, Any]) -> Response:
        context = await consultation_page_context(request, user, consultation_id)
        return await web.render(
            request, "consultations/consultation.html", {**context, "body": body, **error},
            status_code=422,
        )  # fmt: skip

    if error is not None:
        return await form_error(request, error, page)
    return web.redirect(request, f"/contributions/{created[0].id}/receipt")


async def edit(request: Request) -> Response:
    user = await web.require_user(request)
    contribution_id = request.path_params["id"]
    async with web.db(request).session() as session:
        await actions.check_edit(session, user, contribution_id)
    async with await upload(request) as data:
        keep = [int(v) for v in data.getlist("keep") if v.isascii() and v.isdigit() and len(v) < 10]

        async def write(uow: UnitOfWork) -> None:
            await actions.do_edit(
                uow, user, contribution_id, data.get("body"), data.files_of("files"), keep
            )

        error = await web.attempt(request, write)
        body = data.get("body")

    async def page(error: dict[str, Any]) -> Response:
        context = await _context(request, user)
        return await web.render(
            request, "consultations/contribution.html", {**context, "body": body, **error},
            status_code=422,
        )  # fmt: skip

    if error is not None:
        return await form_error(request, error, page)
    return web.redirect(request, f"/contributions/{contribution_id}/receipt")


async def set_status(request: Request) -> Response:
    user = await web.require_user(request)
    data = await web.form(request)

    async def write(uow: UnitOfWork) -> None:
        await actions.do_set_status(
            uow, user, request.path_params["id"], web.field(data, "status"),
            web.field(data, "answer"),
        )  # fmt: skip

    error = await web.attempt(request, write)

    async def page(error: dict[str, Any]) -> Response:
        context = await _context(request, user)
        return await web.render(
            request, "consultations/contribution.html",
            {**context, "answer": web.field(data, "answer"), **error}, status_code=422,
        )  # fmt: skip

    if error is not None:
        return await form_error(request, error, page)
    return web.redirect(request, f"/contributions/{request.path_params['id']}")


async def receipt(request: Request) -> Response:
    """The receipt of the current version, or of ``?version=N``."""
    user = await web.require_user(request)
    view, current = await _load(request, user)
    asked = _asked_version(request)
    version, stored = current.current, current.files
    if asked is not None and asked != version.number:
        async with web.db(request).session() as session:
            found = await session.scalar(
                select(ContributionVersion).where(
                    ContributionVersion.contribution_id == current.contribution.id,
                    ContributionVersion.number == asked,
                )
            )
            if found is None:
                raise NotFound(NO_CONTRIBUTION)
            version = found
            stored = (await files_of(session, "contribution_version_id", [found.id]))[found.id]
    return await web.render(
        request, "consultations/receipt.html",
        {"view": view, "c": view.consultation, "current": current, "version": version,
         "files": stored},
    )  # fmt: skip


async def changes_page(request: Request) -> Response:
    """What changed from the version before ``?version=N`` (default: the current one) to it."""
    user = await web.require_user(request)
    view, current = await _load(request, user)
    asked = _asked_version(request)
    number = asked if asked is not None else current.current.number
    async with web.db(request).session() as session:
        rows = await session.scalars(
            select(ContributionVersion).where(
                ContributionVersion.contribution_id == current.contribution.id,
                ContributionVersion.number.in_([number - 1, number]),
            )
        )
        found = {v.number: v for v in rows}
    if number not in found or number - 1 not in found:
        raise NotFound(NO_VERSION_PAIR)
    before, after = found[number - 1], found[number]
    return await web.render(
        request, "consultations/changes.html",
        {"view": view, "c": view.consultation, "current": current, "before": before,
         "after": after, "runs": changes.changes(before.body_source, after.body_source)},
    )  # fmt: skip
