"""Keeping the index: write what changed in the write's own transaction, or rebuild it all.

:func:`refresh` is what :mod:`collab.search.tracking` calls before a commit;
:func:`reindex` is ``collab reindex``. Both read each target through
:func:`collab.search.documents.docs_for`, so an item is indexed the same
way whichever path wrote it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from collab.consultations.models import Consultation, ContributionVersion
from collab.db import Database
from collab.documents.models import Document
from collab.forums.models import Post, Thread
from collab.meetings.models import AgendaItem, Meeting
from collab.search.bulk import READERS, Reader
from collab.search.documents import Target, docs_for
from collab.search.engine import Engine
from collab.search.models import SearchItem
from collab.search.postgres import PostgresEngine
from collab.search.queue import enqueue_missing, owners_with_text
from collab.search.sqlite import SqliteEngine

__all__ = ["engine_for", "refresh", "reindex"]

_ENGINES: dict[str, Engine] = {"postgresql": PostgresEngine(), "sqlite": SqliteEngine()}
# Targets rebuilt per transaction by ``collab reindex``.
BATCH = 200


def engine_for(session: AsyncSession) -> Engine:
    """The engine of the database ``session`` talks to."""
    assert session.bind is not None
    return _ENGINES[session.bind.dialect.name]


async def refresh(session: AsyncSession, targets: Iterable[Target]) -> None:
    """Write the current state of ``targets`` into the index, in ``session``'s transaction.

    A thread that changed zone or theme takes its posts along: who may find
    them is the thread's business. A contribution's version and an agenda
    item (owners of a stored file) stand for their contribution and meeting.
    """
    engine = engine_for(session)
    todo = list(dict.fromkeys(targets))
    done: set[Target] = set()
    while todo:
        target = todo.pop(0)
        if target in done:
            continue
        done.add(target)
        parent = _PARENTS.get(target[0])
        if parent is not None:
            kind, column, key = parent
            found = await session.scalar(select(column).where(key == target[1]))
            if found is not None:
                todo.append((kind, found))
            continue
        if target[0] == "thread":
            todo.extend(await _moved_posts(session, target[1]))
        for item, doc in await docs_for(session, target):
            if doc is None:
                await engine.drop(session, item)
            else:
                await engine.put(session, doc)


# Owners of files that are no item themselves -> (the item's kind, its id, the key).
_PARENTS = {
    "contribution_version": (
        "contribution",
        ContributionVersion.contribution_id,
        ContributionVersion.id,
    ),
    "agenda_item": ("meeting", AgendaItem.meeting_id, AgendaItem.id),
}


async def _moved_posts(session: AsyncSession, thread_id: int) -> list[Target]:
    """The posts of ``thread_id`` when it is not where the index has it."""
    thread = await session.get(Thread, thread_id)
    indexed = (
        await session.execute(
            select(SearchItem.zone_id, SearchItem.theme_id).where(
                SearchItem.kind == "thread", SearchItem.object_id == thread_id
            )
        )
    ).first()
    if thread is None or indexed is None or tuple(indexed) == (thread.zone_id, thread.theme_id):
        return []
    posts = await session.scalars(select(Post.id).where(Post.thread_id == thread_id))
    return [("post", post_id) for post_id in posts]


async def reindex(database: Database) -> int:
    """Empty the index and write every item again; how many targets were read.

    Idempotent: the index ends as the data says, whatever it held before.
    Each batch is its own transaction, so a long rebuild holds no lock for long.
    A kind with a batch reader (:data:`collab.search.bulk.READERS`) is read
    hundreds of items a query; any other target by target through ``docs_for``.
    """
    async with database.transaction() as uow:
        await engine_for(uow.session).clear(uow.session)
        # Contents never queued (files restored from before migration 0018):
        # the extractors read them and index their items again after.
        await enqueue_missing(uow.session)
    sources = (
        ("thread", Thread.id),
        ("post", Post.id),
        ("consultation", Consultation.id),
        ("meeting", Meeting.id),
        ("document", Document.id),
    )
    count = 0
    for kind, column in sources:
        if kind in READERS:
            count += await _rebuild(database, READERS[kind])
            continue
        last = 0
        while True:
            async with database.transaction() as uow:
                ids = list(
                    await uow.session.scalars(
                        select(column).where(column > last).order_by(column).limit(BATCH)
                    )
                )
                # A consultation brings its contributions along.
                await refresh(uow.session, [(kind, object_id) for object_id in ids])
            if not ids:
                break
            count += len(ids)
            last = ids[-1]
    await _with_files(database)
    return count


async def _with_files(database: Database) -> None:
    """The items that carry a file already read, through ``docs_for`` again:
    whatever read them in batches, their bodies end with their files' text."""
    cursor = ""
    while True:
        async with database.transaction() as uow:
            cursor, targets = await owners_with_text(uow.session, cursor, BATCH)
            await refresh(uow.session, targets)
        if not cursor:
            return


async def _rebuild(database: Database, reader: Reader) -> int:
    """One kind through its batch reader (:mod:`collab.search.bulk`): each
    batch read and written in a transaction of its own."""
    count, cursor, more = 0, None, True
    while more:
        async with database.transaction() as uow:
            batch = await reader(uow.session, cursor)
            await engine_for(uow.session).put_many(uow.session, batch.docs)
        count += batch.targets
        cursor, more = batch.cursor, batch.cursor is not None
    return count
