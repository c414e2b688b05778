"""event log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

The durable per-topic event log of the live updates: every committed event,
with a sequence number contiguous per topic, so a client that reconnects can
be sent exactly what it missed.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_log")),
        sa.UniqueConstraint("topic", "seq", name="uq_event_log_topic_seq"),
    )
    op.create_index(op.f("ix_event_log_created_at"), "event_log", ["created_at"])
    op.create_table(
        "topic_seq",
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("topic", name=op.f("pk_topic_seq")),
    )


def downgrade() -> None:
    op.drop_table("topic_seq")
    op.drop_index(op.f("ix_event_log_created_at"), table_name="event_log")
    op.drop_table("event_log")
