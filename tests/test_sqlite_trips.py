"""SQLite statements in one trip to aiosqlite's thread (collab/sqlite_trips.py).

Whatever SQLAlchemy reads from a cursor must be what the standard adapter
gives; only the number of trips changes. A write transaction makes none.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    exc,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

import collab.db
from collab import sqlite_trips
from collab.db import SQLITE_BUSY_MS, Database, make_engine

HANG = 10.0  # seconds: what would otherwise hang fails instead

metadata = MetaData()
items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(20), unique=True, nullable=False),
)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'trips.sqlite3'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every function sent to an aiosqlite thread from now on."""
    sent: list[Any] = []
    original: Any = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(fn)
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return sent


def test_the_engine_uses_one_trip_cursors(engine: AsyncEngine) -> None:
    assert sqlite_trips.AVAILABLE, "aiosqlite changed: see collab/sqlite_trips.py"
    assert isinstance(engine.dialect.dbapi, sqlite_trips.OneTripDBAPI)


async def test_a_statement_is_one_trip(engine: AsyncEngine, trips: list[Any]) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))  # the pool's own first trips
        trips.clear()
        for _ in range(5):
            assert (await conn.execute(select(items.c.id))).all() == []
        # The standard adapter: 4 each (cursor, execute, fetch, close).
        assert trips == [sqlite_trips._run] * 5


async def test_what_a_cursor_tells_is_unchanged(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        first = await conn.execute(insert(items).values(name="uno"))
        assert first.inserted_primary_key == (1,)  # lastrowid
        many = await conn.execute(insert(items), [{"name": "due"}, {"name": "tre"}])
        assert many.rowcount == 2  # executemany
        returned = await conn.execute(
            insert(items).returning(items.c.id, items.c.name), [{"name": "quattro"}]
        )
        assert returned.all() == [(4, "quattro")]
        changed = await conn.execute(
            update(items).where(items.c.id > 2).values(name=items.c.name + "!")
        )
        assert changed.rowcount == 2
        result = await conn.execute(select(items.c.name).order_by(items.c.id))
        assert result.keys() == ["name"]  # description
        assert result.fetchmany(2) == [("uno",), ("due",)]
        assert result.fetchone() == ("tre!",)
        assert result.fetchall() == [("quattro!",)]
        assert result.fetchone() is None
        streamed = await conn.stream(select(items.c.id).order_by(items.c.id))  # server-side
        assert [row.id async for row in streamed] == [1, 2, 3, 4]


async def test_errors_are_the_drivers_and_roll_back(engine: AsyncEngine) -> None:
    with pytest.raises(exc.IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(insert(items).values(name="uno"))
            await conn.execute(insert(items).values(name="uno"))
    with pytest.raises(exc.OperationalError):
        async with engine.connect() as conn:
            await conn.execute(text("SELECT nothing FROM nowhere"))
    async with engine.connect() as conn:
        assert (await conn.execute(select(items.c.id))).all() == []


async def test_ending_a_read_makes_no_trip(engine: AsyncEngine, trips: list[Any]) -> None:
    """A connection that only read goes back to the pool without a trip for
    its rollback (sqlite3 holds no transaction); one that wrote still commits
    and rolls back in the thread, and what it wrote is kept or undone."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))  # the pool's own first trips
    trips.clear()
    async with engine.connect() as conn:
        await conn.execute(select(items.c.id))
    assert len(trips) == 1  # the SELECT; the pool's reset rolled back nothing

    trips.clear()
    async with engine.begin() as conn:
        await conn.execute(insert(items), {"name": "kept"})
    assert len(trips) == 2  # the INSERT, the COMMIT
    trips.clear()
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await conn.execute(insert(items), {"name": "undone"})
            raise RuntimeError
    assert len(trips) == 2  # the INSERT, the ROLLBACK
    async with engine.connect() as conn:
        names = list(await conn.scalars(select(items.c.name)))
    assert names == ["kept"]


# --- Write transactions on the loop's thread (go_inline) --------------------------------


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'inline.sqlite3'}")
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


class Ticker:
    """Counts the event loop's turns while it runs."""

    def __init__(self) -> None:
        self.ticks = 0
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.ticks += 1
            await asyncio.sleep(0)

    def stop(self) -> None:
        self._task.cancel()


async def busy_timeout(db: Database) -> int:
    async with db.engine.connect() as conn:
        return int((await conn.execute(text("PRAGMA busy_timeout"))).scalar_one())


async def test_a_write_transaction_runs_on_the_loops_thread(db: Database, trips: list[Any]) -> None:
    """Once it has its connection, a write transaction makes no trip to the
    thread, its commit included, and lets no other task run until then: the
    write turn lasts its own work, not the other requests'
    (collab/sqlite_trips.py)."""
    await busy_timeout(db)  # the pool's first connection, made in the thread
    trips.clear()
    ticker = Ticker()
    try:
        await asyncio.sleep(0)  # the ticker runs
        async with db.transaction() as uow:
            await uow.session.execute(insert(items).values(name="uno"))
            ticks = ticker.ticks
            assert ticks > 0
            for n in range(5):
                await uow.session.execute(insert(items).values(name=f"altro {n}"))
                await uow.session.execute(select(items.c.id))
            assert ticker.ticks == ticks  # nobody else ran
    finally:
        ticker.stop()
    # Not even the commit: it never checkpoints (the Checkpointer does).
    assert trips == []
    # Back in the pool, the connection uses the thread again, with the usual timeout.
    trips.clear()
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(items)) == 6
    assert trips == [sqlite_trips._run]
    assert await busy_timeout(db) == SQLITE_BUSY_MS


async def test_a_rollback_on_the_loops_thread_undoes_the_write(db: Database) -> None:
    with pytest.raises(exc.IntegrityError):
        async with db.transaction() as uow:
            await uow.session.execute(insert(items).values(name="uno"))
            await uow.session.execute(insert(items).values(name="uno"))
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(items)) == 0
    assert await busy_timeout(db) == SQLITE_BUSY_MS


