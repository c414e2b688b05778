"""post index: the live authors of a thread, for the reply notifications

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

A reply notifies everyone who took part in the thread. Reading them was a
``SELECT DISTINCT author_id`` over all the thread's posts (it grew with the
thread); with this partial index on the live posts' ``(thread_id,
author_id)`` it is one index seek per person (collab/forums/notices.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("deleted_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_post_thread_author_live",
        "post",
        ["thread_id", "author_id"],
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )


def downgrade() -> None:
    op.drop_index("ix_post_thread_author_live", table_name="post")
