"""``collab reindex`` in batches writes exactly what the write path writes, item by item."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text

from collab.consultations import actions as consultations
from collab.db import Database
from collab.forums import actions as forums
from collab.forums.models import Post
from collab.meetings import actions as meetings
from collab.meetings import floor, minutes
from collab.search import bulk
from collab.search.documents import TARGETS
from collab.search.index import engine_for, refresh, reindex
from collab.search.models import SearchItem, SearchItemZone
from tests.conftest import World
from tests.consultations.scene import open_consultation
from tests.forums.support import post_ids
from tests.helpers import statements
from tests.meetings.scene import convene
from tests.search.scene import post, thread

COLUMNS = [c for c in SearchItem.__table__.columns if c.name != "id"]


async def everything(db: Database) -> list[tuple[Any, ...]]:
    """Every column of the index but the ids, its zones, and SQLite's full text."""
    async with db.session() as session:
        rows = [
            tuple(r)
            for r in await session.execute(
                select(*COLUMNS).order_by(SearchItem.kind, SearchItem.object_id)
            )
        ]
        rows += [
            tuple(r)
            for r in await session.execute(
                select(SearchItem.kind, SearchItem.object_id, SearchItemZone.zone_id)
                .join(SearchItemZone, SearchItemZone.item_id == SearchItem.id)
                .order_by(SearchItem.kind, SearchItem.object_id, SearchItemZone.zone_id)
            )
        ]
        if db.url.startswith("sqlite"):
            rows += [
                tuple(r)
                for r in await session.execute(
                    text(
                        "SELECT i.kind, i.object_id, f.title, f.body FROM search_fts f "
                        "JOIN search_item i ON i.id = f.rowid ORDER BY i.kind, i.object_id"
                    )
                )
            ]
        return rows


async def every_kind(db: Database, world: World) -> None:
    """Threads of a zone and metropolitan, a thread past its first page with a
    deleted reply and a hidden first post, a consultation of two zones with an
    answered contribution, a public meeting with its verbale published, a
    closed one whose verbale is a draft, one only convened."""
    s5, s9, staff = world["sindaco5"], world["sindaco9"], world["staff"]
    long = await thread(db, s5, "Orari delle corse", "Le linee estive cambiano.")
    replies = [await post(db, s5, long.id, f"Risposta numero {n} sulle corse.") for n in range(23)]
    async with db.transaction() as uow:
        await forums.do_delete_own_post(uow, s5, replies[4].id)
    hidden = await thread(db, s9, "Teleriscaldamento", "Il progetto di Ivrea.", zone=9)
    async with db.transaction() as uow:
        first = (await post_ids(db, hidden.id))[0]
        await forums.do_hide_post(uow, world["portavoce9"], first, "Fuori tema")
    await thread(db, staff, "Rete metropolitana", "Banda larga <nei> comuni & valli.", zone=None)
    consultation = await open_consultation(db, staff, zones=(5, 9))
    async with db.transaction() as uow:
        answered = await consultations.do_submit(
            uow, s5, consultation.id, "Pinerolo chiede più corse serali.", []
        )
    async with db.transaction() as uow:
        await consultations.do_submit(uow, s9, consultation.id, "Ivrea è d'accordo.", [])
    for status, answer in (("under_review", ""), ("accepted", "Accolto: le corse aumentano.")):
        async with db.transaction() as uow:
            await consultations.do_set_status(uow, staff, answered.id, status, answer)
    chair = staff
    published = await convene(db, chair, zones=(5, 9), public=True, title="Assemblea congiunta")
    draft = await convene(db, chair, title="Tavolo tecnico")
    await convene(db, chair, title="Giornata di sintesi")
    for meeting in (published, draft):
        async with db.transaction() as uow:
            room = await meetings.do_open(uow, chair, meeting.id)
        async with db.transaction() as uow:
            await floor.do_save_notes(
                uow, chair, meeting.id, room.items[0].id, "Deciso il sottopasso."
            )
        async with db.transaction() as uow:
            await minutes.do_close(uow, chair, meeting.id)
    async with db.transaction() as uow:
        await minutes.do_publish_verbale(uow, chair, published.id)


async def test_bulk_rebuild_equals_the_write_path_and_the_item_by_item_refresh(
    db: Database, world: World
) -> None:
    await every_kind(db, world)
    written = await everything(db)
    kinds = {row[0] for row in written}
    assert kinds >= {"thread", "post", "consultation", "contribution", "meeting", "verbale"}
    # A reply past the first page has its page in its URL.
    assert any("?page=2#post-" in str(row) for row in written)
    counts = await reindex(db)
    assert await everything(db) == written
    # The old way: every target through docs_for, one by one.
    async with db.transaction() as uow:
        await engine_for(uow.session).clear(uow.session)
    async with db.session() as session:
        targets = {
            kind: list(await session.scalars(select(column).order_by(column)))
            for kind, column in _columns().items()
        }
    async with db.transaction() as uow:
        await refresh(uow.session, [(kind, i) for kind in TARGETS for i in targets.get(kind, [])])
    assert await everything(db) == written
    assert counts == sum(len(ids) for ids in targets.values())


def _columns() -> dict[str, Any]:
    from collab.consultations.models import Consultation
    from collab.forums.models import Thread
    from collab.meetings.models import Meeting

    return {"thread": Thread.id, "post": Post.id, "consultation": Consultation.id,
            "meeting": Meeting.id}  # fmt: skip


async def test_batches_carry_a_threads_post_count_across_reads(
    db: Database, world: World, monkeypatch: Any
) -> None:
    # Batches of 3 posts cut the long thread mid-page: the pages stay right.
    monkeypatch.setattr(bulk, "POSTS", 3)
    monkeypatch.setattr(bulk, "THREADS", 2)
    monkeypatch.setattr(bulk, "CONSULTATIONS", 1)
    monkeypatch.setattr(bulk, "MEETINGS", 1)
    await every_kind(db, world)
    written = await everything(db)
    await reindex(db)
    assert await everything(db) == written


async def test_a_batch_of_posts_costs_the_same_statements_whatever_its_threads(
    db: Database, world: World
) -> None:
    s5 = world["sindaco5"]
    for n in range(6):
        started = await thread(db, s5, f"Discussione {n}", "Primo messaggio.")
        for _ in range(n):
            await post(db, s5, started.id, "Una risposta.")
    async with db.session() as session:
        total = len(list(await session.scalars(select(Post.id))))
    with statements(db) as seen:
        async with db.session() as session:
            batch = await bulk.READERS["post"](session, None)
    assert len(batch.docs) == batch.targets == total > 20
    assert len([s for s in seen if s.startswith("SELECT")]) == 1
