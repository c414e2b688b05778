"""voting bodies: who meets, their rules, the session's heading, the meeting's log

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07

A meeting may belong to a voting body (``voting_body``): the comuni of some
zones (``body_zone``) or named people with their titles (``body_member``),
with its counting convention, what carries a vote, and the structural quorum
of first and second call. Existing meetings keep no body: they are counted
as before, among the comuni of their convened zones.

Meetings gain a vice chair, the session's number, type and call, the notice's
date and protocol number and the quorum found at the opening; votes gain the
text put to the vote, the voting method and who opened and closed them;
ballots may be a named member's; comuni gain their ISTAT population; the
verbale gains its signed copy. ``meeting_log`` records chair actions and
attendance with their times, for the verbale.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "voting_body",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind", sa.Enum("comuni", "people", name="body_kind", native_enum=False), nullable=False
        ),
        sa.Column(
            "counting",
            sa.Enum("abstainers_vote", "abstainers_apart", name="body_counting", native_enum=False),
            nullable=False,
        ),
        sa.Column(
            "majority",
            sa.Enum(
                "simple", "absolute", "qualified", "double", name="body_majority", native_enum=False
            ),
            nullable=False,
        ),
        sa.Column("majority_num", sa.Integer(), nullable=False),
        sa.Column("majority_den", sa.Integer(), nullable=False),
        sa.Column("majority_of_members", sa.Boolean(), nullable=False),
        sa.Column("quorum_num", sa.Integer(), nullable=False),
        sa.Column("quorum_den", sa.Integer(), nullable=False),
        sa.Column("quorum_above", sa.Boolean(), nullable=False),
        sa.Column("second_call_quorum_num", sa.Integer(), nullable=False),
        sa.Column("second_call_quorum_den", sa.Integer(), nullable=False),
        sa.Column("second_call_quorum_above", sa.Boolean(), nullable=False),
        sa.Column("show_theme", sa.Boolean(), nullable=False),
        sa.Column("verbale_template", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voting_body")),
        sa.UniqueConstraint("name", name=op.f("uq_voting_body_name")),
    )
    op.create_table(
        "body_zone",
        sa.Column("body_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["body_id"], ["voting_body.id"], name=op.f("fk_body_zone_body_id_voting_body")
        ),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name=op.f("fk_body_zone_zone_id_zone")),
        sa.PrimaryKeyConstraint("body_id", "zone_id", name=op.f("pk_body_zone")),
    )
    op.create_table(
        "body_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("body_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["body_id"], ["voting_body.id"], name=op.f("fk_body_member_body_id_voting_body")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_body_member_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_body_member")),
        sa.UniqueConstraint("body_id", "user_id", name="uq_body_member_user"),
    )
    with op.batch_alter_table("body_member", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_body_member_body_id"), ["body_id"], unique=False)

    op.create_table(
        "meeting_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["user_account.id"], name=op.f("fk_meeting_log_actor_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meeting.id"], name=op.f("fk_meeting_log_meeting_id_meeting")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_log")),
    )
    with op.batch_alter_table("meeting_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meeting_log_meeting_id"), ["meeting_id"], unique=False)

    with op.batch_alter_table("ballot", schema=None) as batch_op:
        batch_op.add_column(sa.Column("member_id", sa.Integer(), nullable=True))
        batch_op.alter_column("comune_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_unique_constraint("uq_ballot_member", ["vote_id", "member_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_ballot_member_id_body_member"), "body_member", ["member_id"], ["id"]
        )

    with op.batch_alter_table("comune", schema=None) as batch_op:
        batch_op.add_column(sa.Column("population", sa.Integer(), nullable=True))

    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("vice_chair_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("session_number", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "session_type",
                sa.Enum("ordinaria", "straordinaria", name="session_type", native_enum=False),
                server_default="ordinaria",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("call", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("notice_date", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("notice_protocol", sa.String(length=60), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("opening", sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f("ix_meeting_body_id"), ["body_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_meeting_body_id_voting_body"), "voting_body", ["body_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_meeting_vice_chair_id_user_account"),
            "user_account",
            ["vice_chair_id"],
            ["id"],
        )

    with op.batch_alter_table("verbale", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signed_file_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("signed_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_verbale_signed_by_id_user_account"),
            "user_account",
            ["signed_by_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_verbale_signed_file_id_stored_file"),
            "stored_file",
            ["signed_file_id"],
            ["id"],
        )

    with op.batch_alter_table("vote", schema=None) as batch_op:
        batch_op.add_column(sa.Column("text", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(
            sa.Column(
                "method",
                sa.Enum(
                    "appello_nominale",
                    "elettronico",
                    "segreto",
                    name="vote_method",
                    native_enum=False,
                ),
                server_default="appello_nominale",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column("without_quorum", sa.Boolean(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("opened_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("closed_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_vote_opened_by_id_user_account"),
            "user_account",
            ["opened_by_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_vote_closed_by_id_user_account"),
            "user_account",
            ["closed_by_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("vote", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_vote_closed_by_id_user_account"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_vote_opened_by_id_user_account"), type_="foreignkey"
        )
        batch_op.drop_column("closed_by_id")
        batch_op.drop_column("opened_by_id")
        batch_op.drop_column("without_quorum")
        batch_op.drop_column("method")
        batch_op.drop_column("text")

    with op.batch_alter_table("verbale", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_verbale_signed_file_id_stored_file"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_verbale_signed_by_id_user_account"), type_="foreignkey"
        )
        batch_op.drop_column("signed_by_id")
        batch_op.drop_column("signed_at")
        batch_op.drop_column("signed_file_id")

    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_meeting_vice_chair_id_user_account"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("fk_meeting_body_id_voting_body"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_meeting_body_id"))
        batch_op.drop_column("opening")
        batch_op.drop_column("notice_protocol")
        batch_op.drop_column("notice_date")
        batch_op.drop_column("call")
        batch_op.drop_column("session_type")
        batch_op.drop_column("session_number")
        batch_op.drop_column("vice_chair_id")
        batch_op.drop_column("body_id")

    with op.batch_alter_table("comune", schema=None) as batch_op:
        batch_op.drop_column("population")

    with op.batch_alter_table("ballot", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_ballot_member_id_body_member"), type_="foreignkey")
        batch_op.drop_constraint("uq_ballot_member", type_="unique")
        batch_op.alter_column("comune_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("member_id")

    with op.batch_alter_table("meeting_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meeting_log_meeting_id"))

    op.drop_table("meeting_log")
    with op.batch_alter_table("body_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_body_member_body_id"))

    op.drop_table("body_member")
    op.drop_table("body_zone")
    op.drop_table("voting_body")
