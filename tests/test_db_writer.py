"""The writer queue: on SQLite one write transaction at a time per process, in
arrival order; on PostgreSQL none (``collab.db.WriterQueue``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from collab.app import DATABASE_ERRORS
from collab.db import Database, WriteTurnTimeout, is_unavailable
from collab.forums.models import Post
from collab.housekeeping import sweep
from collab.migrate import upgrade
from collab.models import LoginAttempt, utcnow
from collab.settings import Settings
from tests.conftest import World
from tests.dbs import is_postgres
from tests.forums.support import Login, start

# A guard against a hang, not a timing: each of these finishes in milliseconds.
HANG = 20.0


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    yield db
    await db.dispose()


@pytest.fixture
def sqlite_url(database_url: str, tmp_path: Path) -> str:
    """A migrated SQLite database: the suite's own, or (when the suite runs on
    PostgreSQL) one of this test's, since the queue is SQLite's."""
    if not is_postgres():
        return database_url
    url = f"sqlite+aiosqlite:///{tmp_path / 'queue.sqlite3'}"
    upgrade(url)
    return url


@pytest.fixture
async def queued(sqlite_url: str) -> AsyncIterator[Database]:
    """A Database on SQLite, whose writers take turns."""
    db = Database(sqlite_url)
    assert db.writers is not None
    yield db
    await db.dispose()


async def write(db: Database, name: str, log: list[str], hold: asyncio.Event | None = None) -> None:
    """A write transaction that notes when it started and, with ``hold``, waits inside."""
    async with db.transaction() as uow:
        log.append(name)
        await uow.session.execute(
            insert(LoginAttempt).values(
                email=f"{name}@x.it", ip="127.0.0.1", at=utcnow(), outcome="ok"
            )
        )
        if hold is not None:
            await hold.wait()
    log.append(f"{name} done")


async def settle() -> None:
    """Let every runnable task reach its next wait (the lock, the event)."""
    for _ in range(20):
        await asyncio.sleep(0)


async def attempts(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(LoginAttempt)) or 0)


async def test_sqlite_writers_take_turns_in_the_order_they_came(queued: Database) -> None:
    log: list[str] = []
    hold = asyncio.Event()
    first = asyncio.create_task(write(queued, "first", log, hold))
    await settle()
    rest = []
    for n in range(5):
        rest.append(asyncio.create_task(write(queued, f"w{n}", log, None)))
        await settle()
    # Nobody else started while the first held the turn.
    assert log == ["first"]
    hold.set()
    async with asyncio.timeout(HANG):
        await asyncio.gather(first, *rest)
    expected = ["first", "first done"]
    for n in range(5):
        expected += [f"w{n}", f"w{n} done"]
    assert log == expected
    assert await attempts(queued) == 6
    assert not queued.writers.busy  # type: ignore[union-attr]


async def test_reads_do_not_wait_for_the_writer(queued: Database) -> None:
    hold = asyncio.Event()
    writer = asyncio.create_task(write(queued, "writer", [], hold))
    await settle()
    async with asyncio.timeout(HANG), queued.session() as session:
        assert await session.scalar(select(func.count()).select_from(LoginAttempt)) == 0
    hold.set()
    await writer


async def test_a_transaction_inside_another_of_the_same_task_does_not_wait_for_itself(
    database: Database,
) -> None:
    log: list[str] = []
    async with asyncio.timeout(HANG), database.transaction() as outer:
        # The outer one has read only: SQLite's write lock is still free.
        assert await outer.session.scalar(select(func.count()).select_from(LoginAttempt)) == 0
        await write(database, "inner", log)
        await outer.session.execute(
            insert(LoginAttempt).values(email="o@x.it", ip="127.0.0.1", at=utcnow(), outcome="ok")
        )
    assert log == ["inner", "inner done"]
    assert await attempts(database) == 2
    # The turn is free again: another task gets it.
    async with asyncio.timeout(HANG):
        await asyncio.create_task(write(database, "after", log))


async def test_a_waiter_cancelled_in_the_queue_leaves_it_working(queued: Database) -> None:
    log: list[str] = []
    hold = asyncio.Event()
    first = asyncio.create_task(write(queued, "first", log, hold))
    await settle()
    cancelled = asyncio.create_task(write(queued, "cancelled", log))
    await settle()
    last = asyncio.create_task(write(queued, "last", log))
    await settle()
    cancelled.cancel()
    await settle()
    hold.set()
    async with asyncio.timeout(HANG):
        await asyncio.gather(first, last)
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert log == ["first", "first done", "last", "last done"]
    assert not queued.writers.busy  # type: ignore[union-attr]


async def test_a_failed_transaction_hands_the_turn_on(database: Database) -> None:
    with pytest.raises(ValueError, match="boom"):
        async with database.transaction() as uow:
            await uow.session.execute(
                insert(LoginAttempt).values(email="x@x.it", ip="1", at=utcnow(), outcome="ok")
            )
            raise ValueError("boom")
    log: list[str] = []
    async with asyncio.timeout(HANG):
        await asyncio.create_task(write(database, "next", log))
    assert log == ["next", "next done"]
    assert await attempts(database) == 1  # the failed one rolled back


async def test_a_writer_waiting_too_long_gets_an_unavailable_error(queued: Database) -> None:
    assert queued.writers is not None
    queued.writers.timeout = 0.05
    hold = asyncio.Event()
    first = asyncio.create_task(write(queued, "first", [], hold))
    await settle()
    with pytest.raises(WriteTurnTimeout) as raised:
        await write(queued, "late", [])
    assert is_unavailable(raised.value)  # a 503, as SQLite's busy timeout would give
    # ... and the app's database-error handler takes it (a 500 otherwise).
    assert isinstance(raised.value, DATABASE_ERRORS)
    hold.set()
    await first
    assert await attempts(queued) == 1


async def test_two_processes_on_one_file_still_meet_at_sqlites_busy_timeout(
    sqlite_url: str,
) -> None:
    # Two Database objects: two queues, as in two workers.
    one, two = Database(sqlite_url), Database(sqlite_url)
    try:
        log: list[str] = []
        async with asyncio.timeout(HANG):
            await asyncio.gather(
                *(
                    write(db, f"{name}{n}", log)
                    for n in range(5)
                    for name, db in (("a", one), ("b", two))
                )
            )
        assert await attempts(one) == 10
    finally:
        await one.dispose()
        await two.dispose()


async def test_postgresql_writers_are_not_queued(database: Database) -> None:
    assert Database("postgresql+asyncpg://nobody@127.0.0.1/none").writers is None
    if not is_postgres():
        return
    log: list[str] = []
    hold = asyncio.Event()
    first = asyncio.create_task(write(database, "first", log, hold))
    await settle()
    # Another writer starts and commits while the first is still open.
    async with asyncio.timeout(HANG):
        await write(database, "second", log)
    assert log == ["first", "second", "second done"]
    hold.set()
    await first
    assert await attempts(database) == 2


async def test_replies_housekeeping_and_notifications_at_once_all_land(
    db: Database, world: World, login_as: Login, settings: Settings
) -> None:
    """The app's own write paths side by side: replies (which notify the thread's
    followers: the fan-out and mailer write in the background), the session
    saves after them, and a housekeeping sweep."""
    thread = await start(db, world["sindaco5"])
    clients = [await login_as(key) for key in ("sindaco5", "tecnico5", "portavoce5", "staff")]

    async def replies(n: int) -> list[int]:
        client = clients[n % len(clients)]
        codes = []
        for k in range(3):
            response = await client.post(
                f"/threads/{thread.id}/reply", data={"body": f"Risposta {n}.{k}"}
            )
            codes.append(response.status_code)
        return codes

    async with asyncio.timeout(HANG * 3):
        sweeping = asyncio.create_task(sweep(db, settings))
        codes = await asyncio.gather(*(replies(n) for n in range(8)))
        await sweeping
    assert all(code == 303 for per_client in codes for code in per_client)
    async with db.session() as session:
        bodies = set(await session.scalars(select(Post.source).where(Post.thread_id == thread.id)))
    assert {f"Risposta {n}.{k}" for n in range(8) for k in range(3)} <= bodies
    # The background workers may be writing still; the queue moves on.
    log: list[str] = []
    async with asyncio.timeout(HANG):
        await write(db, "after", log)
    assert log == ["after", "after done"]
