"""The scale-out engine: PostgreSQL full-text search, Italian configuration.

``search_item.tsv`` (migration 0016) is a generated column,
``setweight(to_tsvector('italian', search_unaccent(title)), 'A') ||
setweight(to_tsvector('italian', search_unaccent(body)), 'B')``, with a GIN
index; ``search_unaccent`` is an immutable wrapper of ``unaccent`` (which is
only stable, so cannot be indexed as it is). A query becomes a ``tsquery``
built from bound parameters (``plainto_tsquery``, ``phraseto_tsquery``, a
``:*`` prefix on a word of letters and digits only), ranked with
``ts_rank_cd``. Since migration 0020 ``tsv`` also holds the item's scope
(``search_item.scope``) as lexemes ``scope:zpub``, ``scope:z5``..., which
no typed text can make: a search ANDs its words with its reader's scope,
and the GIN index hands over only the readable matches (for a mayor's
"trasporto", 5,800 of 28,000) to be read and ranked. Snippets are the
engine's own, in Python, as on SQLite (:func:`collab.search.text.snippet`):
``ts_headline`` parsed each result's whole text again, 25-40 ms for a page
of long documents.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, cast, func, literal, literal_column, select
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from collab.models import User
from collab.search.documents import Doc
from collab.search.engine import Engine, reader_tokens
from collab.search.models import SearchItem
from collab.search.text import Query

__all__ = ["PostgresEngine"]

ITALIAN: ColumnElement[Any] = literal_column("'italian'::regconfig")
TSV: ColumnElement[Any] = literal_column("search_item.tsv")
# How migration 0020 writes ``search_item.scope``'s tokens into ``tsv``.
SCOPE_PREFIX = "scope:"


def tsquery(query: Query) -> ColumnElement[Any]:
    """The ``tsquery`` of ``query``: all parts AND-ed, excluded words negated."""
    parts: list[ColumnElement[Any]] = [
        func.plainto_tsquery(ITALIAN, func.search_unaccent(word)) for word in query.terms
    ]
    parts.extend(
        func.phraseto_tsquery(ITALIAN, func.search_unaccent(" ".join(phrase)))
        for phrase in query.phrases
    )
    if query.prefix is not None:
        # The prefix is a folded \w+ word: no quote or operator of tsquery's syntax.
        parts.append(func.to_tsquery(ITALIAN, func.search_unaccent(f"'{query.prefix}':*")))
    parts.extend(
        func.tsquery_not(func.plainto_tsquery(ITALIAN, func.search_unaccent(word)))
        for word in query.excluded
    )
    combined = parts[0]
    for part in parts[1:]:
        combined = func.tsquery_and(combined, part)
    return combined


class PostgresEngine(Engine):
    def _upsert(self) -> Any:
        return pg_insert(SearchItem)

    # The generated column follows title and body: nothing more to write.
    async def _put_text(self, session: AsyncSession, item_id: int, doc: Doc) -> None:
        return None

    async def _drop_text(self, session: AsyncSession, item_id: int) -> None:
        return None

    async def _clear_text(self, session: AsyncSession) -> None:
        return None

    def _from(self, query: Query) -> Select[Any]:
        return select(SearchItem.id).select_from(SearchItem)

    def _match(self, query: Query) -> ColumnElement[bool]:
        return TSV.op("@@")(tsquery(query))

    def _readable_match(self, query: Query, viewer: User | None) -> list[ColumnElement[bool]]:
        tokens = reader_tokens(viewer)
        if tokens is None:
            return super()._readable_match(query, viewer)
        if not tokens:
            return [self._match(query)]
        # The reader's scope lexemes, quoted: "scope:z5" is no word a parser
        # makes of typed text, so only the scope finds them.
        readers = " | ".join(f"'{SCOPE_PREFIX}{token}'" for token in tokens)
        scoped = func.tsquery_and(tsquery(query), cast(literal(readers), TSQUERY))
        return [TSV.op("@@")(scoped)]

    def _rank(self, query: Query) -> ColumnElement[Any]:
        return func.ts_rank_cd(TSV, tsquery(query)).desc()
