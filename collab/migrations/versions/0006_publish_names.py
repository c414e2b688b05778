"""consultation: published names, text edits

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

A consultation may say, when staff open it, that its open data name the person
who sent each contribution (and as what: sindaco, portavoce or delegate).
Existing consultations keep the rule they were opened under: no names.
``edited_at`` is when staff last changed the title, the text or the themes
after opening (the page says so; the audit log keeps the previous text).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("consultation") as batch:
        batch.add_column(
            sa.Column("publish_names", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("consultation") as batch:
        batch.drop_column("edited_at")
        batch.drop_column("publish_names")
