"""The API's own reads: a page of readable consultations, the files of library documents.

The rest (zones, themes, counts, contributions with their current version and
files) comes from :mod:`collab.consultations.queries`, which the pages use too.

Each function runs a fixed number of queries whatever the number of rows, so
a page of results never costs one query per object.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload

from collab.consultations.models import (
    Consultation,
)
from collab.consultations.queries import zones_of
from collab.consultations.rules import may_read
from collab.documents.files import files_of
from collab.documents.models import Document, StoredFile
from collab.models import User, Zone

__all__ = ["document_files", "readable_consultations"]

BATCH = 200  # consultations scanned per round when filtering by permission


async def readable_consultations(
    session: AsyncSession, user: User, limit: int, before: int | None
) -> tuple[list[Consultation], dict[int, list[Zone]], bool]:
    """Up to ``limit`` consultations ``user`` may read, newest first, below ``before``.

    Readability is :func:`collab.consultations.rules.may_read` on the zones, so
    the scan goes in batches of ids (each with one zones query) until the page
    is full. Returns the page, its zones and whether more follow.
    """
    picked: list[int] = []
    zones: dict[int, list[Zone]] = {}
    cursor = before
    while len(picked) <= limit:
        query = select(Consultation.id).order_by(Consultation.id.desc()).limit(BATCH)
        if cursor is not None:
            query = query.where(Consultation.id < cursor)
        ids = list(await session.scalars(query))
        if not ids:
            break
        batch_zones = await zones_of(session, ids)
        for cid in ids:
            if may_read(user, {z.id for z in batch_zones.get(cid, [])}):
                picked.append(cid)
                zones[cid] = batch_zones.get(cid, [])
        if len(ids) < BATCH:
            break
        cursor = ids[-1]
    more = len(picked) > limit
    picked = picked[:limit]
    rows = await session.scalars(
        select(Consultation)
        .options(raiseload(Consultation.created_by))
        .where(Consultation.id.in_(picked))
        .order_by(Consultation.id.desc())
    )
    return list(rows), {cid: zones[cid] for cid in picked}, more


async def document_files(
    session: AsyncSession, documents: Sequence[Document]
) -> dict[int, list[StoredFile]]:
    """Every version file of each library document, oldest version first."""
    return await files_of(session, "document_id", [d.id for d in documents])
