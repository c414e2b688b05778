"""search scope: who may read an item, as tokens in the SQLite full-text index

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07

SQLite only: ``search_fts`` gains a third column, ``scope``, with ``zpub``
for a public item, ``zmetro`` for a metropolitan one and ``z<id>`` for each
of its zones (collab/search/sqlite.py), so a search intersects the words'
matches with what its reader may read inside FTS5. An FTS5 table cannot
gain a column: a new one is filled from the old (its stems) and
``search_item`` (the scope), and takes its name. PostgreSQL: nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The scope of each item, as collab.search.sqlite.scope() writes it.
SCOPE = """
trim(
    CASE WHEN i.public THEN 'zpub ' ELSE '' END
    || CASE WHEN i.metro THEN 'zmetro ' ELSE '' END
    || coalesce((
        SELECT group_concat('z' || zone_id, ' ') FROM (
            SELECT i.zone_id AS zone_id WHERE i.zone_id IS NOT NULL
            UNION SELECT zone_id FROM search_item_zone WHERE item_id = i.id
            ORDER BY 1
        )
    ), '')
)
"""


def _rebuild(columns: str, select: str) -> None:
    op.execute(f"CREATE VIRTUAL TABLE search_fts_new USING fts5({columns}, tokenize='unicode61')")
    op.execute(f"INSERT INTO search_fts_new {select}")
    op.execute("DROP TABLE search_fts")
    op.execute("ALTER TABLE search_fts_new RENAME TO search_fts")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        return
    copy = "(rowid, title, body, scope) SELECT f.rowid, f.title, f.body, {scope} FROM search_fts f"
    _rebuild(
        "title, body, scope", f"{copy.format(scope=SCOPE)} JOIN search_item i ON i.id = f.rowid"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        return
    _rebuild("title, body", "(rowid, title, body) SELECT rowid, title, body FROM search_fts")
