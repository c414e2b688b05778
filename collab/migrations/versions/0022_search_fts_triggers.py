"""search fts triggers: SQLite's full-text rows follow search_item in its statements

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07

On SQLite, indexing a reply wrote its ``search_item`` row and then its
``search_fts`` row: two statements, each a trip to aiosqlite's thread. Now
triggers on ``search_item`` write ``search_fts`` (its stems, through the
SQL function ``search_stems``, :func:`collab.search.text.stems`, which
``collab.db.make_engine`` and the migrations' engine give every
connection), as PostgreSQL's generated ``tsv`` follows the row: one
statement per item. An update that leaves title, body and scope as they
were leaves the full-text row alone.

A statement writing ``search_item`` outside collab (the ``sqlite3`` shell)
fails with "no such function: search_stems". A later migration that copies
``search_item`` (batch mode) drops these triggers with the old table and
must create them again (tests/search/test_fts_triggers.py checks they are
there at head). PostgreSQL: nothing to do.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A row replaced by a DELETE and an INSERT, not INSERT OR REPLACE: in a
# trigger, the conflict policy of the statement that fired it wins (an
# upsert's is ABORT), and FTS5 would refuse the rowid it already holds. The
# INSERT trigger deletes first too, as the engine's INSERT OR REPLACE did:
# a full-text row left behind (none should be) cannot stop every write.
ROW = """
            DELETE FROM search_fts WHERE rowid = new.id;
            INSERT INTO search_fts (rowid, title, body, scope)
            VALUES (new.id, search_stems(new.title), search_stems(new.body), new.scope);"""
TRIGGERS = {
    "search_item_fts_insert": f"""
        CREATE TRIGGER search_item_fts_insert AFTER INSERT ON search_item BEGIN{ROW}
        END""",
    "search_item_fts_update": f"""
        CREATE TRIGGER search_item_fts_update AFTER UPDATE OF title, body, scope ON search_item
        WHEN old.title IS NOT new.title OR old.body IS NOT new.body
            OR old.scope IS NOT new.scope
        BEGIN{ROW}
        END""",
    "search_item_fts_delete": """
        CREATE TRIGGER search_item_fts_delete AFTER DELETE ON search_item BEGIN
            DELETE FROM search_fts WHERE rowid = old.id;
        END""",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for create in TRIGGERS.values():
        op.execute(create)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
