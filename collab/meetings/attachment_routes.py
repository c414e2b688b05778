"""``POST /meetings/{id}/items/{item}/files``: the chair attaches documents to an agenda item.

A multipart upload form (progress bar, CSRF token in the query or the htmx
header). Without JavaScript it answers 303 back to the room; with htmx, the
room's agenda region. 403 (not the chair), 404, 409 (closed or cancelled),
413 and 415 go to the app's error handlers; the files of a refused request
are deleted.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from collab import web
from collab.documents.download import file_store
from collab.meetings.actions import get_readable_room
from collab.meetings.attachments import MAX_FILES, check_attach, do_attach
from collab.meetings.room_views import region_context, view_for
from collab.uploads import read_upload

__all__ = ["attach_files", "routes"]


async def attach_files(request: Request) -> Response:
    user = await web.require_user(request)
    meeting_id: int = request.path_params["id"]
    item_id: int = request.path_params["item"]
    async with web.db(request).session() as session:
        # Before the body is read: who may not attach here, or not now, uploads nothing.
        check_attach(user, await get_readable_room(session, user, meeting_id), item_id)
    limit = web.settings(request).upload_max_bytes
    async with await read_upload(request, file_store(request), limit, MAX_FILES) as form:
        error = await web.attempt(
            request,
            lambda uow: do_attach(uow, user, meeting_id, item_id, form.files_of("files")),
        )
    if error is not None:
        return await web.error_response(request, 422, error["error"])
    if not web.is_htmx(request):
        return web.redirect(request, f"/meetings/{meeting_id}")
    async with web.db(request).session() as session:
        room = await get_readable_room(session, user, meeting_id)
    context = region_context(view_for(user, room), web.locale_of(request))
    return await web.render(request, "meetings/_room_agenda.html", context)


def routes() -> list[BaseRoute]:
    """This module's URL map (built by ``create_app``, after the ``id`` convertor)."""
    return [
        Route("/meetings/{id:id}/items/{item:id}/files", attach_files, methods=["POST"]),
    ]
