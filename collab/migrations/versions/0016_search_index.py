"""search index: one table of searchable items, full text per database

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07

``search_item`` (and the zones whose members may find each item) is the
same on both databases; the full-text part is each one's own (collab/search/):
on SQLite an FTS5 table of Snowball stems, on PostgreSQL a generated
``tsvector`` column (Italian configuration, accents removed through an
immutable wrapper of ``unaccent``) with a GIN index. The index starts empty:
``collab reindex`` fills it from existing data (docs/search.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# unaccent() is STABLE (its dictionary could change), which an index refuses;
# naming the dictionary and the schema makes the wrapper safe to call IMMUTABLE.
UNACCENT = """
CREATE OR REPLACE FUNCTION search_unaccent(text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
AS $$ SELECT {schema}.unaccent('{schema}.unaccent'::regdictionary, $1) $$
"""
TSV = (
    "setweight(to_tsvector('italian'::regconfig, search_unaccent(title)), 'A') || "
    "setweight(to_tsvector('italian'::regconfig, search_unaccent(body)), 'B')"
)


def upgrade() -> None:
    op.create_table(
        "search_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("theme_id", sa.Integer(), nullable=True),
        sa.Column("comune_id", sa.Integer(), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("metro", sa.Boolean(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("context", sa.String(length=300), nullable=False),
        sa.Column("url", sa.String(length=300), nullable=False),
        sa.Column("public_url", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_item")),
        sa.UniqueConstraint("kind", "object_id", name="uq_search_item_kind_object"),
    )
    op.create_index("ix_search_item_created_at", "search_item", ["created_at"])
    op.create_table(
        "search_item_zone",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["search_item.id"],
            name=op.f("fk_search_item_zone_item_id_search_item"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", "zone_id", name=op.f("pk_search_item_zone")),
    )
    op.create_index("ix_search_item_zone_zone_item", "search_item_zone", ["zone_id", "item_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
        schema = (
            op.get_bind()
            .execute(
                sa.text(
                    "SELECT n.nspname FROM pg_extension e "
                    "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'unaccent'"
                )
            )
            .scalar_one()
        )
        op.execute(UNACCENT.format(schema=schema))
        op.execute(
            f"ALTER TABLE search_item ADD COLUMN tsv tsvector GENERATED ALWAYS AS ({TSV}) STORED"
        )
        op.execute("CREATE INDEX ix_search_item_tsv ON search_item USING gin (tsv)")
    else:
        # Stems written by collab/search/sqlite.py: the tokenizer only splits them.
        op.execute("CREATE VIRTUAL TABLE search_fts USING fts5(title, body, tokenize='unicode61')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_search_item_tsv")
    else:
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_index("ix_search_item_zone_zone_item", table_name="search_item_zone")
    op.drop_table("search_item_zone")
    op.drop_index("ix_search_item_created_at", table_name="search_item")
    op.drop_table("search_item")
    if op.get_bind().dialect.name == "postgresql":
        # The extension stays: another schema object may use it.
        op.execute("DROP FUNCTION IF EXISTS search_unaccent(text)")
