"""meeting room

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

What running a meeting live needs beyond 0003: a revision counter on the
meeting (every write to a meeting bumps it first, which serializes the writes
of one meeting and gives the iCalendar SEQUENCE), the materials (links, per
meeting or per agenda item) and the delegates a sindaco names to check in and
vote for the comune.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meeting") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "meeting_material",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meeting.id"], name=op.f("fk_meeting_material_meeting_id_meeting")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["agenda_item.id"], name=op.f("fk_meeting_material_item_id_agenda_item")
        ),
        sa.ForeignKeyConstraint(
            ["added_by_id"],
            ["user_account.id"],
            name=op.f("fk_meeting_material_added_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_material")),
    )
    op.create_index(
        op.f("ix_meeting_material_meeting_id"), "meeting_material", ["meeting_id"], unique=False
    )
    op.create_table(
        "meeting_delegate",
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("comune_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("named_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meeting.id"], name=op.f("fk_meeting_delegate_meeting_id_meeting")
        ),
        sa.ForeignKeyConstraint(
            ["comune_id"], ["comune.id"], name=op.f("fk_meeting_delegate_comune_id_comune")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_meeting_delegate_user_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["named_by_id"],
            ["user_account.id"],
            name=op.f("fk_meeting_delegate_named_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("meeting_id", "comune_id", name=op.f("pk_meeting_delegate")),
    )


def downgrade() -> None:
    op.drop_table("meeting_delegate")
    op.drop_index(op.f("ix_meeting_material_meeting_id"), table_name="meeting_material")
    op.drop_table("meeting_material")
    with op.batch_alter_table("meeting") as batch:
        batch.drop_column("revision")
