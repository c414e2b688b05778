"""The embedded engine: SQLite FTS5 over Snowball stems made in Python.

``search_fts`` (migration 0016) holds, for each ``search_item`` (rowid = its
id), the stems of its title and body (:func:`collab.search.text.stems`), so
FTS5's own tokenizer only splits on spaces what Python already stemmed. A
query is stemmed the same way and passed as an FTS5 expression of quoted
stems only: nothing a person types reaches FTS5's syntax. Ranking is
``bm25()`` with the title weighing more; snippets are cut in Python from
the original text (:func:`collab.search.text.snippet`), since FTS5's
``snippet()`` would show stems.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, column, func, literal_column, select, table, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from collab.search.documents import Doc
from collab.search.engine import Engine
from collab.search.models import SearchItem
from collab.search.text import STOP_WORDS, Query, stem, stems

__all__ = ["SqliteEngine", "fts_expression"]

FTS = table("search_fts", column("rowid"), column("title"), column("body"))
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


class SqliteEngine(Engine):
    def _upsert(self) -> Any:
        return sqlite_insert(SearchItem)

    async def _put_text(self, session: AsyncSession, item_id: int, doc: Doc) -> None:
        # FTS5 replaces the row of the same rowid: one statement, new or not.
        await session.execute(
            text(
                "INSERT OR REPLACE INTO search_fts (rowid, title, body) VALUES (:id, :title, :body)"
            ),
            {"id": item_id, "title": stems(doc.title), "body": stems(doc.body)},
        )

    async def _put_texts(self, session: AsyncSession, placed: Sequence[tuple[int, Doc]]) -> None:
        await session.execute(
            text(
                "INSERT OR REPLACE INTO search_fts (rowid, title, body) VALUES (:id, :title, :body)"
            ),
            [
                {"id": item_id, "title": stems(doc.title), "body": stems(doc.body)}
                for item_id, doc in placed
            ],
        )

    async def _drop_text(self, session: AsyncSession, item_id: int) -> None:
        await session.execute(text("DELETE FROM search_fts WHERE rowid = :id"), {"id": item_id})

    async def _clear_text(self, session: AsyncSession) -> None:
        await session.execute(text("DELETE FROM search_fts"))

    def _from(self, query: Query) -> Select[Any]:
        return select(SearchItem.id).select_from(FTS).join(SearchItem, SearchItem.id == FTS.c.rowid)

    def _match(self, query: Query) -> ColumnElement[bool]:
        return literal_column("search_fts").op("MATCH")(fts_expression(query))

    def _rank(self, query: Query) -> ColumnElement[Any]:
        # bm25() is lower for better matches.
        return func.bm25(literal_column("search_fts"), TITLE_WEIGHT, BODY_WEIGHT)
