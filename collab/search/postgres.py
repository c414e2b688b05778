"""The scale-out engine: PostgreSQL full-text search, Italian configuration.

``search_item.tsv`` (migration 0016) is a generated column,
``setweight(to_tsvector('italian', search_unaccent(title)), 'A') ||
setweight(to_tsvector('italian', search_unaccent(body)), 'B')``, with a GIN
index; ``search_unaccent`` is an immutable wrapper of ``unaccent`` (which is
only stable, so cannot be indexed as it is). A query becomes a ``tsquery``
built from bound parameters (``plainto_tsquery``, ``phraseto_tsquery``, a
``:*`` prefix on a word of letters and digits only), ranked with
``ts_rank_cd`` over the text's length (:data:`BY_LENGTH`). Since migration
0020 ``tsv`` also holds the item's scope (``search_item.scope``) as lexemes
``scope:zpub``, ``scope:z5``..., which no typed text can make: a search ANDs
its words with its reader's scope, and the GIN index hands over only the
readable matches (for a mayor's "trasporto", 5,800 of 28,000) to be read and
ranked. Snippets are the engine's own, in Python, as on SQLite
(:func:`collab.search.text.snippet`): ``ts_headline`` parsed each result's
whole text again, 25-40 ms for a page of long documents.

A search with nothing but words is one statement (:meth:`PostgresEngine.
_counted_page`): the readable matches are ranked, counted by a window over
the ranking, and the page's rows read by id; the tsquery is computed once
(:func:`once`), and ``tsv`` stays in its row (migration 0021), so ranking
a document does not read TOAST.
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    Table,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
)
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
# ts_rank_cd's normalization 2: the rank over the text's length, as bm25
# weighs a match in a short text above one in a long text (SQLite). Without
# it a long document always came first: on bench.search's data the first
# pages of the 40 queries shared 0.6 of their 20 results with SQLite's (the
# first result 2 times in 39), with it 11.8 (29 of 39).
BY_LENGTH = 2


def _and(parts: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
    combined = parts[0]
    for part in parts[1:]:
        combined = func.tsquery_and(combined, part)
    return combined


def tsquery(query: Query, scope: ColumnElement[Any] | None = None) -> ColumnElement[Any]:
    """The ``tsquery`` of ``query``: all parts AND-ed, excluded words negated,
    and ``scope`` (the reader's) if given; the empty ``tsquery`` (which
    matches nothing) when no word it looks for is left once PostgreSQL
    drops its stop words: ``stavo`` is in its list and not in
    :data:`collab.search.text.STOP_WORDS`, and the scope AND-ed to nothing,
    or ``!word`` alone, would match everything."""
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
    positive = _and(parts)
    excluded = [
        func.tsquery_not(func.plainto_tsquery(ITALIAN, func.search_unaccent(word)))
        for word in query.excluded
    ]
    return case(
        (func.numnode(positive) == 0, cast(literal(""), TSQUERY)),
        else_=_and([positive, *excluded, *([] if scope is None else [scope])]),
    )


def once(value: ColumnElement[Any]) -> ScalarSelect[Any]:
    """``value`` as a scalar subquery: PostgreSQL computes it once per
    statement (an InitPlan). As a plain expression of bound parameters, a
    prepared statement's generic plan, which PostgreSQL picks after five
    runs, parsed and stemmed the query again for every row it ranked and
    rechecked: 30 instead of 20 ms for "trasporto" (EXPLAIN ANALYZE)."""
    return select(value).scalar_subquery()


class PostgresEngine(Engine):
    def _upsert(self) -> Any:
        # On the table, not the entity, as on SQLite: an ORM entity's INSERT
        # goes through the ORM's bulk path, a third of an index step's CPU.
        return pg_insert(typing.cast(Table, SearchItem.__table__))

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
        return TSV.op("@@")(once(tsquery(query)))

    def _readable_match(self, query: Query, viewer: User | None) -> list[ColumnElement[bool]]:
        tokens = reader_tokens(viewer)
        if tokens is None:
            return super()._readable_match(query, viewer)
        return [_scoped_match(query, tokens)]

    def _rank(self, query: Query) -> ColumnElement[Any]:
        return func.ts_rank_cd(TSV, once(tsquery(query)), BY_LENGTH).desc()

    async def _counted_page(
        self, session: AsyncSession, query: Query, viewer: User | None, limit: int, offset: int
    ) -> tuple[int, Sequence[SearchItem]] | None:
        # Every readable match is ranked (ts_rank_cd, best first) to cut the
        # page, so the same pass counts them (a window over all of them)
        # instead of a second statement; only id, date and rank travel
        # through the window and the sort, and the page's rows are read by
        # id afterwards. The ranking is a subquery of its own (OFFSET 0, so
        # that PostgreSQL does not merge it): else the planner ranks above
        # the window, which then stores every match's tsv: "mensa" for a
        # mayor (4,305 matches) took 17 instead of 10 ms (psql, medians).
        tokens = reader_tokens(viewer)
        if tokens is None:
            return None
        ranked = (
            select(
                SearchItem.id,
                SearchItem.created_at,
                func.ts_rank_cd(TSV, once(tsquery(query)), BY_LENGTH).label("rank"),
            )
            .where(_scoped_match(query, tokens))
            .offset(0)
            .subquery("ranked")
        )
        top = (
            select(ranked, func.count().over().label("found"))
            .order_by(ranked.c.rank.desc(), ranked.c.created_at.desc(), ranked.c.id.desc())
            .limit(limit)
            .offset(offset)
            .subquery("top")
        )
        found = (
            await session.execute(
                select(SearchItem, top.c.found)
                .join(top, SearchItem.id == top.c.id)
                .order_by(top.c.rank.desc(), top.c.created_at.desc(), top.c.id.desc())
            )
        ).all()
        if not found:
            return None if offset else (0, ())
        return found[0][1], [row for row, _ in found]


def _scoped_match(query: Query, tokens: Sequence[str]) -> ColumnElement[bool]:
    """The matches of ``query`` with one of the scope ``tokens`` (none: all)."""
    if not tokens:
        return TSV.op("@@")(once(tsquery(query)))
    # The reader's scope lexemes, quoted: "scope:z5" is no word a parser
    # makes of typed text, so only the scope finds them.
    readers = " | ".join(f"'{SCOPE_PREFIX}{token}'" for token in tokens)
    return TSV.op("@@")(once(tsquery(query, cast(literal(readers), TSQUERY))))
