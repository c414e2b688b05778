"""The database out of reach: a write answers 503 with a message a person can
act on, in the page and for htmx, changes nothing, and the next write after
the outage works. On SQLite the outage is another process holding the write
lock past the busy timeout; on PostgreSQL, a server that refuses
connections. (``tests/multiprocess/`` restarts a real server under load.)"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import exc
from sqlalchemy.engine import make_url
from starlette.applications import Starlette

from collab import db as db_module
from collab.db import Database, is_unavailable, make_engine
from collab.web import RETRY_AFTER
from tests.conftest import World
from tests.dbs import is_postgres, sqlite_write_locked
from tests.helpers import Client, italian, parse, snapshot, text_of

BOARD = "/zones/5/trasporti-mobilita"
UNAVAILABLE = (
    "The service is briefly unavailable: nothing you sent was saved. Try again in a few seconds."
)


@contextlib.asynccontextmanager
async def _outage(db: Database) -> AsyncIterator[None]:
    """The database out of reach for the block, then back."""
    if not is_postgres():
        with sqlite_write_locked(db.url):
            yield
        return
    # A server that refuses connections: the pool's connections dropped and
    # every new one sent to a port nobody listens on.
    real = db.engine
    await real.dispose()
    refused = make_url(db.url).set(host="127.0.0.1", port=1)
    db.engine = make_engine(refused.render_as_string(hide_password=False))
    db.sessions.configure(bind=db.engine)
    try:
        yield
    finally:
        await db.engine.dispose()
        db.engine = real
        db.sessions.configure(bind=real)


@pytest.fixture
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """A quarter of a second instead of ten (set before the app's engine exists)."""
    monkeypatch.setattr(db_module, "SQLITE_BUSY_MS", 250)


async def test_a_write_during_an_outage_is_a_503_that_changes_nothing(
    short_busy_timeout: None, app: Starlette, db: Database, world: World, login_as: object
) -> None:
    mayor: Client = await login_as("sindaco5")  # type: ignore[operator]
    before = await snapshot(db)
    async with _outage(db):
        page = await mayor.post(f"{BOARD}/new", {"title": "Durante", "body": "Non salvato."})
        fragment = await mayor.post(
            f"{BOARD}/new", {"title": "Durante", "body": "Non salvato."}, htmx=True
        )
    assert page.status_code == 503
    assert page.headers["retry-after"] == str(RETRY_AFTER)
    assert italian(UNAVAILABLE) in text_of(page, "main")
    assert parse(page).select_one("html")["lang"] == "it"  # type: ignore[index]
    assert fragment.status_code == 503
    assert fragment.headers["hx-retarget"] == "#alerts"
    assert italian(UNAVAILABLE) in text_of(fragment, "[role=alert]")
    assert await snapshot(db) == before  # nothing half-written
    # The outage is over: the same write goes through.
    again = await mayor.post(f"{BOARD}/new", {"title": "Dopo", "body": "Salvato."})
    assert again.status_code == 303


async def test_reading_during_an_outage(
    short_busy_timeout: None, app: Starlette, db: Database, world: World, login_as: object
) -> None:
    """PostgreSQL gone: pages answer 503 too. A SQLite write lock does not stop
    readers (WAL): the board still shows."""
    tech: Client = await login_as("tecnico5")  # type: ignore[operator]
    async with _outage(db):
        page = await tech.get(BOARD)
    assert page.status_code == (503 if is_postgres() else 200)
    if is_postgres():
        assert italian(UNAVAILABLE) in text_of(page, "main")
        assert parse(page).select_one('[data-testid="current-user"]') is None  # no user read


def test_what_counts_as_an_outage() -> None:
    locked = exc.OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    missing = exc.OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x"))
    assert is_unavailable(locked)
    assert not is_unavailable(missing)  # a bug, not an outage: 500
    assert is_unavailable(ConnectionRefusedError(111, "Connection refused"))
    assert is_unavailable(exc.TimeoutError("QueuePool limit reached"))
    wrapped = RuntimeError("while rendering")
    wrapped.__cause__ = locked
    assert is_unavailable(wrapped)
    assert not is_unavailable(ValueError("bad"))
