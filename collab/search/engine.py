"""The search engine's interface: write items, find them within what a person may read.

:class:`Engine` holds what both databases share (the ``search_item`` rows,
the permission and filter conditions, counting and paging); each subclass
adds its full-text structure: :class:`collab.search.sqlite.SqliteEngine`
(FTS5 over Snowball stems) and :class:`collab.search.postgres.PostgresEngine`
(``tsvector``, GIN). :func:`engine_for` picks the one of a session.
"""

from __future__ import annotations

import functools
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    delete,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from collab.models import User
from collab.permissions import TABLE, Action, Relation
from collab.prepared import Prepared
from collab.search.documents import Doc, Item
from collab.search.models import SearchItem, SearchItemZone
from collab.search.text import Query, snippet

__all__ = [
    "COUNT_CAP",
    "PER_PAGE",
    "SORTS",
    "Engine",
    "Filters",
    "Hit",
    "Results",
    "readable",
    "reader_tokens",
    "scope_tokens",
]

PER_PAGE = 20
#: Results counted at most; a search finding more says "more than" this
#: (50 pages of 20: nobody pages further, they narrow the search).
COUNT_CAP = 1000
# Kinds addressed to a set of zones, listed in ``search_item_zone``; threads
# and posts belong to one zone (or none), kept in ``search_item.zone_id``.
MULTI_ZONE = frozenset({"consultation", "contribution", "meeting", "verbale"})
SORTS = ("relevance", "newest")


@dataclass(frozen=True)
class Filters:
    """What narrows a search, each optional: ids (the page turns numbers,
    slugs and codes into them) and a half-open UTC time range."""

    kind: str | None = None
    zone_id: int | None = None
    theme_id: int | None = None
    comune_id: int | None = None
    author_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    sort: str = "relevance"


@dataclass(frozen=True)
class Hit:
    """One result: what it is, where it lands, and its snippet (safe HTML)."""

    kind: str
    object_id: int
    title: str
    context: str
    url: str
    created_at: datetime
    zone_id: int | None
    theme_id: int | None
    comune_id: int | None
    snippet: str


@dataclass(frozen=True)
class Results:
    """One page of hits, and how many there are in all (all readable)."""

    hits: Sequence[Hit]
    total: int  # at most COUNT_CAP
    page: int
    pages: int
    more: bool = False  # more than COUNT_CAP found: ``total`` is COUNT_CAP

    # What templates/_macros.html's pagination reads.
    @property
    def number(self) -> int:
        return self.page

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def readable(viewer: User | None) -> ColumnElement[bool]:
    """The items ``viewer`` may read, as a condition: the READ row of
    ``collab.permissions.TABLE`` for their role, plus public items."""
    public = SearchItem.public.is_(True)
    if viewer is None or not viewer.active:
        return public
    relations = TABLE[Action.READ][viewer.role]
    if relations == frozenset(Relation):
        return true()
    conditions: list[ColumnElement[bool]] = [public]
    if Relation.METRO in relations:
        conditions.append(SearchItem.metro.is_(True))
    zone = viewer.zone_id
    if Relation.OWN_ZONE in relations and zone is not None:
        conditions.append(in_zone(zone))
    if Relation.OTHER_ZONE in relations:
        conditions.append(SearchItem.zone_id.is_not(None) if zone is None else _in_other_zone(zone))
    return or_(*conditions)


# Who may read an item, as words the full-text index holds beside its text
# (``search_item.scope``): both engines intersect a search's words with its
# reader's in the index, before a row is read.
PUBLIC, METRO = "zpub", "zmetro"


def scope_tokens(doc: Doc) -> str:
    """The scope of ``doc``: ``zpub`` if public, ``zmetro`` if metropolitan,
    ``z<id>`` for each of its zones; the same facts :func:`readable` reads
    from ``public``, ``metro``, ``zone_id`` and ``search_item_zone``."""
    tokens = [PUBLIC] if doc.public else []
    if doc.metro:
        tokens.append(METRO)
    zones = set(doc.zones) if doc.kind in MULTI_ZONE else set()
    if doc.zone_id is not None:
        zones.add(doc.zone_id)
    tokens.extend(f"z{zone}" for zone in sorted(zones))
    return " ".join(tokens)


