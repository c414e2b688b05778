"""Database engine, sessions and the unit of work that writes go through."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Protocol

import asyncpg
from sqlalchemy import event, exc, text, update
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry

from collab import sqlite_trips
from collab.prepared import Prepared
from collab.search.text import add_sqlite_functions
from collab.search.tracking import index_before_commit

__all__ = [
    "Database",
    "EventSink",
    "UnitOfWork",
    "WriteTurnTimeout",
    "WriterQueue",
    "bump_revision",
    "is_unavailable",
]

AfterCommit = Callable[[Sequence[Any]], Awaitable[None]]
log = logging.getLogger(__name__)


class EventSink(Protocol):
    """Where committed events go (``collab.realtime.publisher.Publisher``).

    ``append`` runs inside the transaction, before commit (the durable log);
    ``publish`` runs after a successful commit, with what ``append`` returned.
    """

    async def append(self, session: AsyncSession, events: Sequence[Any]) -> Sequence[Any]: ...

    async def publish(self, logged: Sequence[Any]) -> None: ...


# How long a SQLite writer waits for another's write lock before giving up
# (then the request answers 503): a write lock held longer is an outage.
SQLITE_BUSY_MS = 10_000
# How long a SQLite writer waits for its turn among this process's writers
# (WriterQueue) before giving up the same way. Apart from SQLITE_BUSY_MS: the
# turn is held from the transaction's first statement, reads included, and
# a turn ahead may itself spend the busy timeout on another process's lock.
WRITE_TURN_S = 10.0


def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets readers proceed while one writer commits; foreign keys are off
    # by default in SQLite; the busy timeout queues writers instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Commits never checkpoint: a write transaction commits on the event
    # loop's thread (collab/sqlite_trips.py), and a checkpoint writes the
    # database file and syncs it. Checkpointer does it in the thread.
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()
    # search_item's triggers write search_fts with its stems (migration 0022).
    add_sqlite_functions(dbapi_conn)


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        # One trip to aiosqlite's thread per statement (collab/sqlite_trips.py).
        module = sqlite_trips.dbapi()
        engine = create_async_engine(
            url,
            # A write transaction runs on the loop's thread (sqlite_trips.go_inline).
            connect_args={"timeout": SQLITE_BUSY_MS / 1000, "check_same_thread": False},
            **({"module": module} if module is not None else {}),
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "checkin", sqlite_trips.leave_inline)
        return engine
    # A server that does not answer fails a request in seconds (then 503),
    # not after asyncpg's minute or the pool's half minute. No JIT: our
    # statements are short, and a search over a common word (27,000
    # matches) crossed the planner's JIT cost threshold and spent 12 ms
    # compiling for a 40 ms query (EXPLAIN ANALYZE, bench.search's data).
    return create_async_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=10, pool_timeout=10,
        connect_args={"timeout": 5, "server_settings": {"jit": "off"}},
    )  # fmt: skip


# SQLite's own words for "another process holds the database": the busy
# timeout ran out, or the file cannot be opened right now.
_SQLITE_BUSY = ("database is locked", "unable to open database", "disk i/o error")
# What asyncpg raises, bare or wrapped, when the server is gone, starting,
# stopping or refusing connections.
_PG_DOWN = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InterfaceError,
)


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database cannot be reached *now* (an outage,
    a restart, a long write lock: answer 503 and retry later), as opposed to
    a bug (answer 500). Nothing was written either way: the transaction rolled
    back."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (exc.TimeoutError, ConnectionError, TimeoutError, *_PG_DOWN)):
            return True  # the pool waited in vain, or the socket failed
        if isinstance(current, exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, exc.OperationalError | exc.InterfaceError):
            message = str(current.orig if current.orig is not None else current).lower()
            if "sqlite" not in type(current.orig).__module__:
                return True  # PostgreSQL: a lost or refused connection
            if any(words in message for words in _SQLITE_BUSY):
                return True
        current = current.__cause__ or current.__context__
    return False


class WriteTurnTimeout(exc.TimeoutError):
    """No write turn came in time: the database is as good as unavailable
    (a 503, like SQLite's own busy timeout; the app's database-error handler
    and :func:`is_unavailable` take it as SQLAlchemy's pool timeout)."""


class WriterQueue:
    """One write transaction at a time in this process, in the order they asked.

    SQLite has one write lock per database file. Left to itself, each writer
    that finds it taken sleeps in SQLite's busy handler, in growing steps (up
    to 100 ms), and tries again, in no particular order: under ten writers a
    few wait for seconds while the lock sits free between their naps. Queued
    here instead, the next writer starts the moment the last one commits,
    first come first served (``asyncio.Lock`` wakes its waiters in order).
    Other processes on the same file still meet at SQLite's busy timeout.

    Re-entrant per task: a transaction opened while the same task holds the
    turn runs within it rather than waiting for itself (what it meets at
    SQLite is unchanged). A task that waits longer than ``timeout`` seconds
    gets ``TimeoutError`` (a 503, as SQLite's own busy timeout would give);
    one cancelled while waiting leaves the queue as it was.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._owner: asyncio.Task[Any] | None = None

    @property
    def busy(self) -> bool:
        return self._lock is not None and self._lock.locked()

    def _current_lock(self) -> asyncio.Lock:
        # A lock belongs to one event loop; a Database may outlive one
        # (tests, the CLI's asyncio.run calls): each loop gets its own.
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:
            self._lock, self._loop, self._owner = asyncio.Lock(), loop, None
        return self._lock

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        lock = self._current_lock()
        if task is not None and self._owner is task:
            yield  # nested in this task's own turn
            return
        try:
            async with asyncio.timeout(self.timeout):
                await lock.acquire()
        except TimeoutError as exc:
            holder = self._owner.get_name() if self._owner is not None else "?"
            raise WriteTurnTimeout(
                f"no write turn in {self.timeout:g} s (held by {holder})"
            ) from exc
        self._owner = task
        try:
            yield
        finally:
            self._owner = None
            lock.release()


class UnitOfWork:
    """One transaction. Actions record events on it; they leave only after commit.

    On a successful commit the recorded events are handed, in order, to the
    ``after_commit`` hook (the realtime publisher); on rollback they are
    dropped, so a write that did not happen never announces itself.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.events: list[Any] = []
        self._last: list[Any] = []

    def record(self, event: Any) -> None:
        self.events.append(event)

    def last(self, statement: Prepared, params: dict[str, Any]) -> None:
        """Run ``statement`` at the end of the transaction, just before the
        event log and the commit: an UPDATE of a row that many writers share
        (a thread's post count) holds its lock on PostgreSQL for the fewest
        statements. Nothing in the transaction may read what it changes."""
        self._last.append((statement, params))

    async def run_last(self) -> None:
        statements, self._last = self._last, []
        for statement, params in statements:
            await statement.run(self.session, params)


# SQLite: commits between two checkpoints of the WAL. A reply adds 10-40
# pages to it, so it stays within a few megabytes (SQLite's own default is
# a checkpoint at 1,000 pages, by whichever commit crosses them).
CHECKPOINT_EVERY = 100


class Checkpointer:
    """Copies the WAL back into the database file every :data:`CHECKPOINT_EVERY`
    commits of this process, off the write path.

    Commits do not checkpoint (``wal_autocheckpoint=0``): they run on the
    event loop's thread, and a checkpoint writes the database file and
    syncs it. This one runs in aiosqlite's thread, one at a time, PASSIVE:
    readers and writers go on meanwhile; frames it could not copy yet (a
    reader still uses them) are copied by the next. SQLite checkpoints once
    more when the last connection closes.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.commits = 0
        self._task: asyncio.Task[None] | None = None

    def committed(self) -> None:
        self.commits += 1
        if self.commits < CHECKPOINT_EVERY or (self._task is not None and not self._task.done()):
            return
        self.commits = 0
        self._task = asyncio.get_running_loop().create_task(self.run(), name="wal-checkpoint")

    async def run(self) -> None:
        try:
            async with self.engine.connect() as conn:
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:
            log.warning("WAL checkpoint failed; the next one will try again", exc_info=True)

    async def stop(self) -> None:
        if self._task is not None:
            await asyncio.wait([self._task], timeout=WRITE_TURN_S)


class Database:
    """The engine and session factory of one process."""

    def __init__(
        self, url: str, after_commit: AfterCommit | None = None, sink: EventSink | None = None
    ) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = async_sessionmaker(
            self.engine,
            expire_on_commit=False,
            sync_session_class=sqlite_trips.WriteSession if url.startswith("sqlite") else Session,
        )
        self.after_commit = after_commit
        self.sink = sink
        # SQLite only: PostgreSQL locks rows, and its writers run side by side.
        self.writers = WriterQueue(WRITE_TURN_S) if url.startswith("sqlite") else None
        self.checkpoints = Checkpointer(self.engine) if url.startswith("sqlite") else None

    @contextlib.asynccontextmanager
    async def session(self, *, quick: bool = False) -> AsyncIterator[AsyncSession]:
        """A read session (no commit).

        ``quick``: a read or two by key (every request's session, a write's
        check before its body is read). On SQLite they run on the event
        loop's thread, like a write's statements, instead of a trip each to
        aiosqlite's thread: a reader waits for no lock in WAL mode, and the
        rare one that finds the database busy goes to the thread
        (:func:`collab.sqlite_trips.go_inline`).
        """
        async with self.sessions() as session:
            if quick and self.writers is not None:
                sqlite_trips.go_inline(session, SQLITE_BUSY_MS)
            yield session

    async def read(self, statement: Prepared, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """``statement``'s rows, outside any session: a read by key that every
        request makes (its session row), for less than a session's own cost
        (:meth:`collab.prepared.Prepared.read`)."""
        return await statement.read(self.engine, params, SQLITE_BUSY_MS)

    @contextlib.asynccontextmanager
    async def transaction(self, *, long: bool = False) -> AsyncIterator[UnitOfWork]:
        """A unit of work: commits on success, rolls back on any exception.

        On SQLite it waits for its turn in :class:`WriterQueue` first and
        holds it until the commit or rollback (not through the after-commit
        hook and the publishing, which write nothing here). Its statements
        run on the event loop's thread (:func:`collab.sqlite_trips.go_inline`),
        unless ``long``: a write that may take long (a sweep of thousands of
        rows, a file's text to index) keeps aiosqlite's thread, so that the
        loop goes on meanwhile.
        """
        logged: Sequence[Any] = ()
        async with contextlib.AsyncExitStack() as turn:
            if self.writers is not None:
                await turn.enter_async_context(self.writers.turn())
            async with self.sessions() as session:
                uow = UnitOfWork(session)
                try:
                    if self.writers is not None and not long:
                        # Its turn ends with its own work (collab/sqlite_trips.py).
                        sqlite_trips.go_inline(session, SQLITE_BUSY_MS)
                    yield uow
                    # The search index follows the write in its transaction (collab/search/).
                    await index_before_commit(session, uow.events)
                    await uow.run_last()
                    if uow.events and self.sink is not None:
                        # In the transaction: the log commits with the write, or neither does.
                        logged = await self.sink.append(session, uow.events)
                    await session.commit()
                    if self.checkpoints is not None:
                        self.checkpoints.committed()
                except BaseException:
                    await session.rollback()
                    raise
        if uow.events and self.after_commit is not None:
            await self.after_commit(uow.events)
        if logged and self.sink is not None:
            try:
                await self.sink.publish(logged)
            except Exception:
                # The write and its log rows are committed: clients catch up
                # from the log. A failed publish must not fail the request.
                log.exception("publishing %d events failed", len(logged))

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self.checkpoints is not None:
            await self.checkpoints.stop()
        await self.engine.dispose()


async def bump_revision(session: AsyncSession, model: Any, row_id: int) -> bool:
    """``UPDATE <model> SET revision = revision + 1 WHERE id = row_id``; False if no such row.

    The UPDATE serializes the writes about one object: on PostgreSQL it takes
    the row lock, on SQLite it begins the write transaction (the database's
    write lock). A second writer waits for the first to commit, then reads its
    result. Meetings and consultations start every write with it.
    """
    result = await session.execute(
        update(model)
        .where(model.id == row_id)
        .values(revision=model.revision + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
