"""Downloading a stored file: ``GET /files/<id>/<name>``, for those who may read its owner.

Always an attachment (``Content-Disposition: attachment``), never sniffed by
the browser (``X-Content-Type-Options: nosniff``) and sandboxed should one be
opened anyway; ranges come from Starlette's ``FileResponse`` (resumable
downloads of large files). Anyone who may not read the owner gets a 404, the
same as for a file that does not exist, so a file's existence is not revealed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from collab import web
from collab.documents import files
from collab.documents.models import StoredFile
from collab.documents.names import content_disposition
from collab.documents.store import FileStore
from collab.errors import NotFound
from collab.i18n import N_

__all__ = ["download", "file_store", "file_url", "routes", "stored_file_response"]

NO_FILE = N_("This file does not exist or you may not read it.")


def file_store(request: Request) -> FileStore:
    return FileStore(web.settings(request).files_dir)


def file_url(stored: StoredFile) -> str:
    return f"/files/{stored.id}/{stored.name}"


async def download(request: Request) -> Response:
    user = await web.require_user(request)
    async with web.db(request).session() as session:
        stored = await session.get(StoredFile, request.path_params["id"])
        if stored is None or not await files.may_read(session, user, stored):
            raise NotFound(NO_FILE)
    path = file_store(request).path(stored.sha256)
    if not path.is_file():
        raise NotFound(NO_FILE)
    return stored_file_response(path, stored)


def stored_file_response(
    path: Path,
    stored: StoredFile,
    *,
    cache: str = "private, max-age=0, must-revalidate",
    headers: Mapping[str, str] | None = None,
) -> FileResponse:
    """``stored``'s bytes at ``path`` as a download: an attachment, never
    sniffed, sandboxed should it be opened; ``headers`` added."""
    return FileResponse(
        path,
        media_type=stored.content_type,
        headers={
            "Content-Disposition": content_disposition(stored.name),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": cache,
            **(headers or {}),
        },
    )


def routes() -> list[BaseRoute]:
    """This module's URL map (built by ``create_app``, after the ``id`` convertor)."""
    return [
        Route("/files/{id:id}/{name:str}", download, methods=["GET", "HEAD"]),
    ]