def reader_tokens(viewer: User | None) -> tuple[str, ...] | None:
    """The scope tokens of what ``viewer`` may read (any one will do): ``()``
    when they read everything, None when tokens cannot say it (a reader of
    the other zones but not of their own: no role is, today)."""
    if viewer is None or not viewer.active:
        return (PUBLIC,)
    relations = TABLE[Action.READ][viewer.role]
    if relations == frozenset(Relation):
        return ()
    if Relation.OTHER_ZONE in relations:
        return None
    tokens = [PUBLIC]
    if Relation.METRO in relations:
        tokens.append(METRO)
    if Relation.OWN_ZONE in relations and viewer.zone_id is not None:
        tokens.append(f"z{viewer.zone_id}")
    return tuple(tokens)


def in_zone(zone_id: int) -> ColumnElement[bool]:
    """Items of ``zone_id``: their own zone, or one of the zones they are addressed to."""
    return or_(
        SearchItem.zone_id == zone_id,
        exists().where(SearchItemZone.item_id == SearchItem.id, SearchItemZone.zone_id == zone_id),
    )


def _in_other_zone(zone_id: int) -> ColumnElement[bool]:
    return or_(
        SearchItem.zone_id != zone_id,
        exists().where(SearchItemZone.item_id == SearchItem.id, SearchItemZone.zone_id != zone_id),
    )


def _narrowed(filters: Filters) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if filters.kind is not None:
        found.append(SearchItem.kind == filters.kind)
    if filters.zone_id is not None:
        found.append(in_zone(filters.zone_id))
    for column, value in (
        (SearchItem.theme_id, filters.theme_id),
        (SearchItem.comune_id, filters.comune_id),
        (SearchItem.author_id, filters.author_id),
    ):
        if value is not None:
            found.append(column == value)
    if filters.since is not None:
        found.append(SearchItem.created_at >= filters.since)
    if filters.until is not None:
        found.append(SearchItem.created_at < filters.until)
    return found


