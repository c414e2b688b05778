"""Statements of the write path, compiled once, run on SQLite's own connection.

A reply runs about ten statements. Through SQLAlchemy each one pays, beyond
SQLite's own work, for its cache key (a walk of the whole statement: the
notifications' INSERT ... SELECT is large), an execution context, its
parameters' processing and a result object: 30 to 120 us each, more than
SQLite takes to run most of them (``docs/performance.md``, "Issue 15").

A :class:`Prepared` statement is compiled once per dialect (and set of
parameter names), with SQLAlchemy's own compiler, so it is the same SQL. On
SQLite, when its transaction runs on the event loop's thread
(:func:`collab.sqlite_trips.go_inline`: every write transaction and quick
read), it runs on the ``sqlite3`` connection directly: the parameters go
through the same bind processors, the rows through the same result
processors, and an error comes back as the same SQLAlchemy exception.
Anywhere else (PostgreSQL, a long SQLite transaction in aiosqlite's thread)
it runs through SQLAlchemy as before; so does any statement while something
listens to the engine's statements (the tests that count them), and one
whose columns need defaults computed in Python.

Pending ORM changes are flushed first, as SQLAlchemy's autoflush would.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, exc, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql import Executable

from collab import sqlite_trips

__all__ = ["Entity", "Prepared"]

_HANDLE = "collab.prepared"  # key of Session.info: (transaction, connection, dialect)
_Row = tuple[Any, ...]


class _Compiled:
    """One compiled form of a statement: its SQL and how values go in and out."""

    __slots__ = ("compiled", "expanding", "names", "processors", "results", "sql")

    def __init__(self, statement: Executable, dialect: Dialect, keys: Sequence[str]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
        self.compiled = compiled
        # IN lists and literal values are rendered per execution.
        self.expanding = any(b.expanding or b.literal_execute for b in compiled.binds.values())
        self.sql: str = compiled.string
        self.names: Sequence[str] = compiled.positiontup or ()
        # What SQLAlchemy's execution applies (its DefaultExecutionContext):
        # the compiled statement's processors, and the expanded ones' per run.
        self.processors: Mapping[str, Any] = compiled._bind_processors
        if not self.expanding:
            state = compiled.construct_expanded_state(
                {key: None for key in keys}, escape_names=False
            )
            self.sql, self.names = state.statement, state.positiontup or ()
        columns = getattr(statement, "exported_columns", ())
        processors = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
        self.results = processors if any(processors) else None

    def arguments(self, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The SQL and its positional arguments for ``params``."""
        processors: Mapping[str, Any]
        if self.expanding:
            state = self.compiled.construct_expanded_state(params, escape_names=False)
            sql, names = state.statement, state.positiontup or ()
            processors = {**self.processors, **state.processors}
            values = state.parameters
        else:
            sql, names, processors = self.sql, self.names, self.processors
            values = self.compiled.construct_params(params, escape_names=False)
        arguments = []
        for name in names:
            value = values[name]
            process = processors.get(name)
            arguments.append(process(value) if process is not None else value)
        return sql, arguments

    def rows(self, rows: list[Any]) -> list[_Row]:
        results = self.results
        if results is None:
            return rows
        return [
            tuple(value if p is None else p(value) for p, value in zip(results, row, strict=True))
            for row in rows
        ]


def _needs_sqlalchemy(compiled: Any) -> bool:
    """Defaults that SQLAlchemy computes in Python before the statement runs."""
    return bool(compiled.insert_prefetch or compiled.update_prefetch)


