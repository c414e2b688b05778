"""The full-text index follows ``search_item`` inside the database.

On SQLite the triggers of migration 0022 write ``search_fts`` from each row
(its stems, through ``search_stems``); on PostgreSQL the generated ``tsv``
does the same. So a row written with plain SQL, without the engine's
Python, is found, changed and dropped like one the engine wrote, and the
SQLite rows hold what :func:`collab.search.text.stems` makes of the text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select, text, update

from collab.db import Database
from collab.search.models import SearchItem
from collab.search.text import stems
from tests.conftest import World
from tests.search.scene import find

ITEMS = cast(Table, SearchItem.__table__)  # Core: rows written as plain SQL would
TRIGGERS = {"search_item_fts_insert", "search_item_fts_update", "search_item_fts_delete"}


async def full_text(db: Database, item_id: int) -> tuple[Any, ...] | None:
    """What SQLite's ``search_fts`` holds for the item (None: no row); on
    PostgreSQL, whether ``tsv`` holds a lexeme at all."""
    async with db.session() as session:
        if db.url.startswith("sqlite"):
            row = (
                await session.execute(
                    text("SELECT title, body, scope FROM search_fts WHERE rowid = :id"),
                    {"id": item_id},
                )
            ).first()
            return None if row is None else tuple(row)
        row = (
            await session.execute(
                text("SELECT length(tsv) > 0 FROM search_item WHERE id = :id"), {"id": item_id}
            )
        ).first()
        return None if row is None else tuple(row)


async def test_a_row_written_in_sql_is_indexed_changed_and_dropped(
    db: Database, world: World
) -> None:
    staff = world["staff"]
    title, body = "Variante al piano regolatore", "Le osservazioni sulle aree agricole."
    async with db.transaction() as uow:
        item_id = await uow.session.scalar(
            insert(ITEMS)
            .values(
                kind="thread", object_id=999_001, zone_id=None, created_at=datetime.now(UTC),
                metro=True, scope="zmetro", title=title, body=body, url="/threads/999001",
            )
            .returning(SearchItem.id)
        )  # fmt: skip
    assert item_id is not None
    assert [h.object_id for h in (await find(db, staff, "agricola")).hits] == [999_001]
    if db.url.startswith("sqlite"):
        assert await full_text(db, item_id) == (stems(title), stems(body), "zmetro")
    else:
        assert await full_text(db, item_id) == (True,)

    async with db.transaction() as uow:
        await uow.session.execute(
            update(SearchItem)
            .where(SearchItem.id == item_id)
            .values(body="Le osservazioni sui boschi.")
        )
    assert (await find(db, staff, "agricola")).total == 0
    assert [h.object_id for h in (await find(db, staff, "boschi")).hits] == [999_001]

    async with db.transaction() as uow:
        await uow.session.execute(delete(SearchItem).where(SearchItem.id == item_id))
    assert (await find(db, staff, "boschi")).total == 0
    if db.url.startswith("sqlite"):
        assert await full_text(db, item_id) is None


async def test_an_update_that_keeps_the_text_keeps_the_full_text_row(
    db: Database, world: World
) -> None:
    """A new url or context (a post's thread renamed) does not write the
    full-text row again: on SQLite its FTS5 row keeps its place."""
    async with db.transaction() as uow:
        item_id = await uow.session.scalar(
            insert(ITEMS)
            .values(
                kind="post", object_id=999_002, zone_id=5, created_at=datetime.now(UTC),
                scope="z5", title="", body="Il ponte sul Chisone riapre.", url="/threads/1",
            )
            .returning(SearchItem.id)
        )  # fmt: skip
    assert item_id is not None
    before = await full_text(db, item_id)
    async with db.transaction() as uow:
        await uow.session.execute(
            update(SearchItem)
            .where(SearchItem.id == item_id)
            .values(url="/threads/2", context="Ponti e strade")
        )
    assert await full_text(db, item_id) == before
    if db.url.startswith("sqlite"):
        async with db.session() as session:
            # FTS5 keeps a row's size in search_fts_docsize: one row per item.
            sizes = await session.scalar(
                text("SELECT count(*) FROM search_fts_docsize WHERE id = :id"), {"id": item_id}
            )
        assert sizes == 1
    found = await find(db, world["staff"], "chisone")
    assert [(h.object_id, h.url) for h in found.hits] == [(999_002, "/threads/2")]


async def test_the_triggers_are_there_at_head(db: Database) -> None:
    """A migration that copies search_item (batch mode) drops them with the
    old table: it must create them again."""
    async with db.session() as session:
        if db.url.startswith("sqlite"):
            names = set(
                await session.scalars(
                    select(text("name"))
                    .select_from(text("sqlite_master"))
                    .where(text("type = 'trigger' AND tbl_name = 'search_item'"))
                )
            )
            assert names == TRIGGERS
        else:
            generated = await session.scalar(
                text(
                    "SELECT is_generated FROM information_schema.columns"
                    " WHERE table_name = 'search_item' AND column_name = 'tsv'"
                )
            )
            assert generated == "ALWAYS"
