"""The index follows every write in its transaction; ``collab reindex`` rebuilds it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select, text, update

from collab.cli import main
from collab.db import Database
from collab.forums import actions as forums
from collab.forums.models import Thread
from collab.search.index import engine_for, reindex
from collab.search.models import SearchItem, SearchItemZone
from tests.conftest import World
from tests.forums.support import post_ids
from tests.meetings.scene import zone_ids
from tests.search.scene import find, post, thread


async def snapshot(db: Database) -> list[tuple[Any, ...]]:
    """The index as rows (without ids), and what each database holds in full text."""
    async with db.session() as session:
        items = await session.execute(
            select(
                SearchItem.kind, SearchItem.object_id, SearchItem.zone_id, SearchItem.title,
                SearchItem.body, SearchItem.url, SearchItem.public, SearchItem.metro,
            ).order_by(SearchItem.kind, SearchItem.object_id)
        )  # fmt: skip
        zones = await session.execute(
            select(SearchItem.kind, SearchItem.object_id, SearchItemZone.zone_id)
            .join(SearchItemZone, SearchItemZone.item_id == SearchItem.id)
            .order_by(SearchItem.kind, SearchItem.object_id)
        )
        rows = [tuple(r) for r in items] + [tuple(r) for r in zones]
        if db.url.startswith("sqlite"):
            fts = await session.execute(
                text(
                    "SELECT i.kind, i.object_id, f.title, f.body FROM search_fts f "
                    "JOIN search_item i ON i.id = f.rowid ORDER BY i.kind, i.object_id"
                )
            )
            rows += [tuple(r) for r in fts]
        return rows


async def test_edit_and_delete_follow(db: Database, world: World) -> None:
    s5 = world["sindaco5"]
    started = await thread(db, s5, "Orari estivi", "Le corse della linea 3 cambiano.")
    reply = await post(db, s5, started.id, "Propongo una fermata al mercato.")
    assert (await find(db, s5, "mercato")).total == 1
    async with db.transaction() as uow:
        await forums.do_edit_post(uow, s5, reply.id, "Propongo una fermata alla stazione.")
    assert (await find(db, s5, "mercato")).total == 0
    found = await find(db, s5, "stazione")
    assert found.total == 1
    assert found.hits[0].url == f"/threads/{started.id}?page=1#post-{reply.id}"
    async with db.transaction() as uow:
        await forums.do_delete_own_post(uow, s5, reply.id)
    assert (await find(db, s5, "stazione")).total == 0
    # A moderator hides the first post: its words go, the title stays found.
    first = (await post_ids(db, started.id))[0]
    async with db.transaction() as uow:
        await forums.do_hide_post(uow, world["portavoce5"], first, "Fuori tema")
    assert [h.kind for h in (await find(db, s5, "linea")).hits] == []
    assert [h.kind for h in (await find(db, s5, "estivi")).hits] == ["thread"]


async def test_rolled_back_write_leaves_no_trace(db: Database, world: World) -> None:
    started = await thread(db, world["sindaco5"], "Bando scuole", "Primo messaggio.")
    with pytest.raises(RuntimeError):
        async with db.transaction() as uow:
            await forums.do_reply(uow, world["sindaco5"], started.id, "Parola fantasma.")
            raise RuntimeError("the request failed")
    assert (await find(db, world["staff"], "fantasma")).total == 0


async def test_a_moved_thread_takes_its_posts(db: Database, world: World) -> None:
    started = await thread(db, world["staff"], "Ponte sul Chisone", "Lavori al ponte.")
    await post(db, world["staff"], started.id, "Chiusura della carreggiata.")
    assert (await find(db, world["sindaco9"], "carreggiata")).total == 0
    nine = (await zone_ids(db, 9))[0]
    async with db.transaction() as uow:
        # No action moves threads yet: a change through the ORM is followed all the same.
        moved = await uow.session.get(Thread, started.id)
        assert moved is not None
        moved.zone_id = nine
    assert (await find(db, world["sindaco9"], "carreggiata")).total == 1
    assert (await find(db, world["sindaco5"], "carreggiata")).total == 0


async def test_reindex_is_idempotent(db: Database, world: World) -> None:
    started = await thread(db, world["sindaco5"], "Sportello unico", "Modulistica per le imprese.")
    await post(db, world["tecnico5"], started.id, "Il modulo SUAP aggiornato.")
    await thread(db, world["staff"], "Rete metropolitana", "Banda larga nei comuni.", zone=None)
    written = await snapshot(db)
    assert written
    await reindex(db)
    assert await snapshot(db) == written
    await reindex(db)
    assert await snapshot(db) == written
    # A row the data no longer backs goes; a missing one comes back.
    async with db.transaction() as uow:
        await uow.session.execute(update(SearchItem).values(body="stale"))
    await reindex(db)
    assert await snapshot(db) == written
    assert (await find(db, world["sindaco5"], "suap")).total == 1


async def test_reindex_command(db: Database, world: World, cli: str) -> None:
    await thread(db, world["sindaco5"], "Sentieri", "Manutenzione dei sentieri alpini.")
    written = await snapshot(db)
    async with db.transaction() as uow:  # the index emptied: as after a restore without it
        await engine_for(uow.session).clear(uow.session)
    assert (await find(db, world["sindaco5"], "alpini")).total == 0
    assert await asyncio.to_thread(main, ["reindex"]) == 0
    assert await snapshot(db) == written
