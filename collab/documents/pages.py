"""Pages of the forms library: the themes, a theme's documents, a document's versions.

Uploads are streamed (:func:`collab.uploads.read_upload`) only after the
permission checks, so a user who may not write never costs a body's worth of
disk. Bad input answers the form again (422) for a plain post, or the error
alert for htmx (the upload form stays as the user filled it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from collab import web
from collab.db import UnitOfWork
from collab.documents import library
from collab.documents.download import file_store
from collab.documents.models import Document
from collab.documents.upload import FILES_PER_FORM
from collab.errors import ActionError, PermissionDenied
from collab.forums.actions import get_theme
from collab.forums.follows import follows_theme
from collab.forums.tracking import follow_library_theme
from collab.i18n import N_
from collab.models import Theme, User
from collab.realtime.events import library_topic
from collab.realtime.log import last_seqs
from collab.uploads import read_upload

__all__ = [
    "add_document",
    "add_version",
    "document_page",
    "library_page",
    "routes",
    "theme_page",
]

NO_LIBRARY = N_("You are not allowed to read the library.")
NO_ADD = N_("You are not allowed to add documents to the library.")
NO_VERSION = N_("Only the author of the document or CMTo staff may upload a new version.")
THEME_RETIRED = N_("This theme is no longer in use.")


async def _reader(request: Request) -> User:
    user = await web.require_user(request)
    if not library.may_read(user):
        raise PermissionDenied(NO_LIBRARY)
    return user


async def library_page(request: Request) -> Response:
    """The themes with their counts; ``?q=`` searches every theme's documents."""
    await _reader(request)
    # PostgreSQL refuses NUL in a text parameter: drop it, as web.field does.
    query = " ".join(request.query_params.get("q", "").replace("\x00", "").split())[:120]
    results: list[library.Entry] | None = None
    async with web.db(request).session() as session:
        themes = await library.theme_counts(session)
        if len(query) >= library.MIN_QUERY:
            results = await library.search_documents(session, query)
    context = {"themes": themes, "query": query, "results": results,
               "limit": library.SEARCH_LIMIT, "min_query": library.MIN_QUERY}  # fmt: skip
    return await web.render(request, "documents/library.html", context)


async def _theme_page(
    request: Request, user: User, theme: Theme, status: int = 200, **extra: Any
) -> Response:
    async with web.db(request).session() as session:
        topic = library_topic(theme.id)
        live_topics = await last_seqs(session, [topic])  # before the content
        entries = await library.theme_documents(session, theme.id)
        following = await follows_theme(session, user.id, theme.id, None)
    context = {"theme": theme, "entries": entries, "live_topics": live_topics, "topic": topic,
               "may_add": library.may_add(user) and theme.active,
               "theme_follow_url": f"/library/{theme.slug}/follow", "following_theme": following,
               **extra}  # fmt: skip
    return await web.render(request, "documents/theme.html", context, status_code=status)


async def theme_page(request: Request) -> Response:
    user = await _reader(request)
    async with web.db(request).session() as session:
        theme = await get_theme(session, request.path_params["theme"])
    return await _theme_page(request, user, theme)


async def _error(request: Request, error: dict[str, Any]) -> Response | None:
    """The htmx answer to bad input (an alert); None for a plain post."""
    if web.is_htmx(request):
        return await web.error_response(request, 422, error["error"])
    return None


async def add_document(request: Request) -> Response:
    user = await _reader(request)
    async with web.db(request).session() as session:
        theme = await get_theme(session, request.path_params["theme"])
    if not library.may_add(user):
        raise PermissionDenied(NO_ADD)
    if not theme.active:  # what do_add_document says, before any byte arrives
        raise ActionError(THEME_RETIRED)
    created: list[Document] = []
    limit = web.settings(request).upload_max_bytes
    async with await read_upload(
        request, file_store(request), limit, FILES_PER_FORM["document"]
    ) as form:
        title, description = form.get("title"), form.get("description")
        upload = next(iter(form.files_of("file")), None)

        async def write(uow: UnitOfWork) -> None:
            created.append(
                await library.do_add_document(uow, user, theme, title, description, upload)
            )

        error = await web.attempt(request, write)
    if error is not None:
        return await _error(request, error) or await _theme_page(
            request, user, theme, 422, title=title, description=description, **error
        )
    return web.redirect(request, f"/documents/{created[0].id}")


async def _document_page(
    request: Request, user: User, document_id: int, status: int = 200, **extra: Any
) -> Response:
    async with web.db(request).session() as session:
        theme_id = await session.scalar(select(Document.theme_id).where(Document.id == document_id))
        topics = [library_topic(theme_id)] if theme_id is not None else []
        live_topics = await last_seqs(session, topics)  # before the content
        document, versions = await library.get_document(session, user, document_id)
    context = {"document": document, "versions": versions, "live_topics": live_topics,
               "may_version": library.may_version(user, document), **extra}  # fmt: skip
    return await web.render(request, "documents/document.html", context, status_code=status)


async def document_page(request: Request) -> Response:
    user = await web.require_user(request)
    return await _document_page(request, user, request.path_params["id"])


async def add_version(request: Request) -> Response:
    user = await web.require_user(request)
    async with web.db(request).session() as session:
        document, _ = await library.get_document(session, user, request.path_params["id"])
    if not library.may_version(user, document):
        raise PermissionDenied(NO_VERSION)
    limit = web.settings(request).upload_max_bytes
    async with await read_upload(
        request, file_store(request), limit, FILES_PER_FORM["document"]
    ) as form:
        note = form.get("note")
        upload = next(iter(form.files_of("file")), None)

        async def write(uow: UnitOfWork) -> None:
            await library.do_add_version(uow, user, document, upload, note)

        error = await web.attempt(request, write)
    if error is not None:
        if (answer := await _error(request, error)) is not None:
            return answer
        return await _document_page(request, user, document.id, 422, note=note, **error)
    return web.redirect(request, f"/documents/{document.id}")


def routes() -> list[BaseRoute]:
    """This module's URL map (built by ``create_app``, after the ``id`` convertor)."""
    return [
        Route("/library", library_page, methods=["GET"]),
        Route("/library/{theme:str}", theme_page, methods=["GET"]),
        Route("/library/{theme:str}/new", add_document, methods=["POST"]),
        Route("/library/{theme:str}/follow", follow_library_theme, methods=["POST"]),
        Route("/documents/{id:id}", document_page, methods=["GET"]),
        Route("/documents/{id:id}/versions", add_version, methods=["POST"]),
    ]
