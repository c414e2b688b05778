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
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql import Executable

from collab import sqlite_trips

__all__ = ["Entity", "Prepared"]

_HANDLE = "collab.prepared"  # key of Session.info: (transaction, connection, dialect)
_Row = tuple[Any, ...]


# How a positional argument is found: a fixed value (processed once), a
# parameter, or an element of an IN list parameter.
_FIXED, _PARAM, _ITEM = 0, 1, 2
_Plan = tuple[str, list[tuple[int, Any, Any, Any]]]


class _Compiled:
    """One compiled form of a statement: its SQL and how values go in and out.

    An IN list's SQL depends on its length: a plan (the SQL, where each
    argument comes from) is made once per length, from SQLAlchemy's own
    expansion of the first parameters of that length.
    """

    __slots__ = ("compiled", "dynamic", "lists", "plans", "processors", "results")

    def __init__(self, statement: Executable, dialect: Dialect, keys: Sequence[str]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
        self.compiled = compiled
        binds = list(compiled.binds.values())
        # Rendered into the SQL, computed at each run, or lists of tuples:
        # SQLAlchemy's expansion at every run.
        self.dynamic = any(
            b.literal_execute or b.callable is not None or (b.expanding and b.type._is_tuple_type)
            for b in binds
        )
        self.lists = tuple(b.key for b in binds if b.expanding and b.key in keys)
        # What SQLAlchemy's execution applies (its DefaultExecutionContext):
        # the compiled statement's processors, and the expanded ones'.
        self.processors: Mapping[str, Any] = compiled._bind_processors
        self.plans: dict[tuple[int, ...], _Plan] = {}
        columns = getattr(statement, "exported_columns", ())
        processors = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
        self.results = [(i, p) for i, p in enumerate(processors) if p is not None] or None

    def _plan(self, params: Mapping[str, Any]) -> _Plan:
        state = self.compiled.construct_expanded_state(params, escape_names=False)
        processors = {**self.processors, **state.processors}
        items = {
            name: (key, index)
            for key, names in (state.parameter_expansion or {}).items()
            for index, name in enumerate(names)
        }
        steps: list[tuple[int, Any, Any, Any]] = []
        for name in state.positiontup or ():
            process = processors.get(name)
            item = items.get(name)
            if item is not None and item[0] in params:
                steps.append((_ITEM, item[0], item[1], process))
            elif name in params:
                steps.append((_PARAM, name, None, process))
            else:
                value = state.parameters[name]
                steps.append((_FIXED, process(value) if process is not None else value, None, None))
        return state.statement, steps

    def _expanded(self, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """SQLAlchemy's expansion of these parameters, used once."""
        state = self.compiled.construct_expanded_state(params, escape_names=False)
        processors = {**self.processors, **state.processors}
        arguments = []
        for name in state.positiontup or ():
            value, process = state.parameters[name], processors.get(name)
            arguments.append(process(value) if process is not None else value)
        return state.statement, arguments

    def arguments(self, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The SQL and its positional arguments for ``params``."""
        if self.dynamic or not all(isinstance(params[key], list | tuple) for key in self.lists):
            return self._expanded(params)
        shape = tuple(len(params[key]) for key in self.lists)
        plan = self.plans.get(shape)
        if plan is None:
            plan = self.plans[shape] = self._plan(params)
        sql, steps = plan
        arguments = []
        for kind, a, b, process in steps:
            if kind == _FIXED:
                arguments.append(a)
                continue
            value = params[a] if kind == _PARAM else params[a][b]
            arguments.append(process(value) if process is not None else value)
        return sql, arguments

    def rows(self, rows: list[Any]) -> list[Any]:
        results = self.results
        if results is None:
            return rows
        processed = []
        for row in rows:
            values = list(row)
            for i, process in results:
                values[i] = process(values[i])
            processed.append(tuple(values))
        return processed


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
        await _autoflush(session)
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

    async def read(
        self, engine: AsyncEngine, params: Mapping[str, Any], patience_ms: int
    ) -> list[_Row]:
        """Its rows, read outside any session (``Database.read``: a row or two
        by key, every request's session row). On SQLite a pooled connection's
        ``sqlite3`` connection runs it on the loop's thread
        (:func:`collab.sqlite_trips.read_direct`; ``patience_ms``: its busy
        timeout), with none of an ORM session's setting up and tearing down.
        """
        sync_engine = engine.sync_engine
        dispatch = sync_engine.dispatch
        if sync_engine.dialect.name == "sqlite" and not (
            dispatch.before_cursor_execute or dispatch.after_cursor_execute
        ):
            form = self._form(sync_engine.dialect, tuple(params))
            if form is not None:
                pooled = await engine.raw_connection()
                try:
                    adapted = pooled.dbapi_connection
                    if isinstance(adapted, sqlite_trips.OneTripConnection) and not adapted.inline:
                        sql, arguments = form.arguments(params)
                        found = await _execute(adapted, sql, arguments, patience_ms=patience_ms)
                        return form.rows(found) if found else []
                finally:
                    pooled.close()
        async with engine.connect() as connection:
            result = await connection.execute(self.statement, params)
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
        await _autoflush(session)
        direct = await _direct(session)
        if direct is not None:
            connection, dialect = direct
            form = self._form(dialect, tuple(rows[0]))
            if form is not None and not form.dynamic and not form.lists and form.results is None:
                # No IN list: every row's SQL is the same, each row's arguments differ.
                sql, first = form.arguments(rows[0])
                batch = [first, *(form.arguments(params)[1] for params in rows[1:])]
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
    return adapted, engine.dialect


async def _autoflush(session: AsyncSession) -> None:
    """Pending ORM changes first, as an ORM execution's autoflush would, on
    every path (the statement may read or refer to them)."""
    sync = session.sync_session
    if sync.autoflush and not sync._is_clean():
        await session.flush()


async def _execute(
    adapted: Any, sql: str, arguments: Any, many: bool = False, patience_ms: int | None = None
) -> list[Any]:
    """Run on the loop's thread: in the connection's inline transaction, or
    (``patience_ms`` given) as a read outside any transaction. ``sqlite3``'s
    errors come back as SQLAlchemy's, as its execution would raise them."""
    try:
        if patience_ms is not None:
            return await sqlite_trips.read_direct(adapted, sql, arguments, patience_ms)
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

    __slots__ = ("columns", "keys", "manager", "model", "primary")

    def __init__(self, model: type[Any]) -> None:
        mapper = inspect(model)
        attrs = list(mapper.column_attrs)
        self.model = model
        self.manager = mapper.class_manager
        self.keys = [attr.key for attr in attrs]
        self.columns: list[ColumnElement[Any]] = [attr.columns[0] for attr in attrs]
        self.primary = [
            self.keys.index(mapper.get_property_by_column(c).key) for c in mapper.primary_key
        ]

    def __len__(self) -> int:
        return len(self.keys)

    def build(self, values: Sequence[Any]) -> Any:
        """A detached instance with ``values`` (in :attr:`columns`' order)."""
        # As the ORM's loader makes one: no __init__, the values straight into
        # its __dict__ (no attribute events), then committed as loaded.
        instance = self.manager.new_instance()
        instance.__dict__.update(zip(self.keys, values, strict=True))
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
