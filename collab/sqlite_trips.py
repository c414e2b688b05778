"""SQLite statements in one trip to aiosqlite's thread instead of four.

aiosqlite runs the ``sqlite3`` connection in a thread of its own; every call
is a hand-off: the event loop queues a function, the thread runs it and
wakes the loop through its self-pipe. SQLAlchemy's adapter makes four such
trips per statement (open a cursor, execute, fetch all rows, close the
cursor), and on this project's 2-core machines those hand-offs were about
40% of a reply's CPU time (py-spy, ``bench.writes``).

:class:`OneTripCursor` does the four steps in one function run in the
thread, and keeps what SQLAlchemy reads afterwards (description, rows, row
count, last row id). Nothing else changes: the same ``sqlite3`` connection,
the same thread, the same order of statements, the same errors (raised in
the thread, translated by SQLAlchemy as before). Server-side cursors
(``stream_results``) keep SQLAlchemy's own cursor.

A commit or rollback with no transaction open (every read session ends with
a rollback) makes no trip at all: ``sqlite3`` would do nothing in the thread.

``make_engine`` passes :func:`dbapi` as the engine's ``module``. It uses
aiosqlite's ``Connection._execute`` and ``_conn`` (checked at import, below,
and pinned in ``pyproject.toml``); if a release renames them the engine
keeps SQLAlchemy's adapter (:data:`AVAILABLE` is False, and a test says so).
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT

__all__ = ["AVAILABLE", "OneTripCursor", "dbapi"]

#: Whether this aiosqlite has what one trip needs.
AVAILABLE = callable(getattr(aiosqlite.Connection, "_execute", None))

_Outcome = tuple[Any, list[Any] | None, int, int | None]


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Outcome:
    """In aiosqlite's thread: the statement, its rows, what the cursor knew."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else None
        # Read after the fetch: with RETURNING, sqlite3 counts rows as they come.
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """SQLAlchemy's buffered aiosqlite cursor, one thread trip per statement."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")
    _awaitable_cursor_close = False  # nothing open between statements

    def __init__(self, adapt_connection: Any) -> None:  # no trip to open a cursor
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass  # every row is fetched in the trip; fetchmany reads the buffer

    def close(self) -> None:
        self._rows.clear()

    async def _trip(self, operation: str, parameters: Any, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            connection = self._connection
            outcome: _Outcome = await connection._execute(
                _run, connection._conn, operation, parameters, many
            )
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows) if rows is not None else collections.deque()

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        await self._trip(operation, parameters, False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> None:
        await self._trip(operation, seq_of_parameters, True)

    def nextset(self) -> None:
        self._rows.clear()  # sqlite3 has a single result set


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor

    def _idle(self) -> bool:
        """Whether ``sqlite3`` holds no open transaction: then its ``commit``
        and ``rollback`` do nothing, and need no trip to the thread. Nothing
        runs on the connection meanwhile (SQLAlchemy ends its transaction
        between statements), so the flag is read here, not in the thread."""
        conn = self._connection._connection
        try:
            return conn is not None and not conn.in_transaction
        except sqlite3.Error:  # a Python whose sqlite3 checks the thread here
            return False

    def rollback(self) -> None:
        # Every read session ends with one (the pool's reset): one trip less each.
        if not self._idle():
            super().rollback()

    def commit(self) -> None:
        if not self._idle():
            super().commit()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """SQLAlchemy's aiosqlite DBAPI module whose connections use :class:`OneTripCursor`."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def dbapi() -> AsyncAdapt_aiosqlite_dbapi | None:
    """The ``module`` for ``create_async_engine`` on SQLite (None: SQLAlchemy's own)."""
    return OneTripDBAPI(aiosqlite, sqlite3) if AVAILABLE else None
