"""legal pages: accessibility statement, privacy notice, cookie statement

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10

One row per page once an administrator (or ``collab demo``) saves it; until
then the page shows collab's template text, so nothing is seeded here. Every
save keeps the version it replaces in ``legal_page_revision``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("accessibility", "privacy", "cookies")


def upgrade() -> None:
    op.create_table(
        "legal_page",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(*KINDS, name="legal_kind", native_enum=False),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body_it", sa.Text(), nullable=False),
        sa.Column("html_it", sa.Text(), nullable=False),
        sa.Column("body_en", sa.Text(), nullable=False),
        sa.Column("html_en", sa.Text(), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["user_account.id"],
            name=op.f("fk_legal_page_updated_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_page")),
        sa.UniqueConstraint("kind", name=op.f("uq_legal_page_kind")),
    )
    op.create_table(
        "legal_page_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body_it", sa.Text(), nullable=False),
        sa.Column("html_it", sa.Text(), nullable=False),
        sa.Column("body_en", sa.Text(), nullable=False),
        sa.Column("html_en", sa.Text(), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("edited_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["edited_by_id"],
            ["user_account.id"],
            name=op.f("fk_legal_page_revision_edited_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["page_id"], ["legal_page.id"], name=op.f("fk_legal_page_revision_page_id_legal_page")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_page_revision")),
        sa.UniqueConstraint("page_id", "version", name="uq_legal_page_revision"),
    )
    op.create_index(
        op.f("ix_legal_page_revision_page_id"), "legal_page_revision", ["page_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_legal_page_revision_page_id"), table_name="legal_page_revision")
    op.drop_table("legal_page_revision")
    op.drop_table("legal_page")
