"""The forms library (*modulistica*) of each theme: documents and their versions.

Domain code: no Starlette. The library is metropolitan (shared by every
zone): reading and adding follow ``can(user, READ/POST, None)``; a new
version may be uploaded by the document's creator or by a moderator of
metropolitan content (CMTo staff and admin). Every version is a
:class:`StoredFile` with ``document_id`` and ``version``; a new version bumps
``Document.version`` and leaves the older files in place, still downloadable.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from collab.audit import audit
from collab.db import UnitOfWork
from collab.documents import notices
from collab.documents.files import keep
from collab.documents.models import Document, StoredFile
from collab.documents.upload import Upload
from collab.errors import ActionError, NotFound, PermissionDenied
from collab.i18n import N_
from collab.models import Theme, User, utcnow
from collab.permissions import Action, can
from collab.realtime.events import DocumentAdded, DocumentVersioned

__all__ = [
    "Entry",
    "check_description",
    "check_note",
    "check_title",
    "do_add_document",
    "do_add_version",
    "get_document",
    "load_entry",
    "may_add",
    "may_read",
    "may_version",
    "search_documents",
    "theme_counts",
    "theme_documents",
]

MIN_TITLE = 3
MAX_TITLE = 200
MAX_DESCRIPTION = 2000
MAX_NOTE = 500

NO_DOCUMENT = N_("This document does not exist.")


@dataclass(frozen=True)
class Entry:
    """A document with the file of its current version (None only if data is broken)."""

    document: Document
    current: StoredFile | None


def may_read(user: User | None) -> bool:
    return user is not None and can(user, Action.READ, None)


def may_add(user: User | None) -> bool:
    return user is not None and can(user, Action.POST, None)


def may_version(user: User | None, document: Document) -> bool:
    """The creator (while they may edit their own content) or a metropolitan moderator."""
    if user is None:
        return False
    if can(user, Action.MODERATE, None):
        return True
    return document.created_by_id == user.id and can(user, Action.EDIT_OWN, None)


def check_title(title: str) -> str:
    title = " ".join(title.split())
    if len(title) < MIN_TITLE:
        raise ActionError(N_("The title must be at least 3 characters long."), field="title")
    if len(title) > MAX_TITLE:
        raise ActionError(N_("The title must be at most 200 characters long."), field="title")
    return title


def check_description(description: str) -> str:
    description = description.replace("\r\n", "\n").strip()
    if len(description) > MAX_DESCRIPTION:
        raise ActionError(
            N_("The description is too long (at most %(max)d characters)."),
            field="description",
            max=MAX_DESCRIPTION,
        )
    return description


def check_note(note: str) -> str:
    note = " ".join(note.split())
    if len(note) > MAX_NOTE:
        raise ActionError(
            N_("The note is too long (at most %(max)d characters)."), field="note", max=MAX_NOTE
        )
    return note


def _check_file(upload: Upload | None) -> Upload:
    if upload is None:
        raise ActionError(N_("Choose a file to upload."), field="file")
    return upload


async def do_add_document(
    uow: UnitOfWork,
    user: User,
    theme: Theme,
    title: str,
    description: str,
    upload: Upload | None,
) -> Document:
    """Add a document (its version 1) to ``theme``'s library."""
    if not may_add(user):
        raise PermissionDenied(N_("You are not allowed to add documents to the library."))
    title = check_title(title)
    description = check_description(description)
    upload = _check_file(upload)
    if not theme.active:
        raise ActionError(N_("This theme is no longer in use."))
    now = utcnow()
    document = Document(
        theme_id=theme.id, title=title, description=description, version=1,
        created_by_id=user.id, created_at=now, updated_at=now,
    )  # fmt: skip
    uow.session.add(document)
    await uow.session.flush()
    # Validation is over: only now do the bytes move under their hash.
    stored = await keep(uow.session, upload, user, document_id=document.id, version=1)
    await uow.session.flush()
    audit(uow.session, user, "document.added", document, title=title, sha256=upload.sha256)
    uow.record(DocumentAdded(zone_id=None, theme_id=theme.id, document_id=document.id))
    await notices.notify_version(uow, user, document, stored)
    return document


