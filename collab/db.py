"""Database engine, sessions and the unit of work that writes go through."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

__all__ = ["Database", "UnitOfWork"]

AfterCommit = Callable[[Sequence[Any]], Awaitable[None]]


def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets readers proceed while one writer commits; foreign keys are off
    # by default in SQLite; the busy timeout queues writers instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 10})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


class UnitOfWork:
    """One transaction. Actions record events on it; they leave only after commit.

    On a successful commit the recorded events are handed, in order, to the
    ``after_commit`` hook (the realtime publisher); on rollback they are
    dropped, so a write that did not happen never announces itself.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.events: list[Any] = []

    def record(self, event: Any) -> None:
        self.events.append(event)


class Database:
    """The engine and session factory of one process."""

    def __init__(self, url: str, after_commit: AfterCommit | None = None) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.after_commit = after_commit

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A read session (no commit)."""
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitOfWork]:
        """A unit of work: commits on success, rolls back on any exception."""
        async with self.sessions() as session:
            uow = UnitOfWork(session)
            try:
                yield uow
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
        if uow.events and self.after_commit is not None:
            await self.after_commit(uow.events)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
