"""post index: the threads a person wrote in, for their page

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07

A person's page (``/people/{id}``) lists the threads they last wrote in.
Without an index on the author that read every post of the database
(about a second for a mayor of the big dataset, ``bench.pages``); this
partial index on the live posts' ``(author_id, thread_id)`` reads only
theirs (collab/forums/people.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("deleted_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_post_author_thread_live",
        "post",
        ["author_id", "thread_id"],
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )


def downgrade() -> None:
    op.drop_index("ix_post_author_thread_live", table_name="post")
