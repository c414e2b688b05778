"""search tsv inline: a document's tsvector stays in its row (PostgreSQL)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07

A search ranks every readable match with ``ts_rank_cd``, which reads the
whole ``tsv`` of each. A library document's tsvector (2.4 kB on average,
bench.search) made its row pass PostgreSQL's 2 kB threshold and went, with
the body, to the TOAST table: ranking "trasporto" for a mayor (5,822
matches, 1,101 of them documents) read 6,104 buffers instead of 2,343. With
``STORAGE MAIN`` a tsvector is compressed in its row and only the body
leaves it: the same ranking took about 15 instead of 20 ms (psql, medians).

``SET STORAGE`` holds for the rows written from then on; ``CLUSTER``
writes the existing ones again (in the order of their ids), and the table
is left without a clustering index. SQLite: nothing to do.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE search_item ALTER COLUMN tsv SET STORAGE MAIN")
    op.execute("CLUSTER search_item USING pk_search_item")
    op.execute("ALTER TABLE search_item SET WITHOUT CLUSTER")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # Rows already written keep their tsvector inline: still valid, and new
    # ones follow the default again.
    op.execute("ALTER TABLE search_item ALTER COLUMN tsv SET STORAGE EXTENDED")
