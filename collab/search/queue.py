"""The durable queue of file texts (``file_text``): queue, claim, finish; and what the index reads.

A content is queued with the upload that brings it, in the upload's
transaction (:func:`enqueue`, from :mod:`collab.search.tracking`), once per
SHA-256 whatever the number of files that carry it. An extractor claims due
rows (:func:`claim_due`): an update only one process can win (``FOR UPDATE
SKIP LOCKED`` on PostgreSQL; SQLite serializes writers), valid for
:data:`CLAIM_SECONDS`, so two processes never read the same file at once
and a process killed mid-way leaves a claim that expires. :func:`finish`
writes the outcome only while the claim is still its own, and in the same
transaction re-indexes every item that carries the content
(:func:`owners`): the text is found from that commit on.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from collab.consultations.models import ContributionVersion
from collab.db import Database
from collab.documents.models import Blob, Document, StoredFile
from collab.meetings.models import AgendaItem
from collab.models import utcnow
from collab.search.extract import EXTRACTABLE, MAX_CHARS
from collab.search.models import FileText

__all__ = [
    "CLAIM_SECONDS",
    "DONE",
    "FAILED",
    "MAX_ATTEMPTS",
    "PENDING",
    "SKIPPED",
    "Claimed",
    "attached_text",
    "backoff",
    "claim_due",
    "enqueue",
    "enqueue_missing",
    "finish",
    "owners",
    "owners_with_text",
]

PENDING, DONE, FAILED, SKIPPED = "pending", "done", "failed", "skipped"
#: Attempts at a content before it is left ``failed`` (a time-out each time).
MAX_ATTEMPTS = 3
#: How long a claim holds: well past the time limit of one file.
CLAIM_SECONDS = 120
ERROR_CHARS = 500
#: Characters of file text one item takes in all: two long files, or five of
#: forty pages (a post takes five files).
ITEM_CHARS = 2 * MAX_CHARS


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: 1, 5, 25 minutes..., at most a day."""
    return timedelta(minutes=min(5 ** (attempts - 1), 24 * 60))


async def enqueue(session: AsyncSession, blobs: Iterable[str]) -> None:
    """Queue the contents ``blobs`` (SHA-256s) whose type has a text and that
    are not queued yet, in ``session``'s transaction."""
    wanted = sorted(set(blobs))
    if not wanted:
        return
    rows = await session.execute(
        select(Blob.sha256).where(Blob.sha256.in_(wanted), Blob.content_type.in_(EXTRACTABLE))
    )
    found = [sha256 for (sha256,) in rows]
    if not found:
        return
    now = utcnow()
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # Two uploads of the same bytes at once: the second insert is a no-op.
    await session.execute(
        insert(FileText)
        .values([
            {"sha256": sha256, "state": PENDING, "attempts": 0, "due_at": now, "text": "",
             "error": "", "updated_at": now}
            for sha256 in found
        ])
        .on_conflict_do_nothing(index_elements=["sha256"])
    )  # fmt: skip


async def enqueue_missing(session: AsyncSession) -> None:
    """Queue every stored content with a text that has no row (``collab reindex``
    after restoring files from before migration 0018)."""
    missing = await session.scalars(
        select(Blob.sha256).where(
            Blob.content_type.in_(EXTRACTABLE),
            ~select(FileText.sha256).where(FileText.sha256 == Blob.sha256).exists(),
        )
    )
    await enqueue(session, list(missing))


@dataclass(frozen=True)
class Claimed:
    """A content this process reads until its claim runs out."""

    sha256: str
    content_type: str
    attempts: int
    token: str


async def claim_due(
    database: Database, limit: int, now: datetime | None = None, claim_seconds: int = CLAIM_SECONDS
) -> list[Claimed]:
    """Take up to ``limit`` pending contents that are due and held by no live claim."""
    now = now or utcnow()
    token = secrets.token_hex(16)
    async with database.transaction() as uow:
        session = uow.session
        free = (
            FileText.state == PENDING,
            FileText.due_at <= now,
            or_(FileText.claimed_until.is_(None), FileText.claimed_until < now),
        )
        due = select(FileText.sha256).where(*free).order_by(FileText.due_at).limit(limit)
        if session.get_bind().dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        wanted = list(await session.scalars(due))
        if not wanted:
            return []
        # The conditions again: what another process took meanwhile stays its own.
        await session.execute(
            update(FileText)
            .where(FileText.sha256.in_(wanted), *free)
            .values(claim=token, claimed_until=now + timedelta(seconds=claim_seconds))
        )
        rows = await session.execute(
            select(FileText.sha256, FileText.attempts, Blob.content_type)
            .join(Blob, Blob.sha256 == FileText.sha256)
            .where(FileText.sha256.in_(wanted), FileText.claim == token)
            .order_by(FileText.due_at, FileText.sha256)
        )
        return [Claimed(sha256, kind, attempts, token) for sha256, attempts, kind in rows]


