"""login attempts: an outcome each, kept for the admins' page

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06

The account lockout gives way to growing delays per (account, client) and
per client (:mod:`collab.accounts.throttle`). ``login_attempt`` now records
every attempt with its ``outcome`` (``pending``, ``ok``, ``wrong``,
``refused``), so admins see who tried what from where; rows written before
this revision were all failures. ``ix_login_attempt_at`` serves the admins'
newest-first page and housekeeping's pruning.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("outcome", sa.String(length=16), nullable=False, server_default="wrong")
        )
        batch_op.create_index(batch_op.f("ix_login_attempt_at"), ["at"], unique=False)


def downgrade() -> None:
    # The lockout counted rows as failures: keep only those.
    op.execute("DELETE FROM login_attempt WHERE outcome NOT IN ('wrong', 'pending')")
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_attempt_at"))
        batch_op.drop_column("outcome")
