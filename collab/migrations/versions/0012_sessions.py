"""server-side sessions

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06

``web_session``: one row per login (and per anonymous visitor given a CSRF
token). The cookie carries a random token; the row's id is its SHA-256.
Logout, a password change or reset, a deactivation delete rows, so a copied
cookie stops working at once. The signed cookies issued before this
revision name no row: everyone logs in again once.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_agent", sa.String(length=255), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_web_session_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_session")),
    )
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.create_index("ix_web_session_user_id", ["user_id"], unique=False)
        batch_op.create_index("ix_web_session_last_seen", ["last_seen"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.drop_index("ix_web_session_last_seen")
        batch_op.drop_index("ix_web_session_user_id")
    op.drop_table("web_session")