async def finish(
    database: Database,
    claimed: Claimed,
    *,
    text: str | None = None,
    error: str = "",
    skip: bool = False,
) -> str | None:
    """Record the outcome of reading ``claimed``; its new state, None if the claim was lost.

    ``text``: read, the items carrying it are re-indexed in this transaction.
    ``skip``: never to be read (broken, encrypted). Otherwise a failed
    attempt: pending again after :func:`backoff`, or failed after
    :data:`MAX_ATTEMPTS`.
    """
    from collab.search.index import refresh  # index imports the builders, which import this

    attempts = claimed.attempts + 1
    if text is not None:
        state = DONE
    elif skip:
        state = SKIPPED
    else:
        state = FAILED if attempts >= MAX_ATTEMPTS else PENDING
    now = utcnow()
    async with database.transaction(long=True) as uow:  # a file's text: stemmed as indexed
        result = await uow.session.execute(
            update(FileText)
            .where(FileText.sha256 == claimed.sha256, FileText.claim == claimed.token)
            .values(
                state=state, attempts=attempts, text=text or "", error=error[:ERROR_CHARS],
                due_at=now + backoff(attempts), claim=None, claimed_until=None, updated_at=now,
            )
        )  # fmt: skip
        if not int(getattr(result, "rowcount", 0) or 0):
            return None  # the claim ran out and another process holds it now
        if state == DONE and text:
            await refresh(uow.session, await owners(uow.session, claimed.sha256))
    return state


async def owners(session: AsyncSession, sha256: str) -> list[tuple[str, int]]:
    """The index targets of every item carrying the content ``sha256``."""
    found: list[tuple[str, int]] = []
    rows = await session.execute(
        select(
            StoredFile.post_id, StoredFile.consultation_id, StoredFile.document_id,
            ContributionVersion.contribution_id, AgendaItem.meeting_id,
        )
        .outerjoin(
            ContributionVersion, ContributionVersion.id == StoredFile.contribution_version_id
        )
        .outerjoin(AgendaItem, AgendaItem.id == StoredFile.agenda_item_id)
        .where(StoredFile.sha256 == sha256)
    )  # fmt: skip
    kinds = ("post", "consultation", "document", "contribution", "meeting")
    for row in rows:
        found.extend((kind, owner) for kind, owner in zip(kinds, row, strict=True) if owner)
    return list(dict.fromkeys(found))


async def owners_with_text(
    session: AsyncSession, after: str, limit: int
) -> tuple[str, list[tuple[str, int]]]:
    """The targets carrying the next ``limit`` contents read (SHA-256 above
    ``after``), and the cursor for the next call ("" when done)."""
    read = list(
        await session.scalars(
            select(FileText.sha256)
            .where(FileText.sha256 > after, FileText.state == DONE, FileText.text != "")
            .order_by(FileText.sha256)
            .limit(limit)
        )
    )
    targets: list[tuple[str, int]] = []
    for sha256 in read:
        targets.extend(await owners(session, sha256))
    return (read[-1] if len(read) == limit else ""), list(dict.fromkeys(targets))


async def attached_text(session: AsyncSession, column: str, owner_ids: Sequence[int]) -> str:
    """The text read from the files of ``owner_ids`` (``column``: a
    :data:`collab.documents.files.OWNERS` column), in upload order."""
    if not owner_ids:
        return ""
    texts = await session.scalars(
        select(FileText.text)
        .join(StoredFile, StoredFile.sha256 == FileText.sha256)
        .where(getattr(StoredFile, column).in_(owner_ids), FileText.state == DONE)
        .order_by(StoredFile.id)
    )
    return " ".join(text for text in texts if text)[:ITEM_CHARS]


async def document_text(session: AsyncSession, document: Document) -> str:
    """The text of ``document``'s current version."""
    text = await session.scalar(
        select(FileText.text)
        .join(StoredFile, StoredFile.sha256 == FileText.sha256)
        .where(
            StoredFile.document_id == document.id,
            StoredFile.version == document.version,
            FileText.state == DONE,
        )
    )
    return text or ""