class Engine(ABC):
    """One database's index. Writes run in the caller's transaction."""

    async def put(self, session: AsyncSession, doc: Doc) -> None:
        """Write ``doc``, replacing what the index held for its item."""
        # One statement, new item or not, built once: a reply pays for its
        # post's row once, and not again for building the statement.
        item_id = await self._upsert_one.scalar(
            session, {"kind": doc.kind, "object_id": doc.object_id, **_columns(doc)}
        )
        assert item_id is not None
        if doc.kind in MULTI_ZONE:
            await session.execute(delete(SearchItemZone).where(SearchItemZone.item_id == item_id))
            await session.execute(
                insert(SearchItemZone), [{"item_id": item_id, "zone_id": z} for z in doc.zones]
            )
        await self._put_text(session, item_id, doc)

    @functools.cached_property
    def _upsert_one(self) -> Prepared:
        """INSERT of one item, or UPDATE of the item already there, returning its id."""
        upsert = self._upsert()
        return Prepared(
            upsert.on_conflict_do_update(
                index_elements=["kind", "object_id"],
                set_={name: upsert.excluded[name] for name in _COLUMN_NAMES},
            ).returning(SearchItem.id)
        )

    async def put_many(self, session: AsyncSession, docs: Sequence[Doc]) -> None:
        """Write ``docs`` as :meth:`put` writes each, in a few statements
        whatever their number (``collab reindex``, :mod:`collab.search.bulk`)."""
        if not docs:
            return
        upsert = self._upsert()
        names = list(_columns(docs[0]))
        found = await session.execute(
            upsert.on_conflict_do_update(
                index_elements=["kind", "object_id"],
                set_={name: upsert.excluded[name] for name in names},
            ).returning(SearchItem.id, SearchItem.kind, SearchItem.object_id),
            [{"kind": doc.kind, "object_id": doc.object_id, **_columns(doc)} for doc in docs],
        )
        ids = {(kind, object_id): item_id for item_id, kind, object_id in found}
        placed = [(ids[(doc.kind, doc.object_id)], doc) for doc in docs]
        multi = [item_id for item_id, doc in placed if doc.kind in MULTI_ZONE]
        if multi:
            await session.execute(delete(SearchItemZone).where(SearchItemZone.item_id.in_(multi)))
            zones = [
                {"item_id": item_id, "zone_id": zone}
                for item_id, doc in placed
                if doc.kind in MULTI_ZONE
                for zone in doc.zones
            ]
            if zones:
                await session.execute(insert(SearchItemZone), zones)
        await self._put_texts(session, placed)

    async def _put_texts(self, session: AsyncSession, placed: Sequence[tuple[int, Doc]]) -> None:
        """The full text of many items (``placed``: item id and doc); one by one
        unless the engine does better."""
        for item_id, doc in placed:
            await self._put_text(session, item_id, doc)

    async def drop(self, session: AsyncSession, item: Item) -> None:
        """Take ``item`` out of the index, if it is there."""
        kind, object_id = item
        item_id = await session.scalar(
            select(SearchItem.id).where(SearchItem.kind == kind, SearchItem.object_id == object_id)
        )
        if item_id is None:
            return
        await self._drop_text(session, item_id)
        await session.execute(delete(SearchItemZone).where(SearchItemZone.item_id == item_id))
        await session.execute(delete(SearchItem).where(SearchItem.id == item_id))

    async def clear(self, session: AsyncSession) -> None:
        """Empty the index (``collab reindex`` fills it again)."""
        await self._clear_text(session)
        await session.execute(delete(SearchItemZone))
        await session.execute(delete(SearchItem))

    async def search(
        self,
        session: AsyncSession,
        viewer: User | None,
        query: Query,
        filters: Filters = Filters(),
        page: int = 1,
    ) -> Results:
        """One page of what ``viewer`` may read that matches ``query``: counted,
        ranked and cut within the permission condition, never after it."""
        narrowed = _narrowed(filters)
        conditions = [*self._readable_match(query, viewer), *narrowed]
        base = self._from(query).where(*conditions)
        # Nothing but the words and the reader: the engine may count and rank
        # in its index alone, and read only the page's rows.
        plain = not narrowed and filters.sort == "relevance"
        page = max(1, page)
        # An engine that ranks every readable match anyway may count them in
        # the same statement (PostgreSQL): the same cap applies below.
        counted = None
        if plain and page <= COUNT_CAP // PER_PAGE:
            offset = (page - 1) * PER_PAGE
            counted = await self._counted_page(session, query, viewer, PER_PAGE, offset)
        rows: Sequence[SearchItem] = ()
        if counted is not None:
            total, rows = counted
        else:
            # Counted up to COUNT_CAP + 1 only: past that, "more than 1,000"
            # says as much, and the exact count of a common word cost as much
            # as the ranking itself (27,000 matches, 5,800 readable: bench.search).
            capped: Select[Any] = (
                base.with_only_columns(literal_column("1")).order_by(None).limit(COUNT_CAP + 1)
            )
            if plain and (in_index := self._in_index(query, viewer)) is not None:
                capped = in_index.limit(COUNT_CAP + 1)
            total = await session.scalar(select(func.count()).select_from(capped.subquery())) or 0
        more = total > COUNT_CAP
        total = min(total, COUNT_CAP)
        pages = max(1, math.ceil(total / PER_PAGE))
        if total == 0:
            return Results(hits=(), total=0, page=1, pages=1)
        if counted is None or page > pages:
            page = min(page, pages)
            limit, offset = min(PER_PAGE, total - (page - 1) * PER_PAGE), (page - 1) * PER_PAGE
            top = self._top(query, viewer, limit, offset) if plain else None
            if top is None:
                newest = (SearchItem.created_at.desc(), SearchItem.id.desc())
                order = newest if filters.sort == "newest" else (self._rank(query), *newest)
                top = base.with_only_columns(SearchItem).order_by(*order)
                top = top.limit(limit).offset(offset)
            rows = (await session.execute(top)).scalars().all()
        snippets = await self._snippets(session, rows, query)
        zones: dict[int, set[int]] = {}
        if any(row.public_url is not None for row in rows):
            found = await session.execute(
                select(SearchItemZone.item_id, SearchItemZone.zone_id).where(
                    SearchItemZone.item_id.in_([row.id for row in rows])
                )
            )
            for item_id, zone_id in found:
                zones.setdefault(item_id, set()).add(zone_id)
        hits = [
            Hit(
                kind=row.kind, object_id=row.object_id, title=row.title, context=row.context,
                url=_landing(viewer, row, zones),
                created_at=row.created_at, zone_id=row.zone_id, theme_id=row.theme_id,
                comune_id=row.comune_id, snippet=snippets.get(row.id, ""),
            )
            for row in rows
        ]  # fmt: skip
        return Results(hits=hits, total=total, page=page, pages=pages, more=more)

    @abstractmethod
    def _upsert(self) -> Any:
        """The dialect's ``INSERT`` into ``search_item``, with ``on_conflict_do_update``."""

    @abstractmethod
    async def _put_text(self, session: AsyncSession, item_id: int, doc: Doc) -> None: ...

    @abstractmethod
    async def _drop_text(self, session: AsyncSession, item_id: int) -> None: ...

    @abstractmethod
    async def _clear_text(self, session: AsyncSession) -> None: ...

    def _readable_match(self, query: Query, viewer: User | None) -> list[ColumnElement[bool]]:
        """What finds the items matching ``query`` that ``viewer`` may read."""
        return [self._match(query), readable(viewer)]

    def _in_index(self, query: Query, viewer: User | None) -> Select[Any] | None:
        """The matches ``viewer`` may read, from the full-text index alone (no
        ``search_item``), if the engine can: counted there."""
        return None

    def _top(
        self, query: Query, viewer: User | None, limit: int, offset: int
    ) -> Select[Any] | None:
        """The page of ``SearchItem`` rows, best first, ranked in the index
        before any row is read, if the engine can."""
        return None

    async def _counted_page(
        self, session: AsyncSession, query: Query, viewer: User | None, limit: int, offset: int
    ) -> tuple[int, Sequence[SearchItem]] | None:
        """How many matches ``viewer`` may read (all of them, or at least
        ``COUNT_CAP + 1``) and the page of the ``limit`` best after
        ``offset``, in one statement, if the engine can; None if it cannot,
        or if ``offset`` is past the matches (the caller counts, and shows
        the last page)."""
        return None

    @abstractmethod
    def _from(self, query: Query) -> Select[Any]:
        """``SELECT`` over ``search_item`` joined to what ``_match`` needs."""

    @abstractmethod
    def _match(self, query: Query) -> ColumnElement[bool]: ...

    @abstractmethod
    def _rank(self, query: Query) -> ColumnElement[Any]:
        """Best first, in ``ORDER BY``."""

    async def _snippets(
        self, session: AsyncSession, rows: Sequence[SearchItem], query: Query
    ) -> dict[int, str]:
        """Highlighted, escaped excerpts of the rows' bodies, by item id: the
        same on both engines (:func:`collab.search.text.snippet`)."""
        return {row.id: snippet(row.body, query) for row in rows if row.body}


