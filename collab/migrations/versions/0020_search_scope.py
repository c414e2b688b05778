"""search scope: who may read an item, as words in the full-text index

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07

``search_item.scope`` holds an item's scope tokens (collab/search/engine.py
``scope_tokens``): ``zpub`` for a public item, ``zmetro`` for a
metropolitan one and ``z<id>`` for each of its zones, the facts already in
``public``, ``metro``, ``zone_id`` and ``search_item_zone``. The full-text
index holds them too, so that a search intersects its words' matches with
what its reader may read inside the index:

- SQLite: ``search_fts`` gains a third column, ``scope``. An FTS5 table
  cannot gain a column: a new one is filled from the old (its stems) and
  ``search_item``, and takes its name.
- PostgreSQL: the generated ``tsv`` adds the tokens as lexemes
  ``scope:<token>`` (which no typed text makes): the column and its GIN
  index are made again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each item's scope, as scope_tokens() writes it; AGG is the dialect's.
SET_SCOPE = """
UPDATE search_item AS i SET scope = trim(
    CASE WHEN i.public THEN 'zpub ' ELSE '' END
    || CASE WHEN i.metro THEN 'zmetro ' ELSE '' END
    || coalesce((
        SELECT AGG FROM (
            SELECT i.zone_id AS zone WHERE i.zone_id IS NOT NULL
            UNION SELECT zone_id FROM search_item_zone WHERE item_id = i.id
        ) AS zones
    ), '')
)
"""
AGG = {
    "postgresql": "string_agg('z' || zone, ' ' ORDER BY zone)",
    # SQLite keeps the subquery's order: the UNION's, sorted.
    "sqlite": "group_concat('z' || zone, ' ')",
}
# Migration 0016's tsv, and the one with the scope.
TSV = (
    "setweight(to_tsvector('italian'::regconfig, search_unaccent(title)), 'A') || "
    "setweight(to_tsvector('italian'::regconfig, search_unaccent(body)), 'B')"
)
SCOPED_TSV = (
    f"{TSV} || array_to_tsvector(string_to_array('scope:' || replace(scope, ' ', ' scope:'), ' '))"
)


def _tsv(expression: str) -> None:
    op.execute("DROP INDEX ix_search_item_tsv")
    op.execute("ALTER TABLE search_item DROP COLUMN tsv")
    op.execute(
        f"ALTER TABLE search_item ADD COLUMN tsv tsvector GENERATED ALWAYS AS ({expression}) STORED"
    )
    op.execute("CREATE INDEX ix_search_item_tsv ON search_item USING gin (tsv)")


def _fts(columns: str, select: str) -> None:
    op.execute(f"CREATE VIRTUAL TABLE search_fts_new USING fts5({columns}, tokenize='unicode61')")
    op.execute(f"INSERT INTO search_fts_new {select}")
    op.execute("DROP TABLE search_fts")
    op.execute("ALTER TABLE search_fts_new RENAME TO search_fts")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column("search_item", sa.Column("scope", sa.Text(), server_default="", nullable=False))
    op.execute(SET_SCOPE.replace("AGG", AGG[dialect]))
    if dialect == "postgresql":
        _tsv(SCOPED_TSV)
    else:
        _fts(
            "title, body, scope",
            "(rowid, title, body, scope) SELECT f.rowid, f.title, f.body, i.scope"
            " FROM search_fts f JOIN search_item i ON i.id = f.rowid",
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _tsv(TSV)
    else:
        _fts("title, body", "(rowid, title, body) SELECT rowid, title, body FROM search_fts")
    with op.batch_alter_table("search_item") as batch_op:
        batch_op.drop_column("scope")
