"""Statements compiled once and run on SQLite's own connection (collab/prepared.py).

What a :class:`Prepared` statement gives must be what SQLAlchemy gives for
the same statement: the same rows (types processed both ways), the same
exceptions, pending ORM changes flushed first. Only the path changes: on
SQLite, in a transaction on the loop's thread, no SQLAlchemy execution.
"""

from __future__ import annotations

import enum
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Enum,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    exc,
    insert,
    select,
    text,
    update,
)

from collab import prepared
from collab.db import Database
from collab.models import User, UTCDateTime
from collab.prepared import Prepared
from tests.conftest import World
from tests.helpers import statements


class Colour(enum.Enum):
    RED = "rosso"
    BLUE = "blu"


metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(20), unique=True, nullable=False),
    Column(
        "colour", Enum(Colour, native_enum=False, values_callable=lambda e: [m.value for m in e])
    ),
    Column("seen_at", UTCDateTime()),
    Column("naive_at", DateTime()),
    Column("data", JSON),
    Column("stamp", String(20), default=lambda: "predefinito"),
)

INSERT = Prepared(insert(things).returning(things.c.id, things.c.seen_at, things.c.colour))
BY_COLOURS = Prepared(
    select(things.c.name, things.c.colour, things.c.seen_at, things.c.naive_at, things.c.data)
    .where(things.c.colour.in_(bindparam("colours", expanding=True)))
    .order_by(things.c.id)
)
RENAME = Prepared(
    update(things).where(things.c.id == bindparam("key")).values(name=bindparam("to"))
)
AT = datetime(2026, 12, 8, 9, 30, tzinfo=UTC)


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'prepared.sqlite3'}")
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


def row(name: str, colour: Colour) -> dict[str, Any]:
    return {
        "name": name, "colour": colour, "seen_at": AT, "naive_at": AT.replace(tzinfo=None),
        "data": {"n": [1, 2]}, "stamp": "dato",
    }  # fmt: skip


