"""initial schema and seed data

Revision ID: 0001
Revises:
Create Date: 2026-11-22

The 11 zone omogenee and the default themes (the six axes of the Piano
strategico metropolitano and the service areas named by the survey) are seed
data: later changes to them are data edits, not migrations.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ZONES = [
    (1, "Torino"),
    (2, "AMT Ovest"),
    (3, "AMT Sud"),
    (4, "AMT Nord"),
    (5, "Pinerolese"),
    (6, "Valli di Susa e Sangone"),
    (7, "Ciriacese - Valli di Lanzo"),
    (8, "Canavese occidentale"),
    (9, "Eporediese"),
    (10, "Chivassese"),
    (11, "Chierese - Carmagnolese"),
]

THEMES = [
    ("psm-produttiva-innovativa", "Torino metropoli più produttiva e innovativa"),
    ("psm-verde-ecologica", "Torino metropoli più verde ed ecologica"),
    ("psm-mobile-collegata", "Torino metropoli più mobile, accessibile e collegata"),
    ("psm-impara", "Torino metropoli che impara di più"),
    ("psm-attrattiva-giusta", "Torino metropoli più attrattiva, giusta ed eguale"),
    ("psm-sana", "Torino metropoli più sana"),
    ("ambiente-rifiuti", "Ambiente e rifiuti"),
    ("scuola", "Scuola"),
    ("trasporti-mobilita", "Trasporti e mobilità"),
    ("protezione-civile", "Protezione civile"),
    ("procedure-modulistica", "Omogeneità delle procedure e modulistica"),
    ("turismo", "Turismo"),
    ("digitalizzazione", "Digitalizzazione"),
]


def seed() -> None:
    zone = sa.table("zone", sa.column("number", sa.Integer), sa.column("name", sa.String))
    theme = sa.table(
        "theme",
        sa.column("slug", sa.String),
        sa.column("name", sa.String),
        sa.column("position", sa.Integer),
        sa.column("active", sa.Boolean),
    )
    op.bulk_insert(zone, [{"number": n, "name": name} for n, name in ZONES])
    op.bulk_insert(
        theme,
        [
            {"slug": slug, "name": name, "position": i, "active": True}
            for i, (slug, name) in enumerate(THEMES, start=1)
        ],
    )


def upgrade() -> None:
    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempt")),
    )
    op.create_index(op.f("ix_login_attempt_email_at"), "login_attempt", ["email", "at"])
    op.create_index(op.f("ix_login_attempt_ip_at"), "login_attempt", ["ip", "at"])

    op.create_table(
        "theme",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_theme")),
        sa.UniqueConstraint("slug", name=op.f("uq_theme_slug")),
    )
    op.create_table(
        "zone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone")),
        sa.UniqueConstraint("number", name=op.f("uq_zone_number")),
    )
    op.create_table(
        "comune",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("istat_code", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name=op.f("fk_comune_zone_id_zone")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comune")),
        sa.UniqueConstraint("istat_code", name=op.f("uq_comune_istat_code")),
    )
    op.create_index(op.f("ix_comune_zone_id"), "comune", ["zone_id"])

    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "admin",
                "staff",
                "portavoce",
                "sindaco",
                "tecnico",
                name="user_role",
                native_enum=False,
            ),
            nullable=False,
        ),
        sa.Column("comune_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["comune_id"], ["comune.id"], name=op.f("fk_user_account_comune_id_comune")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("email", name=op.f("uq_user_account_email")),
    )
    op.create_index(op.f("ix_user_account_comune_id"), "user_account", ["comune_id"])

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("object_type", sa.String(length=40), nullable=False),
        sa.Column("object_id", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["user_account.id"], name=op.f("fk_audit_log_actor_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])

    op.create_table(
        "thread",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("theme_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("post_count", sa.Integer(), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["user_account.id"], name=op.f("fk_thread_author_id_user_account")
        ),
        sa.ForeignKeyConstraint(["theme_id"], ["theme.id"], name=op.f("fk_thread_theme_id_theme")),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name=op.f("fk_thread_zone_id_zone")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_thread")),
    )
    op.create_index(op.f("ix_thread_board"), "thread", ["zone_id", "theme_id", "last_activity_at"])
    op.create_index(op.f("ix_thread_theme_id"), "thread", ["theme_id"])

    op.create_table(
        "post",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by_id", sa.Integer(), nullable=True),
        sa.Column("delete_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"], ["user_account.id"], name=op.f("fk_post_author_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["deleted_by_id"], ["user_account.id"], name=op.f("fk_post_deleted_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"], ["thread.id"], name=op.f("fk_post_thread_id_thread")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post")),
    )
    op.create_index(op.f("ix_post_thread_created"), "post", ["thread_id", "id"])

    op.create_table(
        "post_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("edited_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["edited_by_id"],
            ["user_account.id"],
            name=op.f("fk_post_revision_edited_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["post_id"], ["post.id"], name=op.f("fk_post_revision_post_id_post")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_revision")),
    )
    op.create_index(op.f("ix_post_revision_post_id"), "post_revision", ["post_id"])
    seed()


def downgrade() -> None:
    op.drop_index(op.f("ix_post_revision_post_id"), table_name="post_revision")

    op.drop_table("post_revision")
    op.drop_index(op.f("ix_post_thread_created"), table_name="post")

    op.drop_table("post")
    op.drop_index(op.f("ix_thread_theme_id"), table_name="thread")
    op.drop_index(op.f("ix_thread_board"), table_name="thread")

    op.drop_table("thread")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")

    op.drop_table("audit_log")
    op.drop_index(op.f("ix_user_account_comune_id"), table_name="user_account")

    op.drop_table("user_account")
    op.drop_index(op.f("ix_comune_zone_id"), table_name="comune")

    op.drop_table("comune")
    op.drop_table("zone")
    op.drop_table("theme")
    op.drop_index(op.f("ix_login_attempt_ip_at"), table_name="login_attempt")
    op.drop_index(op.f("ix_login_attempt_email_at"), table_name="login_attempt")

    op.drop_table("login_attempt")