async def test_another_process_lock_is_awaited_in_the_thread(
    db: Database, tmp_path: Path, trips: list[Any]
) -> None:
    """Another process holds the write lock: the statement that needs it waits
    in aiosqlite's thread, with the busy timeout, while the loop goes on; it
    is written once the lock is free."""
    other = sqlite3.connect(tmp_path / "inline.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO items (name) VALUES ('altro processo')")
    ticker = Ticker()

    async def release() -> None:
        await asyncio.sleep(0.3)
        other.execute("COMMIT")

    releasing = asyncio.create_task(release())
    try:
        async with asyncio.timeout(HANG):
            async with db.transaction() as uow:
                await uow.session.execute(insert(items).values(name="nostro"))
                ticks = ticker.ticks
                assert ticks > 100  # the loop ran while the statement waited
                await uow.session.execute(insert(items).values(name="ancora"))
    finally:
        ticker.stop()
        await releasing
        other.close()
    assert sqlite_trips._run_patient in trips
    async with db.session() as session:
        names = set(await session.scalars(select(items.c.name)))
    assert names == {"altro processo", "nostro", "ancora"}
    assert await busy_timeout(db) == SQLITE_BUSY_MS


async def test_a_long_write_keeps_the_thread(db: Database, trips: list[Any]) -> None:
    """A sweep or a file's text (``transaction(long=True)``) lets the loop go on."""
    await busy_timeout(db)
    trips.clear()
    async with db.transaction(long=True) as uow:
        await uow.session.execute(insert(items).values(name="uno"))
    assert len(trips) == 2  # the INSERT, the COMMIT
    assert trips[0] is sqlite_trips._run


async def test_commits_leave_checkpoints_to_the_checkpointer(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trips: list[Any]
) -> None:
    """A commit only appends to the WAL; every CHECKPOINT_EVERY commits the
    WAL goes back into the database file, in aiosqlite's thread."""
    monkeypatch.setattr(collab.db, "CHECKPOINT_EVERY", 3)
    async with db.engine.connect() as conn:
        assert (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar_one() == 0
    path = tmp_path / "inline.sqlite3"
    size = path.stat().st_size
    for n in range(2):
        async with db.transaction() as uow:
            await uow.session.execute(insert(items), [{"name": f"{n}-{i}"} for i in range(2000)])
    assert path.stat().st_size == size  # all in the WAL
    assert db.checkpoints is not None and db.checkpoints.commits == 2
    trips.clear()
    async with db.transaction() as uow:
        await uow.session.execute(insert(items).values(name="terzo"))
    await asyncio.wait_for(db.checkpoints._task, HANG)  # type: ignore[arg-type]
    assert path.stat().st_size > size
    assert trips == [sqlite_trips._run]  # the checkpoint, in the thread
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(items)) == 4001
