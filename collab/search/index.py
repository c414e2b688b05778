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

from collab.consultations.models import Consultation
from collab.db import Database
from collab.forums.models import Post, Thread
from collab.meetings.models import Meeting
from collab.search.bulk import READERS, Reader
from collab.search.documents import Target, docs_for
from collab.search.engine import Engine
from collab.search.models import SearchItem
from collab.search.postgres import PostgresEngine
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
    them is the thread's business.
    """
    engine = engine_for(session)
    todo = list(dict.fromkeys(targets))
    done: set[Target] = set()
    while todo:
        target = todo.pop(0)
        if target in done:
            continue
        done.add(target)
        if target[0] == "thread":
            todo.extend(await _moved_posts(session, target[1]))
        for item, doc in await docs_for(session, target):
            if doc is None:
                await engine.drop(session, item)
            else:
                await engine.put(session, doc)


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
    sources = (
        ("thread", Thread.id),
        ("post", Post.id),
        ("consultation", Consultation.id),
        ("meeting", Meeting.id),
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
    return count


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
