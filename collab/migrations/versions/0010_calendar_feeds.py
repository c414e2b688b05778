"""users: the secret of a personal calendar feed

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

A calendar app subscribes to ``/calendar/<token>.ics`` without a cookie: the
token is the secret. NULL until the user asks for a feed; a new one replaces
it (the old address stops working), and revoking sets it back to NULL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user_account") as batch:
        batch.add_column(sa.Column("calendar_token", sa.String(length=64), nullable=True))
        batch.create_unique_constraint(op.f("uq_user_account_calendar_token"), ["calendar_token"])


def downgrade() -> None:
    with op.batch_alter_table("user_account") as batch:
        batch.drop_constraint(op.f("uq_user_account_calendar_token"), type_="unique")
        batch.drop_column("calendar_token")