_COLUMN_NAMES = (
    "zone_id", "theme_id", "comune_id", "author_id", "created_at", "public", "metro", "scope",
    "title", "body", "context", "url", "public_url",
)  # fmt: skip


def _columns(doc: Doc) -> dict[str, Any]:
    """What ``search_item`` holds of ``doc`` beside its kind and object id."""
    return {
        "zone_id": doc.zone_id, "theme_id": doc.theme_id, "comune_id": doc.comune_id,
        "author_id": doc.author_id, "created_at": doc.created_at, "public": doc.public,
        "metro": doc.metro, "scope": scope_tokens(doc), "title": doc.title, "body": doc.body,
        "context": doc.context[:300], "url": doc.url, "public_url": doc.public_url,
    }  # fmt: skip


def _landing(viewer: User | None, row: SearchItem, zones: dict[int, set[int]]) -> str:
    """Where ``viewer`` lands: the item's own page for a member of its zones
    (or CMTo), its public link for anyone else who found it (a public meeting)."""
    if row.public_url is None:
        return row.url
    if viewer is None or not viewer.active:
        return row.public_url
    if Relation.OTHER_ZONE in TABLE[Action.READ][viewer.role]:
        return row.url
    member = viewer.zone_id == row.zone_id or viewer.zone_id in zones.get(row.id, set())
    return row.url if member else row.public_url