class Prepared:
    """A Core statement of a hot path (built once, at import): :meth:`rows`,
    :meth:`scalar` and :meth:`run` execute it in an ORM session's transaction."""

    __slots__ = ("_forms", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._forms: dict[tuple[str, tuple[str, ...]], _Compiled | None] = {}

    def _form(self, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled | None:
        key = (dialect.name, keys)
        try:
            return self._forms[key]
        except KeyError:
            pass
        form: _Compiled | None = _Compiled(self.statement, dialect, keys)
        if _needs_sqlalchemy(form.compiled):  # type: ignore[union-attr]
            form = None
        self._forms[key] = form
        return form

    async def rows(self, session: AsyncSession, params: Mapping[str, Any]) -> list[_Row]:
        """The statement's rows (none for a statement without RETURNING)."""
        direct = await _direct(session)
        if direct is not None:
            connection, dialect = direct
            form = self._form(dialect, tuple(params))
            if form is not None:
                sql, arguments = form.arguments(params)
                found = await _execute(connection, sql, arguments)
                return form.rows(found) if found else []
        result = await (await session.connection()).execute(self.statement, params)
        return [tuple(row) for row in result] if result.returns_rows else []

    async def scalar(self, session: AsyncSession, params: Mapping[str, Any]) -> Any:
        """The first column of the first row, or None."""
        found = await self.rows(session, params)
        return found[0][0] if found else None

    async def run(self, session: AsyncSession, params: Mapping[str, Any]) -> None:
        """Execute it for its effect."""
        await self.rows(session, params)

    async def run_many(self, session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
        """Execute it once per parameter set (every set with the same names), for
        its effect: on SQLite one ``executemany``."""
        if not rows:
            return
        direct = await _direct(session)
        if direct is not None:
            connection, dialect = direct
            form = self._form(dialect, tuple(rows[0]))
            if form is not None and not form.expanding and form.results is None:
                sql = form.sql
                batch = [form.arguments(params)[1] for params in rows]
                await _execute(connection, sql, batch, many=True)
                return
        await (await session.connection()).execute(self.statement, list(rows))


async def _direct(session: AsyncSession) -> tuple[Any, Dialect] | None:
    """The session's ``sqlite3`` connection and dialect, when its transaction runs
    on the loop's thread and nothing listens to the engine's statements; else None.

    Begins the session's transaction if it has none yet (as a statement would).
    """
    sync = session.sync_session
    transaction = sync.get_transaction()
    handle = sync.info.get(_HANDLE)
    if handle is None or transaction is None or handle[0] is not transaction:
        connection = await session.connection()
        transaction = sync.get_transaction()
        adapted = connection.sync_connection.connection.dbapi_connection  # type: ignore[union-attr]
        if not isinstance(adapted, sqlite_trips.OneTripConnection):
            adapted = None
        handle = sync.info[_HANDLE] = (transaction, adapted, connection.sync_engine)
    _, adapted, engine = handle
    if adapted is None or not adapted.inline:
        return None
    dispatch = engine.dispatch
    if dispatch.before_cursor_execute or dispatch.after_cursor_execute:
        return None  # someone counts or logs statements: SQLAlchemy's path
    if not sync._is_clean() and sync.autoflush:
        await session.flush()
    return adapted, engine.dialect


async def _execute(adapted: Any, sql: str, arguments: Any, many: bool = False) -> list[Any]:
    """Run on the loop's thread, as :meth:`OneTripConnection.run_inline` does."""
    try:
        return await sqlite_trips.run_direct(adapted, sql, arguments, many)
    except sqlite3.Error as error:
        raise exc.DBAPIError.instance(sql, arguments, error, sqlite3.Error) from error


class Entity:
    """A model's columns for a :class:`Prepared` select, and its instances built
    from them as if loaded: every column set, no history, the identity key
    set. What a request's session read and a reply's thread read need, for a
    tenth of what the ORM's loading costs; their relationships are set with
    :meth:`relate` or left unloaded (touching one raises, as a detached
    instance's does)."""

    __slots__ = ("columns", "keys", "model", "primary")

    def __init__(self, model: type[Any]) -> None:
        mapper = inspect(model)
        attrs = list(mapper.column_attrs)
        self.model = model
        self.keys = [attr.key for attr in attrs]
        self.columns: list[ColumnElement[Any]] = [attr.columns[0] for attr in attrs]
        self.primary = [
            self.keys.index(mapper.get_property_by_column(c).key) for c in mapper.primary_key
        ]

    def __len__(self) -> int:
        return len(self.keys)

    def build(self, values: Sequence[Any]) -> Any:
        """A detached instance with ``values`` (in :attr:`columns`' order)."""
        instance = self.model(**dict(zip(self.keys, values, strict=True)))
        make_transient_to_detached(instance)
        return instance

    def attach(self, session: AsyncSession, values: Sequence[Any]) -> Any:
        """The instance in ``session``: the one its identity map holds already
        (as a select would return it), else one built and added as loaded."""
        key = identity_key(self.model, tuple(values[i] for i in self.primary))
        found = session.sync_session.identity_map.get(key)
        if found is not None:
            # Its expired columns take the row's values, as a select's would.
            expired = inspect(found).expired_attributes
            for name, value in zip(self.keys, values, strict=True):
                if name in expired:
                    set_committed_value(found, name, value)
            return found
        instance = self.build(values)
        session.add(instance)
        return instance

    @staticmethod
    def relate(instance: Any, name: str, value: Any) -> None:
        """Set a relationship as loaded (a joined load's result)."""
        set_committed_value(instance, name, value)