@pytest.fixture
def direct(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL of every statement that took the direct path from now on."""
    ran: list[str] = []
    original = prepared.sqlite_trips.run_direct

    async def spy(adapted: Any, sql: str, arguments: Any, many: bool) -> list[Any]:
        ran.append(sql)
        return await original(adapted, sql, arguments, many)

    monkeypatch.setattr(prepared.sqlite_trips, "run_direct", spy)
    return ran


async def test_rows_are_what_sqlalchemy_gives(sqlite_db: Database, direct: list[str]) -> None:
    async with sqlite_db.transaction() as uow:
        new = await INSERT.rows(uow.session, row("uno", Colour.RED))
        assert new == [(1, AT, Colour.RED)]
        await INSERT.rows(uow.session, row("due", Colour.BLUE))
        await INSERT.rows(uow.session, row("tre", Colour.RED))
        params = {"colours": [Colour.RED, Colour.BLUE]}
        ours = await BY_COLOURS.rows(uow.session, params)
        theirs = [tuple(r) for r in await uow.session.execute(BY_COLOURS.statement, params)]
        assert ours == theirs
        assert ours[0] == ("uno", Colour.RED, AT, AT.replace(tzinfo=None), {"n": [1, 2]})
        # An IN list of another length is another statement.
        reds = await BY_COLOURS.rows(uow.session, {"colours": [Colour.RED]})
        assert [name for name, *_ in reds] == ["uno", "tre"]
        blues = await BY_COLOURS.rows(uow.session, {"colours": (Colour.BLUE,)})
        assert [name for name, *_ in blues] == ["due"]
        also = await BY_COLOURS.rows(uow.session, {"colours": {Colour.BLUE}})  # any iterable
        assert also == blues
        assert await BY_COLOURS.rows(uow.session, {"colours": []}) == []
        await RENAME.run(uow.session, {"key": 2, "to": "deux"})
        assert (
            await Prepared(select(things.c.name).where(things.c.id == 2)).scalar(uow.session, {})
            == "deux"
        )
    assert len(direct) == 10
    async with sqlite_db.session() as session:  # committed
        names = list(await session.scalars(select(things.c.name).order_by(things.c.id)))
    assert names == ["uno", "deux", "tre"]


async def test_many_rows_in_one_executemany(sqlite_db: Database, direct: list[str]) -> None:
    insert_plain = Prepared(insert(things))
    async with sqlite_db.transaction() as uow:
        await insert_plain.run_many(uow.session, [row(f"n{i}", Colour.BLUE) for i in range(5)])
    assert len(direct) == 1
    async with sqlite_db.session() as session:
        stored = (await session.execute(select(things).order_by(things.c.id))).all()
    assert [(r.name, r.colour, r.seen_at, r.data) for r in stored] == [
        (f"n{i}", Colour.BLUE, AT, {"n": [1, 2]}) for i in range(5)
    ]


async def test_errors_are_sqlalchemys_and_roll_back(sqlite_db: Database) -> None:
    with pytest.raises(exc.IntegrityError) as raised:
        async with sqlite_db.transaction() as uow:
            await INSERT.rows(uow.session, row("uno", Colour.RED))
            await INSERT.rows(uow.session, row("uno", Colour.BLUE))
    assert isinstance(raised.value.orig, sqlite3.IntegrityError)
    async with sqlite_db.session() as session:
        assert (await session.execute(select(things))).all() == []


async def test_defaults_computed_in_python_go_through_sqlalchemy(
    sqlite_db: Database, direct: list[str]
) -> None:
    without_stamp = {k: v for k, v in row("uno", Colour.RED).items() if k != "stamp"}
    async with sqlite_db.transaction() as uow:
        await INSERT.rows(uow.session, without_stamp)
    assert direct == []
    async with sqlite_db.session() as session:
        assert await session.scalar(select(things.c.stamp)) == "predefinito"


async def test_pending_orm_changes_are_flushed_first(sqlite_db: Database) -> None:
    async with sqlite_db.engine.begin() as conn:
        await conn.run_sync(User.metadata.tables["comune"].create)
        await conn.run_sync(User.__table__.create)  # type: ignore[attr-defined]
    count_users = Prepared(select(User.name).where(User.email == bindparam("email")))
    async with sqlite_db.transaction() as uow:
        uow.session.add(User(email="a@b.it", name="Anna", password_hash="x", role="staff"))
        assert await count_users.scalar(uow.session, {"email": "a@b.it"}) == "Anna"


async def test_statement_listeners_see_every_statement(
    db: Database, world: World, direct: list[str]
) -> None:
    """On any database: a test that counts statements still sees these, and
    the rows are the same."""
    by_email = Prepared(select(User.id, User.created_at).where(User.email == bindparam("email")))
    email = world["staff"].email
    with statements(db) as seen:
        async with db.transaction() as uow:
            counted = await by_email.rows(uow.session, {"email": email})
    assert [s for s in seen if "FROM user_account" in s]
    assert direct == []
    async with db.transaction() as uow:
        assert await by_email.rows(uow.session, {"email": email}) == counted
    assert counted[0][0] == world["staff"].id
    assert counted[0][1].tzinfo is not None
    assert len(direct) == (1 if db.url.startswith("sqlite") else 0)


async def test_an_entity_is_built_as_the_orm_loads_it(db: Database, world: World) -> None:
    """Built from a prepared row: the same values as the ORM's load, no
    changes pending, its identity set; a relationship set as loaded."""
    from sqlalchemy import inspect

    from collab.models import Comune
    from collab.prepared import Entity

    users, comuni = Entity(User), Entity(Comune)
    by_id = Prepared(
        select(*users.columns, *comuni.columns)
        .join(Comune, Comune.id == User.comune_id)
        .where(User.id == bindparam("id"))
    )
    mayor = world["sindaco5"]
    async with db.session() as session:
        (values,) = await by_id.rows(session, {"id": mayor.id})
        loaded = await session.get(User, mayor.id)
        assert loaded is not None
        expected = {key: getattr(loaded, key) for key in users.keys}
    user = users.build(values[: len(users)])
    users.relate(user, "comune", comuni.build(values[len(users) :]))
    state = inspect(user)
    assert state.detached and state.key == inspect(loaded).key
    assert {key: getattr(user, key) for key in users.keys} == expected
    assert not state.modified and not state.expired_attributes & set(users.keys)
    assert user.comune is not None and user.comune.id == mayor.comune_id

    async with db.transaction() as uow:
        (values,) = await by_id.rows(uow.session, {"id": mayor.id})
        attached = users.attach(uow.session, values[: len(users)])
        assert inspect(attached).persistent
        uow.session.expire(attached, ["name"])
        # The identity map's instance again, its expired column from the row.
        assert users.attach(uow.session, values[: len(users)]) is attached
        assert attached.name == expected["name"]
        assert not uow.session.dirty


async def busy_timeout(database: Database) -> int:
    async with database.engine.connect() as conn:
        return int((await conn.execute(text("PRAGMA busy_timeout"))).scalar_one())


async def test_a_read_outside_any_session(
    sqlite_db: Database, direct: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Database.read``: a pooled connection's, on the loop's thread; in the
    thread, with the busy timeout, if SQLite says busy; the connection back
    in the pool with its usual busy timeout."""
    from collab import sqlite_trips
    from collab.db import SQLITE_BUSY_MS

    async with sqlite_db.transaction() as uow:
        await INSERT.rows(uow.session, row("uno", Colour.RED))
    direct.clear()
    params = {"colours": [Colour.RED]}
    found = await sqlite_db.read(BY_COLOURS, params)
    assert found == [("uno", Colour.RED, AT, AT.replace(tzinfo=None), {"n": [1, 2]})]
    assert direct == []  # not a transaction's statement
    assert await busy_timeout(sqlite_db) == SQLITE_BUSY_MS

    original, calls = sqlite_trips._run, []

    def busy_once(*args: Any) -> Any:
        calls.append(args[1])
        if len(calls) == 1:
            raise sqlite3.OperationalError("database is locked")
        return original(*args)

    monkeypatch.setattr(sqlite_trips, "_run", busy_once)
    assert await sqlite_db.read(BY_COLOURS, params) == found
    assert len(calls) == 2  # on the loop's thread, then in aiosqlite's
    monkeypatch.setattr(sqlite_trips, "_run", original)
    assert await busy_timeout(sqlite_db) == SQLITE_BUSY_MS


async def test_a_read_on_any_database(db: Database, world: World) -> None:
    by_email = Prepared(select(User.id, User.created_at).where(User.email == bindparam("email")))
    ((user_id, created_at),) = await db.read(by_email, {"email": world["staff"].email})
    assert user_id == world["staff"].id and created_at.tzinfo is not None
    with statements(db) as seen:
        await db.read(by_email, {"email": world["staff"].email})
    assert len(seen) == 1  # a listener sees it
