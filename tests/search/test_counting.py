"""Counting and paging alike on both engines, whichever way a search runs:
with nothing but words (PostgreSQL counts in its ranking statement, SQLite
in FTS5) or narrowed by a filter (counted apart, up to COUNT_CAP + 1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from collab.db import Database
from collab.search.documents import Doc
from collab.search.engine import COUNT_CAP, PER_PAGE, Filters, Results
from collab.search.index import engine_for
from tests.conftest import World
from tests.search.scene import find

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _doc(n: int, zone_id: int | None, body: str) -> Doc:
    return Doc(
        kind="post", object_id=n, title="", body=body, url=f"/posts/{n}",
        created_at=START + timedelta(minutes=n), zones=() if zone_id is None else (zone_id,),
        zone_id=zone_id, context="Navette", metro=zone_id is None,
    )  # fmt: skip


async def _put(db: Database, docs: list[Doc]) -> None:
    async with db.transaction() as uow:
        await engine_for(uow.session).put_many(uow.session, docs)


def _shown(results: Results) -> tuple[int, bool, int, int, list[int]]:
    return (
        results.total, results.more, results.page, results.pages,
        [hit.object_id for hit in results.hits],
    )  # fmt: skip


async def test_past_the_cap_both_ways_alike(db: Database, world: World) -> None:
    mayor = world["sindaco5"]
    zone, other = mayor.zone_id, world["sindaco9"].zone_id
    assert zone is not None and other is not None
    # Each body says "navetta" a different number of times: no ties in rank.
    docs = [_doc(n, zone, "navetta " * (1 + n % 7) + f"corsa {n}") for n in range(COUNT_CAP + 1)]
    # Another zone's: never counted for this mayor, however many.
    docs += [_doc(5_000 + n, other, "navetta navetta") for n in range(30)]
    await _put(db, docs)
    plain = await find(db, mayor, "navetta")
    narrowed = await find(db, mayor, "navetta", Filters(kind="post"))
    assert _shown(plain) == _shown(narrowed)
    assert (plain.total, plain.more, plain.pages) == (COUNT_CAP, True, COUNT_CAP // PER_PAGE)
    assert len(plain.hits) == PER_PAGE
    last = await find(db, mayor, "navetta", page=COUNT_CAP // PER_PAGE)
    assert _shown(last) == _shown(
        await find(db, mayor, "navetta", Filters(kind="post"), page=COUNT_CAP // PER_PAGE)
    )
    assert len(last.hits) == PER_PAGE and not {h.object_id for h in last.hits} & set(
        _shown(plain)[4]
    )
    # One fewer: exactly the cap, no "more than".
    async with db.transaction() as uow:
        await engine_for(uow.session).drop(uow.session, ("post", 0))
    for filters in (Filters(), Filters(kind="post")):
        exact = await find(db, mayor, "navetta", filters)
        assert (exact.total, exact.more) == (COUNT_CAP, False)


async def test_a_page_past_the_end_shows_the_last(db: Database, world: World) -> None:
    mayor = world["sindaco5"]
    await _put(db, [_doc(n, mayor.zone_id, "navetta " * (1 + n % 5)) for n in range(23)])
    second = await find(db, mayor, "navetta", page=2)
    assert (second.total, second.page, len(second.hits)) == (23, 2, 3)
    for page in (3, 7, 999):
        assert _shown(await find(db, mayor, "navetta", page=page)) == _shown(second)
    assert _shown(await find(db, mayor, "navetta", page=0)) == _shown(
        await find(db, mayor, "navetta")
    )
    assert (await find(db, mayor, "teleriscaldamento")).total == 0


async def test_a_word_only_postgresql_stops_is_no_search_for_everything(
    db: Database, world: World
) -> None:
    """ "stavo" is in PostgreSQL's Italian stop list, not in ours: there its
    query is empty, and an empty query AND-ed with the reader's scope (or a
    lone excluded word) would find everything the reader may read."""
    mayor = world["sindaco5"]
    await _put(
        db,
        [
            _doc(1, mayor.zone_id, "Stavo aspettando la navetta delle sette."),
            _doc(2, mayor.zone_id, "La navetta parte alle otto."),
            _doc(3, None, "Orari della navetta metropolitana."),
        ],
    )
    for q in ("stavo", "stavo -otto", "stavo -navetta"):
        found = await find(db, mayor, q)
        # SQLite finds the one that says it, PostgreSQL none: never the others.
        assert {hit.object_id for hit in found.hits} <= {1}, q
        assert found.total == len(found.hits)
    assert (await find(db, world["staff"], "stavo -navetta")).total == 0
