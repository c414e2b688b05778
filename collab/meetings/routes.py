"""The URL map of meetings: lists and convening, the room, the verbale and calendars,
and the zones' public pages."""

from __future__ import annotations

from starlette.routing import BaseRoute

from collab import web  # noqa: F401 - registers the {name:id} URL convertor
from collab.meetings import (
    attachment_routes,
    body_template,
    documents,
    pages,
    public_pages,
    room_routes,
)

__all__ = ["routes"]


def routes() -> list[BaseRoute]:
    """This module's URL map (built by ``create_app``, after the ``id`` convertor)."""
    return [
        *pages.routes(),
        *room_routes.routes(),
        *documents.routes(),
        *attachment_routes.routes(),
        *body_template.routes(),
        *public_pages.routes(),
    ]
