"""consultations and documents

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

Files (blobs by SHA-256, stored files owned by one object each, the forms
library's documents) and consultations (zones, themes, contributions, their
versions, and the delegates a sindaco names to submit for the comune).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "blob",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_blob")),
    )
    op.create_table(
        "consultation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body_source", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_consultation_created_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation")),
    )
    op.create_table(
        "document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("theme_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_document_created_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["theme_id"], ["theme.id"], name=op.f("fk_document_theme_id_theme")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document")),
    )
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_document_theme_id"), ["theme_id"], unique=False)

    op.create_table(
        "consultation_delegate",
        sa.Column("consultation_id", sa.Integer(), nullable=False),
        sa.Column("comune_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("named_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["comune_id"], ["comune.id"], name=op.f("fk_consultation_delegate_comune_id_comune")
        ),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultation.id"],
            name=op.f("fk_consultation_delegate_consultation_id_consultation"),
        ),
        sa.ForeignKeyConstraint(
            ["named_by_id"],
            ["user_account.id"],
            name=op.f("fk_consultation_delegate_named_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_consultation_delegate_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint(
            "consultation_id", "comune_id", name=op.f("pk_consultation_delegate")
        ),
    )
    op.create_table(
        "consultation_theme",
        sa.Column("consultation_id", sa.Integer(), nullable=False),
        sa.Column("theme_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultation.id"],
            name=op.f("fk_consultation_theme_consultation_id_consultation"),
        ),
        sa.ForeignKeyConstraint(
            ["theme_id"], ["theme.id"], name=op.f("fk_consultation_theme_theme_id_theme")
        ),
        sa.PrimaryKeyConstraint("consultation_id", "theme_id", name=op.f("pk_consultation_theme")),
    )
    op.create_table(
        "consultation_zone",
        sa.Column("consultation_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultation.id"],
            name=op.f("fk_consultation_zone_consultation_id_consultation"),
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["zone.id"], name=op.f("fk_consultation_zone_zone_id_zone")
        ),
        sa.PrimaryKeyConstraint("consultation_id", "zone_id", name=op.f("pk_consultation_zone")),
    )
    with op.batch_alter_table("consultation_zone", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consultation_zone_zone_id"), ["zone_id"], unique=False)

    op.create_table(
        "contribution",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consultation_id", sa.Integer(), nullable=False),
        sa.Column("comune_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "received",
                "under_review",
                "accepted",
                "partly_accepted",
                "not_accepted",
                name="contribution_status",
                native_enum=False,
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("submitted_by_id", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answer_source", sa.Text(), nullable=False),
        sa.Column("answer_html", sa.Text(), nullable=False),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["answered_by_id"],
            ["user_account.id"],
            name=op.f("fk_contribution_answered_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["comune_id"], ["comune.id"], name=op.f("fk_contribution_comune_id_comune")
        ),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultation.id"],
            name=op.f("fk_contribution_consultation_id_consultation"),
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_id"],
            ["user_account.id"],
            name=op.f("fk_contribution_submitted_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contribution")),
        sa.UniqueConstraint("consultation_id", "comune_id", name=op.f("uq_contribution_comune")),
        sa.UniqueConstraint("consultation_id", "number", name=op.f("uq_contribution_number")),
    )
    with op.batch_alter_table("contribution", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contribution_consultation_id"), ["consultation_id"], unique=False
        )

    op.create_table(
        "contribution_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contribution_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("body_source", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contribution_id"],
            ["contribution.id"],
            name=op.f("fk_contribution_version_contribution_id_contribution"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_contribution_version_created_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contribution_version")),
        sa.UniqueConstraint(
            "contribution_id", "number", name=op.f("uq_contribution_version_contribution_id")
        ),
    )
    with op.batch_alter_table("contribution_version", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contribution_version_contribution_id"), ["contribution_id"], unique=False
        )

    op.create_table(
        "stored_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("consultation_id", sa.Integer(), nullable=True),
        sa.Column("contribution_version_id", sa.Integer(), nullable=True),
        sa.Column("post_id", sa.Integer(), nullable=True),
        sa.Column("agenda_item_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agenda_item_id"],
            ["agenda_item.id"],
            name=op.f("fk_stored_file_agenda_item_id_agenda_item"),
        ),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultation.id"],
            name=op.f("fk_stored_file_consultation_id_consultation"),
        ),
        sa.ForeignKeyConstraint(
            ["contribution_version_id"],
            ["contribution_version.id"],
            name=op.f("fk_stored_file_contribution_version_id_contribution_version"),
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["document.id"], name=op.f("fk_stored_file_document_id_document")
        ),
        sa.ForeignKeyConstraint(["post_id"], ["post.id"], name=op.f("fk_stored_file_post_id_post")),
        sa.ForeignKeyConstraint(
            ["sha256"], ["blob.sha256"], name=op.f("fk_stored_file_sha256_blob")
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["user_account.id"],
            name=op.f("fk_stored_file_uploaded_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_file")),
        sa.UniqueConstraint("document_id", "version", name=op.f("uq_stored_file_document_id")),
    )
    with op.batch_alter_table("stored_file", schema=None) as batch_op:
        batch_op.create_index("ix_stored_file_agenda_item", ["agenda_item_id"], unique=False)
        batch_op.create_index("ix_stored_file_consultation", ["consultation_id"], unique=False)
        batch_op.create_index(
            "ix_stored_file_contribution_version", ["contribution_version_id"], unique=False
        )
        batch_op.create_index("ix_stored_file_post", ["post_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stored_file_sha256"), ["sha256"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("stored_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stored_file_sha256"))
        batch_op.drop_index("ix_stored_file_post")
        batch_op.drop_index("ix_stored_file_contribution_version")
        batch_op.drop_index("ix_stored_file_consultation")
        batch_op.drop_index("ix_stored_file_agenda_item")

    op.drop_table("stored_file")
    with op.batch_alter_table("contribution_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contribution_version_contribution_id"))

    op.drop_table("contribution_version")
    with op.batch_alter_table("contribution", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contribution_consultation_id"))

    op.drop_table("contribution")
    with op.batch_alter_table("consultation_zone", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consultation_zone_zone_id"))

    op.drop_table("consultation_zone")
    op.drop_table("consultation_theme")
    op.drop_table("consultation_delegate")
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_theme_id"))

    op.drop_table("document")
    op.drop_table("consultation")
    op.drop_table("blob")