async def do_add_version(
    uow: UnitOfWork, user: User, document: Document, upload: Upload | None, note: str
) -> StoredFile:
    """Upload version ``document.version + 1``; the older versions stay."""
    # Locked for the bump: two concurrent uploads must not both take the same
    # number (the unique (document_id, version) constraint is the last guard).
    # OF document: PostgreSQL refuses to lock the outer-joined rows (theme, author).
    current = await uow.session.get(
        Document, document.id, with_for_update={"of": Document}, populate_existing=True
    )
    if current is None:
        raise NotFound(NO_DOCUMENT)
    if not may_version(user, current):
        raise PermissionDenied(
            N_("Only the author of the document or CMTo staff may upload a new version.")
        )
    note = check_note(note)
    upload = _check_file(upload)
    version = current.version + 1
    stored = await keep(
        uow.session, upload, user, document_id=current.id, version=version, note=note
    )
    current.version = version
    current.updated_at = utcnow()
    await uow.session.flush()
    audit(uow.session, user, "document.versioned", current, version=version, sha256=upload.sha256)
    uow.record(
        DocumentVersioned(
            zone_id=None, theme_id=current.theme_id, document_id=current.id, version=version
        )
    )
    await notices.notify_version(uow, user, current, stored)
    return stored


# A document's current file: the stored file of its own version number.
_CURRENT = and_(StoredFile.document_id == Document.id, StoredFile.version == Document.version)


async def theme_documents(session: AsyncSession, theme_id: int) -> list[Entry]:
    """A theme's documents, latest update first, each with its current file (one query)."""
    rows = await session.execute(
        select(Document, StoredFile)
        .outerjoin(StoredFile, _CURRENT)
        .where(Document.theme_id == theme_id)
        .order_by(Document.updated_at.desc(), Document.id.desc())
    )
    return [Entry(document, stored) for document, stored in rows.unique()]


SEARCH_LIMIT = 50
MIN_QUERY = 2


async def search_documents(session: AsyncSession, query: str) -> list[Entry]:
    """Documents of every theme whose title, description or current file name
    contains ``query`` (case apart; ``%`` and ``_`` are plain characters),
    latest update first, at most :data:`SEARCH_LIMIT` (one query)."""
    rows = await session.execute(
        select(Document, StoredFile)
        .outerjoin(StoredFile, _CURRENT)
        .where(
            Document.title.icontains(query, autoescape=True)
            | Document.description.icontains(query, autoescape=True)
            | StoredFile.name.icontains(query, autoescape=True)
        )
        .order_by(Document.updated_at.desc(), Document.id.desc())
        .limit(SEARCH_LIMIT)
    )
    return [Entry(document, stored) for document, stored in rows.unique()]


async def load_entry(session: AsyncSession, document_id: int) -> Entry | None:
    """One document with its current file (one query), or None."""
    row = (
        await session.execute(
            select(Document, StoredFile)
            .outerjoin(StoredFile, _CURRENT)
            .where(Document.id == document_id)
        )
    ).first()
    return Entry(row[0], row[1]) if row is not None else None


async def get_document(
    session: AsyncSession, user: User, document_id: int
) -> tuple[Document, list[StoredFile]]:
    """A document the user may read, with every version, newest first (two queries)."""
    if not may_read(user):
        raise PermissionDenied(N_("You are not allowed to read the library."))
    document = await session.get(Document, document_id)
    if document is None:
        raise NotFound(NO_DOCUMENT)
    versions = await session.scalars(
        select(StoredFile)
        .where(StoredFile.document_id == document.id)
        .order_by(StoredFile.version.desc())
    )
    return document, list(versions)


async def theme_counts(session: AsyncSession) -> list[tuple[Theme, int]]:
    """Every active theme (and any retired one that still has documents), with its count."""
    counts = (
        select(Document.theme_id, func.count(Document.id).label("n"))
        .group_by(Document.theme_id)
        .subquery()
    )
    rows = await session.execute(
        select(Theme, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.theme_id == Theme.id)
        .order_by(Theme.position, Theme.name)
    )
    return [(theme, int(n)) for theme, n in rows if theme.active or n]
