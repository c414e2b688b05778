"""The API's reads: a page of objects, then their zones, themes and files by ``IN``.

Each function runs a fixed number of queries whatever the number of rows, so
a page of results never costs one query per object.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload

from collab.consultations.models import (
    Consultation,
    ConsultationTheme,
    ConsultationZone,
    Contribution,
    ContributionVersion,
)
from collab.consultations.rules import may_read
from collab.documents.models import Document, StoredFile
from collab.models import Theme, User, Zone

__all__ = [
    "consultation_extras",
    "contribution_bodies",
    "document_files",
    "files_by",
    "readable_consultations",
    "zones_of",
]

BATCH = 200  # consultations scanned per round when filtering by permission


async def zones_of(session: AsyncSession, ids: Collection[int]) -> dict[int, list[Zone]]:
    """Each consultation's addressed zones, by zone number."""
    rows = await session.execute(
        select(ConsultationZone.consultation_id, Zone)
        .join(Zone, Zone.id == ConsultationZone.zone_id)
        .where(ConsultationZone.consultation_id.in_(ids))
        .order_by(Zone.number)
    )
    found: dict[int, list[Zone]] = {}
    for consultation_id, zone in rows:
        found.setdefault(consultation_id, []).append(zone)
    return found


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


async def consultation_extras(
    session: AsyncSession, ids: Collection[int]
) -> tuple[dict[int, list[Theme]], dict[int, int]]:
    """Each consultation's themes (by position) and number of contributions."""
    themes: dict[int, list[Theme]] = {}
    rows = await session.execute(
        select(ConsultationTheme.consultation_id, Theme)
        .join(Theme, Theme.id == ConsultationTheme.theme_id)
        .where(ConsultationTheme.consultation_id.in_(ids))
        .order_by(Theme.position, Theme.id)
    )
    for consultation_id, theme in rows:
        themes.setdefault(consultation_id, []).append(theme)
    counts = await session.execute(
        select(Contribution.consultation_id, func.count())
        .where(Contribution.consultation_id.in_(ids))
        .group_by(Contribution.consultation_id)
    )
    return themes, {cid: n for cid, n in counts}


async def files_by(
    session: AsyncSession, column: str, ids: Collection[int]
) -> dict[int, list[StoredFile]]:
    """The stored files whose owner ``column`` (e.g. ``consultation_id``) is in ``ids``."""
    owner = getattr(StoredFile, column)
    rows = await session.scalars(
        select(StoredFile)
        .options(raiseload(StoredFile.uploaded_by))
        .where(owner.in_(ids))
        .order_by(StoredFile.version, StoredFile.id)
    )
    found: dict[int, list[StoredFile]] = {}
    for stored in rows:
        found.setdefault(getattr(stored, column), []).append(stored)
    return found


async def contribution_bodies(
    session: AsyncSession, contributions: Sequence[Contribution]
) -> tuple[dict[int, str], dict[int, list[StoredFile]]]:
    """The current version's HTML and files of each contribution, by contribution id."""
    ids = [c.id for c in contributions]
    rows = await session.execute(
        select(ContributionVersion.id, ContributionVersion.contribution_id,
               ContributionVersion.body_html)
        .join(Contribution, Contribution.id == ContributionVersion.contribution_id)
        .where(ContributionVersion.contribution_id.in_(ids),
               ContributionVersion.number == Contribution.version)
    )  # fmt: skip
    version_of: dict[int, int] = {}
    bodies: dict[int, str] = {}
    for version_id, contribution_id, body_html in rows:
        version_of[version_id] = contribution_id
        bodies[contribution_id] = body_html
    by_version = await files_by(session, "contribution_version_id", version_of)
    files = {version_of[vid]: found for vid, found in by_version.items()}
    return bodies, files


async def document_files(
    session: AsyncSession, documents: Sequence[Document]
) -> dict[int, list[StoredFile]]:
    """Every version file of each library document, oldest version first."""
    return await files_by(session, "document_id", [d.id for d in documents])
