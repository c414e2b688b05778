"""meetings

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

Meetings of the zones (issue 4): the meeting and its convened zones, the
agenda, attendance per comune (or without a vote), requests for the floor,
votes on a parere with one ballot per comune, and the verbale with its
revisions.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "meeting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("video_url", sa.String(length=500), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "convocata",
                "in_corso",
                "chiusa",
                "annullata",
                name="meeting_state",
                native_enum=False,
            ),
            nullable=False,
        ),
        sa.Column("convened_by_id", sa.Integer(), nullable=False),
        sa.Column("chair_id", sa.Integer(), nullable=True),
        sa.Column("secretary_id", sa.Integer(), nullable=True),
        sa.Column("quorum", sa.Integer(), nullable=True),
        sa.Column("public_token", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["chair_id"], ["user_account.id"], name=op.f("fk_meeting_chair_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["convened_by_id"],
            ["user_account.id"],
            name=op.f("fk_meeting_convened_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["secretary_id"], ["user_account.id"], name=op.f("fk_meeting_secretary_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting")),
        sa.UniqueConstraint("public_token", name=op.f("uq_meeting_public_token")),
    )
    op.create_index(op.f("ix_meeting_starts_at"), "meeting", ["starts_at"])

    op.create_table(
        "agenda_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("theme_id", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meeting.id"], name=op.f("fk_agenda_item_meeting_id_meeting")
        ),
        sa.ForeignKeyConstraint(
            ["theme_id"], ["theme.id"], name=op.f("fk_agenda_item_theme_id_theme")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agenda_item")),
        sa.UniqueConstraint("meeting_id", "position", name="uq_agenda_item_position"),
    )
    op.create_index(op.f("ix_agenda_item_meeting_id"), "agenda_item", ["meeting_id"])

    op.create_table(
        "attendance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("comune_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("voting", sa.Boolean(), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["comune_id"], ["comune.id"], name=op.f("fk_attendance_comune_id_comune")
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meeting.id"], name=op.f("fk_attendance_meeting_id_meeting")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_attendance_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance")),
        sa.UniqueConstraint("meeting_id", "comune_id", name="uq_attendance_comune"),
        sa.UniqueConstraint("meeting_id", "user_id", name="uq_attendance_user"),
    )
    op.create_table(
        "meeting_zone",
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meeting.id"], name=op.f("fk_meeting_zone_meeting_id_meeting")
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["zone.id"], name=op.f("fk_meeting_zone_zone_id_zone")
        ),
        sa.PrimaryKeyConstraint("meeting_id", "zone_id", name=op.f("pk_meeting_zone")),
    )
    op.create_table(
        "verbale",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meeting.id"], name=op.f("fk_verbale_meeting_id_meeting")
        ),
        sa.ForeignKeyConstraint(
            ["published_by_id"],
            ["user_account.id"],
            name=op.f("fk_verbale_published_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verbale")),
        sa.UniqueConstraint("meeting_id", name=op.f("uq_verbale_meeting_id")),
    )
    op.create_table(
        "floor_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("comune_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["comune_id"], ["comune.id"], name=op.f("fk_floor_request_comune_id_comune")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["agenda_item.id"], name=op.f("fk_floor_request_item_id_agenda_item")
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meeting.id"], name=op.f("fk_floor_request_meeting_id_meeting")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_floor_request_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_floor_request")),
    )
    op.create_index(op.f("ix_floor_request_meeting_id"), "floor_request", ["meeting_id"])

    op.create_table(
        "verbale_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("verbale_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("edited_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["edited_by_id"],
            ["user_account.id"],
            name=op.f("fk_verbale_revision_edited_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["verbale_id"], ["verbale.id"], name=op.f("fk_verbale_revision_verbale_id_verbale")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verbale_revision")),
    )
    op.create_index(op.f("ix_verbale_revision_verbale_id"), "verbale_revision", ["verbale_id"])

    op.create_table(
        "vote",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("motion", sa.String(length=300), nullable=False),
        sa.Column("point", sa.String(length=200), nullable=False),
        sa.Column("secret", sa.Boolean(), nullable=False),
        sa.Column("quorum", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("approved", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"], ["agenda_item.id"], name=op.f("fk_vote_item_id_agenda_item")
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meeting.id"], name=op.f("fk_vote_meeting_id_meeting")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vote")),
    )
    op.create_index(op.f("ix_vote_meeting_id"), "vote", ["meeting_id"])

    op.create_table(
        "ballot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vote_id", sa.Integer(), nullable=False),
        sa.Column("comune_id", sa.Integer(), nullable=False),
        sa.Column("cast_by_id", sa.Integer(), nullable=False),
        sa.Column(
            "choice",
            sa.Enum(
                "favorevole",
                "contrario",
                "astenuto",
                "non_partecipa",
                name="ballot_choice",
                native_enum=False,
            ),
            nullable=False,
        ),
        sa.Column("cast_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cast_by_id"], ["user_account.id"], name=op.f("fk_ballot_cast_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["comune_id"], ["comune.id"], name=op.f("fk_ballot_comune_id_comune")
        ),
        sa.ForeignKeyConstraint(["vote_id"], ["vote.id"], name=op.f("fk_ballot_vote_id_vote")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ballot")),
        sa.UniqueConstraint("vote_id", "comune_id", name="uq_ballot_comune"),
    )


def downgrade() -> None:
    op.drop_table("ballot")
    op.drop_index(op.f("ix_vote_meeting_id"), table_name="vote")

    op.drop_table("vote")
    op.drop_index(op.f("ix_verbale_revision_verbale_id"), table_name="verbale_revision")

    op.drop_table("verbale_revision")
    op.drop_index(op.f("ix_floor_request_meeting_id"), table_name="floor_request")

    op.drop_table("floor_request")
    op.drop_table("verbale")
    op.drop_table("meeting_zone")
    op.drop_table("attendance")
    op.drop_index(op.f("ix_agenda_item_meeting_id"), table_name="agenda_item")

    op.drop_table("agenda_item")
    op.drop_index(op.f("ix_meeting_starts_at"), table_name="meeting")

    op.drop_table("meeting")
