"""The embedded engine: SQLite FTS5 over Snowball stems made in Python.

``search_fts`` (migration 0016) holds, for each ``search_item`` (rowid = its
id), the stems of its title and body (:func:`collab.search.text.stems`), so
FTS5's own tokenizer only splits on spaces what Python already stemmed.
Triggers on ``search_item`` write it (migration 0022), calling the stemmer
as the SQL function ``search_stems``: writing an item is one statement, its
``search_item`` row, as on PostgreSQL (a reply's index step, in-process on
bench.search's data: 0.69 to 0.56 ms, one trip to aiosqlite's thread less). A
query is stemmed the same way and passed as an FTS5 expression of quoted
stems only: nothing a person types reaches FTS5's syntax. Ranking is
``bm25()`` with the title weighing more; snippets are cut in Python from
the original text (:func:`collab.search.text.snippet`), since FTS5's
``snippet()`` would show stems.

Who may read an item is in the index too (migration 0020): the column
``scope`` holds its scope tokens (:func:`collab.search.engine.scope_tokens`:
``zpub``, ``zmetro``, ``z<zone>``). A search adds
the reader's tokens to its expression (``scope : (zpub OR zmetro OR z5)``),
so FTS5 intersects the word lists with the reader's in C, and a page of a
common word counts and ranks its readable matches without reading a
``search_item`` row: it reads the twenty it shows (bench.search: the
ranking of "trasporto" for a mayor, 27,000 matches, from 24 to 9 ms).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    column,
    func,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from collab.models import User
from collab.search.documents import Doc
from collab.search.engine import Engine, reader_tokens
from collab.search.models import SearchItem
from collab.search.text import STOP_WORDS, Query, stem

__all__ = ["SqliteEngine", "fts_expression", "reader_scope"]

FTS = table("search_fts", column("rowid"), column("title"), column("body"), column("scope"))
# bm25() column weights: a word of the title counts as five of the body.
TITLE_WEIGHT, BODY_WEIGHT = 5.0, 1.0


def fts_expression(query: Query) -> str:
    """The FTS5 expression of ``query``: every part quoted, stems only."""
    positive = [f'"{stem(word)}"' for word in query.terms]
    for phrase in query.phrases:
        kept = " ".join(stem(word) for word in phrase if word not in STOP_WORDS)
        if kept:
            positive.append(f'"{kept}"')
    if query.prefix is not None:
        positive.append(f'"{stem(query.prefix)}" *')
    expression = " AND ".join(positive)
    if query.excluded:
        excluded = " OR ".join(f'"{stem(word)}"' for word in query.excluded)
        expression = f"({expression}) NOT ({excluded})"
    return expression


def reader_scope(viewer: User | None) -> str | None:
    """The ``scope`` expression of what ``viewer`` may read: "" when they
    read everything, None when tokens cannot say it."""
    tokens = reader_tokens(viewer)
    return None if tokens is None else " OR ".join(tokens)


def _scoped(query: Query, viewer_scope: str) -> str:
    # The words in title and body only: a typed "z5" is a word, not a zone.
    words = f"{{title body}} : ({fts_expression(query)})"
    return f"{words} AND scope : ({viewer_scope})" if viewer_scope else words


class SqliteEngine(Engine):
    def _upsert(self) -> Any:
        # On the table, not the entity: SQLAlchemy runs an INSERT of an ORM
        # entity through the ORM's bulk path, which cost a reply's index
        # step 0.3 of its 0.85 ms (in-process, bench.search's data); a Core
        # INSERT writes the same row and returns the same ids.
        return sqlite_insert(cast(Table, SearchItem.__table__))

    # search_item's triggers write, replace and delete the full-text rows
    # (migration 0022): nothing more to do here.
    async def _put_text(self, session: AsyncSession, item_id: int, doc: Doc) -> None:
        pass

    async def _put_texts(self, session: AsyncSession, placed: Sequence[tuple[int, Doc]]) -> None:
        pass

    async def _drop_text(self, session: AsyncSession, item_id: int) -> None:
        pass

    async def _clear_text(self, session: AsyncSession) -> None:
        # At once, before search_item's rows: their trigger then finds none to delete.
        await session.execute(text("DELETE FROM search_fts"))

    def _from(self, query: Query) -> Select[Any]:
        return select(SearchItem.id).select_from(FTS).join(SearchItem, SearchItem.id == FTS.c.rowid)

    def _match(self, query: Query) -> ColumnElement[bool]:
        return _fts_match(_scoped(query, ""))

    def _readable_match(self, query: Query, viewer: User | None) -> list[ColumnElement[bool]]:
        viewer_scope = reader_scope(viewer)
        if viewer_scope is None:
            return super()._readable_match(query, viewer)
        return [_fts_match(_scoped(query, viewer_scope))]

    def _in_index(self, query: Query, viewer: User | None) -> Select[Any] | None:
        viewer_scope = reader_scope(viewer)
        if viewer_scope is None:
            return None
        return select(FTS.c.rowid).select_from(FTS).where(_fts_match(_scoped(query, viewer_scope)))

    def _top(
        self, query: Query, viewer: User | None, limit: int, offset: int
    ) -> Select[Any] | None:
        found = self._in_index(query, viewer)
        if found is None:
            return None
        # Ties (rare with bm25) go to the newer item: ids grow with time.
        rank = self._rank(query).label("rank")
        top = (
            found.add_columns(rank)
            .order_by(rank, FTS.c.rowid.desc())
            .limit(limit)
            .offset(offset)
            .cte("top")
        )
        return (
            select(SearchItem)
            .join(top, SearchItem.id == top.c.rowid)
            .order_by(top.c.rank, top.c.rowid.desc())
        )

    def _rank(self, query: Query) -> ColumnElement[Any]:
        # bm25() is lower for better matches; the scope's tokens weigh nothing.
        return func.bm25(literal_column("search_fts"), TITLE_WEIGHT, BODY_WEIGHT, 0.0)


def _fts_match(expression: str) -> ColumnElement[bool]:
    return literal_column("search_fts").op("MATCH")(expression)
