"""SQLite statements in one trip to aiosqlite's thread instead of four, and
a write transaction's in none (:func:`go_inline`, at the end of this
module).

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
from sqlalchemy import event
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.orm import Session
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

__all__ = [
    "AVAILABLE",
    "OneTripCursor",
    "WriteSession",
    "dbapi",
    "go_inline",
    "leave_inline",
    "read_direct",
    "run_direct",
]

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


async def _at_once() -> None:
    return None


def _busy(error: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY: another connection holds the lock this statement needs."""
    return getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY or (
        "database is locked" in str(error)
    )


def _run_patient(
    conn: sqlite3.Connection, operation: str, parameters: Any, many: bool, patience_ms: int
) -> _Outcome:
    """In aiosqlite's thread: :func:`_run` with the busy timeout, for an inline
    statement that found the lock taken by another process."""
    conn.execute(f"PRAGMA busy_timeout={patience_ms}")
    try:
        return _run(conn, operation, parameters, many)
    finally:
        conn.execute("PRAGMA busy_timeout=0")


def _commit_patient(conn: sqlite3.Connection, patience_ms: int) -> None:
    conn.execute(f"PRAGMA busy_timeout={patience_ms}")
    try:
        conn.commit()
    finally:
        conn.execute("PRAGMA busy_timeout=0")


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

    def _keep(self, outcome: _Outcome) -> None:
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows) if rows is not None else collections.deque()

    def _inline(self, operation: Any, parameters: Any, many: bool) -> bool:
        """Run the statement on the loop's thread if its transaction does (go_inline)."""
        adapt: OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        if not adapt.inline:
            return False
        try:
            self._keep(adapt.run_inline(operation, parameters, many))
        except Exception as error:
            adapt._handle_exception(error)
        return True

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        if not self._inline(operation, parameters, False):
            return super().execute(operation, parameters)
        return None

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        if not self._inline(operation, seq_of_parameters, True):
            return super().executemany(operation, seq_of_parameters)
        return None

    async def _trip(self, operation: str, parameters: Any, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            connection = self._connection
            outcome: _Outcome = await connection._execute(
                _run, connection._conn, operation, parameters, many
            )
        self._keep(outcome)

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        await self._trip(operation, parameters, False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> None:
        await self._trip(operation, seq_of_parameters, True)

    def nextset(self) -> None:
        self._rows.clear()  # sqlite3 has a single result set


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("inline", "patience_ms")
    _cursor_cls = OneTripCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.inline = False  # see go_inline
        self.patience_ms = 0

    def run_inline(self, operation: str, parameters: Any, many: bool) -> _Outcome:
        """The statement on the event loop's thread; in aiosqlite's thread, with
        the busy timeout, only if another process holds the lock it needs (the
        statement failed at once and changed nothing: SQLite takes the write
        lock before a statement's first change)."""
        conn = self._connection._conn
        # SQLAlchemy's async layer checks that an execution awaited: a switch
        # to the loop's greenlet and back does (no turn of the loop).
        await_(_at_once())
        try:
            return _run(conn, operation, parameters, many)
        except sqlite3.OperationalError as error:
            if not _busy(error):
                raise
        outcome: _Outcome = await_(
            self._connection._execute(
                _run_patient, conn, operation, parameters, many, self.patience_ms
            )
        )
        return outcome

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
        if self._idle():
            return
        if not self.inline:
            super().rollback()
            return
        try:
            self._connection._conn.rollback()  # never waits for a lock
        except Exception as error:
            self._handle_exception(error)

    def commit(self) -> None:
        if self._idle():
            return
        if not self.inline:
            super().commit()
            return
        # On the loop's thread too: it appends the transaction's pages to the
        # WAL (the page cache; synchronous=NORMAL syncs only at checkpoints)
        # and never checkpoints (wal_autocheckpoint=0: collab.db's
        # Checkpointer does that in aiosqlite's thread, off every write's
        # path). A trip to the thread for it cost the loop more than the
        # commit itself (the hand-off, and the GIL going back and forth).
        conn = self._connection._conn
        try:
            try:
                conn.commit()
            except sqlite3.OperationalError as error:
                if not _busy(error):
                    raise
                await_(self._connection._execute(_commit_patient, conn, self.patience_ms))
        except Exception as error:
            self._handle_exception(error)


async def _here_or_waiting(
    adapted: OneTripConnection, sql: str, arguments: Any, many: bool, patience_ms: int
) -> list[Any]:
    """On the loop's thread; in aiosqlite's thread, with the busy timeout, only
    if another process holds the lock it needs. Its rows."""
    conn = adapted._connection._conn
    try:
        outcome = _run(conn, sql, arguments, many)
    except sqlite3.OperationalError as error:
        if not _busy(error):
            raise
        outcome = await adapted._connection._execute(
            _run_patient, conn, sql, arguments, many, patience_ms
        )
    return outcome[1] or []


async def run_direct(adapted: OneTripConnection, sql: str, arguments: Any, many: bool) -> list[Any]:
    """A statement of an inline transaction, from plain async code (no greenlet:
    :class:`collab.prepared.Prepared`), as :meth:`OneTripConnection.run_inline`
    runs one. Its rows; ``sqlite3``'s errors as they come."""
    return await _here_or_waiting(adapted, sql, arguments, many, adapted.patience_ms)


async def read_direct(
    adapted: OneTripConnection, sql: str, arguments: Any, patience_ms: int
) -> list[Any]:
    """A read outside any transaction (a connection just taken from the pool,
    :meth:`collab.prepared.Prepared.read`): on the loop's thread with no busy
    timeout (a reader in WAL mode waits for nobody), in aiosqlite's thread
    with ``patience_ms`` if SQLite says busy all the same. Its rows."""
    conn = adapted._connection._conn
    conn.execute("PRAGMA busy_timeout=0")
    try:
        return await _here_or_waiting(adapted, sql, arguments, False, patience_ms)
    finally:
        conn.execute(f"PRAGMA busy_timeout={patience_ms}")


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """SQLAlchemy's aiosqlite DBAPI module whose connections use :class:`OneTripCursor`."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def dbapi() -> AsyncAdapt_aiosqlite_dbapi | None:
    """The ``module`` for ``create_async_engine`` on SQLite (None: SQLAlchemy's own)."""
    return OneTripDBAPI(aiosqlite, sqlite3) if AVAILABLE else None


# --- Write transactions on the event loop's thread ------------------------------
#
# A write transaction holds this process's write turn (collab.db.WriterQueue)
# from its first statement to its commit. Each of its statements used to be a
# trip to aiosqlite's thread and back, and at every trip the other requests'
# work ran before the turn holder's next statement: under ten writers the
# turn lasted several times its own CPU time. A write transaction's
# statements are short (rows by key, a few index entries), so they run on
# the loop's thread, one after the other, and the turn ends as soon as its
# own work is done. Reads outside a write transaction keep the thread (a
# search or a long list does not stop the loop).
#
# The loop must never wait for another process's lock: inline, the busy
# timeout is 0, and a statement that finds the lock taken goes to the thread
# and waits there, with the usual timeout. Nor for the disk: the commit runs
# inline too, but only appends to the WAL (no sync with synchronous=NORMAL);
# checkpoints, which write the database file and sync it, are off for every
# commit (wal_autocheckpoint=0) and run in the thread (collab.db.Checkpointer).


INLINE = "collab.sqlite_inline"  # in session.info: its transaction writes (see below)


class WriteSession(Session):
    """The ORM session on SQLite: one that :func:`go_inline` marked runs its
    transaction on the loop's thread from the moment it takes a connection."""


@event.listens_for(WriteSession, "after_begin")
def _inline_on_begin(session: Session, _transaction: Any, connection: Any) -> None:
    patience_ms = session.info.get(INLINE)
    if patience_ms is None:
        return
    adapted = connection.connection.dbapi_connection
    if not isinstance(adapted, OneTripConnection) or adapted.inline:
        return
    adapted._connection._conn.execute("PRAGMA busy_timeout=0")
    adapted.patience_ms = patience_ms
    adapted.inline = True


def go_inline(session: Any, patience_ms: int) -> None:
    """Run ``session``'s transaction on the loop's thread (a :class:`WriteSession`,
    before its first statement); ``patience_ms``: the usual busy timeout.

    Undone when its connection goes back to the pool (:func:`leave_inline`,
    a ``checkin`` listener of the engine)."""
    session.info[INLINE] = patience_ms


def leave_inline(dbapi_connection: Any, _record: Any = None) -> None:
    """Back to aiosqlite's thread, with the usual busy timeout."""
    if not isinstance(dbapi_connection, OneTripConnection) or not dbapi_connection.inline:
        return
    dbapi_connection.inline = False
    conn = dbapi_connection._connection._conn
    if conn is not None:
        conn.execute(f"PRAGMA busy_timeout={dbapi_connection.patience_ms}")
