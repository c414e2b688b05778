"""file text: the queue of uploaded contents whose text the search index reads

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07

One row per stored content (``blob.sha256``) of a type whose text can be
read (PDF, ODT, DOCX, CSV, plain text): its extraction state
(``pending``, ``done``, ``failed``, ``skipped``), the attempts so far, when
to try next, the claim of the process working on it, and the text. Rows are
added with the upload, in its transaction; a background task per process
extracts them after commit (collab/search/extractor.py). The contents
already stored are queued here, so an upgraded instance reads their text too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# collab.search.queue.EXTRACTABLE when this migration was written.
EXTRACTABLE = (
    "application/pdf",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "text/csv",
    "text/plain",
)


def upgrade() -> None:
    file_text = op.create_table(
        "file_text",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claim", sa.String(length=32), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["sha256"], ["blob.sha256"], name=op.f("fk_file_text_sha256_blob")),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_file_text")),
    )
    op.create_index("ix_file_text_state_due", "file_text", ["state", "due_at"])
    blob = sa.table("blob", sa.column("sha256"), sa.column("content_type"))
    now = datetime.now(UTC)
    op.execute(
        file_text.insert().from_select(
            ["sha256", "state", "attempts", "due_at", "text", "error", "updated_at"],
            sa.select(
                blob.c.sha256,
                sa.literal("pending"),
                sa.literal(0),
                sa.literal(now, sa.DateTime(timezone=True)),
                sa.literal(""),
                sa.literal(""),
                sa.literal(now, sa.DateTime(timezone=True)),
            ).where(blob.c.content_type.in_(EXTRACTABLE)),
        )
    )


def downgrade() -> None:
    op.drop_index("ix_file_text_state_due", table_name="file_text")
    op.drop_table("file_text")
