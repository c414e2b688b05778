"""Stored files in the database: keeping an upload for its owner, and who may read it.

Domain code: no Starlette. An action calls :func:`keep` inside its
transaction: the bytes move under their hash before the row commits, so a
committed row always has its content (an uncommitted content is an orphan the
housekeeping sweeps). Reading a file is reading its owner: :func:`may_read`
asks the owner's own rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio.to_thread
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from collab.consultations import rules as consultation_rules
from collab.consultations.models import ConsultationZone, Contribution, ContributionVersion
from collab.documents.models import Blob, StoredFile
from collab.documents.upload import Upload
from collab.forums.models import Post, Thread
from collab.meetings import rules as meeting_rules
from collab.meetings.models import AgendaItem
from collab.models import User, utcnow
from collab.permissions import Action, can

__all__ = ["OWNERS", "copy_file", "files_of", "keep", "may_read"]

OWNERS = ("document_id", "consultation_id", "contribution_version_id", "post_id", "agenda_item_id")


async def keep(session: AsyncSession, upload: Upload, user: User, **owner: Any) -> StoredFile:
    """Store ``upload`` for ``owner`` (one of :data:`OWNERS`, with ``version`` for documents).

    No owner: a row elsewhere points at the file and says who may read it
    (a verbale's signed copy, ``Verbale.signed_file_id``); :func:`may_read`
    answers no for it, its owner serves it.
    """
    assert set(owner) - {"version", "note"} <= set(OWNERS), owner
    # Two requests may bring the same bytes at once: the second insert is a no-op.
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        insert(Blob)
        .values(sha256=upload.sha256, size=upload.size, content_type=upload.kind.mime,
                created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["sha256"])
    )  # fmt: skip
    await anyio.to_thread.run_sync(upload.incoming.keep)
    upload.kept = True
    stored = StoredFile(
        sha256=upload.sha256,
        name=upload.name,
        content_type=upload.kind.mime,
        size=upload.size,
        uploaded_by_id=user.id,
        **owner,
    )
    session.add(stored)
    return stored


def copy_file(stored: StoredFile, **owner: Any) -> StoredFile:
    """The same content under another owner (a new version keeping a file)."""
    return StoredFile(
        sha256=stored.sha256,
        name=stored.name,
        content_type=stored.content_type,
        size=stored.size,
        uploaded_by_id=stored.uploaded_by_id,
        created_at=stored.created_at,
        **owner,
    )


async def files_of(
    session: AsyncSession, column: str, ids: Sequence[int]
) -> dict[int, list[StoredFile]]:
    """The files of many owners at once (``column`` one of :data:`OWNERS`), by owner id."""
    found: dict[int, list[StoredFile]] = {i: [] for i in ids}
    if not ids:
        return found
    attr = getattr(StoredFile, column)
    rows = await session.scalars(select(StoredFile).where(attr.in_(ids)).order_by(StoredFile.id))
    for stored in rows:
        found[getattr(stored, column)].append(stored)
    return found


async def _consultation_zones(session: AsyncSession, consultation_id: int) -> set[int]:
    rows = await session.scalars(
        select(ConsultationZone.zone_id).where(ConsultationZone.consultation_id == consultation_id)
    )
    return set(rows)


async def may_read(session: AsyncSession, user: User | None, stored: StoredFile) -> bool:
    """Whoever may read the file's owner may download the file."""
    if user is None or not user.active:
        return False
    if stored.document_id is not None:
        return can(user, Action.READ, None)  # the forms library is metropolitan
    if stored.consultation_id is not None:
        zones = await _consultation_zones(session, stored.consultation_id)
        return consultation_rules.may_read(user, zones)
    if stored.contribution_version_id is not None:
        version = await session.get(ContributionVersion, stored.contribution_version_id)
        if version is None:
            return False
        contribution = await session.get(Contribution, version.contribution_id)
        if contribution is None:
            return False
        zones = await _consultation_zones(session, contribution.consultation_id)
        return consultation_rules.may_read(user, zones)
    if stored.post_id is not None:
        post = await session.get(Post, stored.post_id)
        thread = await session.get(Thread, post.thread_id) if post is not None else None
        if post is None or thread is None or not can(user, Action.READ, thread.zone_id):
            return False
        return not post.deleted or can(user, Action.MODERATE, thread.zone_id)
    if stored.agenda_item_id is not None:
        item = await session.get(AgendaItem, stored.agenda_item_id)
        if item is None:
            return False
        return meeting_rules.may_read(
            user, await meeting_rules.meeting_zone_ids(session, item.meeting_id)
        )
    return False
