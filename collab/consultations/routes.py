"""The URL map of consultations and contributions."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from collab import web
from collab.consultations import contribution_pages as contributions
from collab.consultations import export, pages, rules
from collab.consultations.actions import NOT_STAFF
from collab.errors import PermissionDenied

__all__ = ["routes"]

GET, POST = ["GET"], ["POST"]


async def _exported(request: Request, kind: str) -> Response:
    user = await web.require_user(request)
    view = await pages.get_readable(request, user, request.path_params["id"])
    if not rules.may_manage(user, view.zone_ids):
        raise PermissionDenied(NOT_STAFF)
    name = f"consultazione-{view.consultation.id}-contributi.{kind}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if kind == "csv":
        return Response(export.as_csv(view), media_type="text/csv; charset=utf-8", headers=headers)
    body = json.dumps(export.as_json(view), ensure_ascii=False, indent=2)
    return Response(body, media_type="application/json", headers=headers)


async def export_csv(request: Request) -> Response:
    return await _exported(request, "csv")


async def export_json(request: Request) -> Response:
    return await _exported(request, "json")


def routes() -> list[BaseRoute]:
    """This module's URL map (built by ``create_app``, after the ``id`` convertor)."""
    return [
        Route("/consultations", pages.consultations_list, methods=GET),
        Route("/consultations/new", pages.open_page, methods=GET),
        Route("/consultations/new", pages.open_consultation, methods=POST),
        Route("/consultations/{id:id}", pages.consultation_page, methods=GET),
        Route("/consultations/{id:id}/edit", pages.edit_page, methods=GET),
        Route("/consultations/{id:id}/edit", pages.revise, methods=POST),
        Route("/consultations/{id:id}/extend", pages.extend, methods=POST),
        Route("/consultations/{id:id}/drafts", pages.add_drafts, methods=POST),
        Route("/consultations/{id:id}/delegate", pages.name_delegate, methods=POST),
        Route("/consultations/{id:id}/contributions", contributions.submit, methods=POST),
        Route("/consultations/{id:id}/export.csv", export_csv, methods=GET),
        Route("/consultations/{id:id}/export.json", export_json, methods=GET),
        Route("/contributions/{id:id}", contributions.contribution_page, methods=GET),
        Route("/contributions/{id:id}/edit", contributions.edit, methods=POST),
        Route("/contributions/{id:id}/status", contributions.set_status, methods=POST),
        Route("/contributions/{id:id}/receipt", contributions.receipt, methods=GET),
        Route("/contributions/{id:id}/changes", contributions.changes_page, methods=GET),
    ]
