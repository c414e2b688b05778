"""themes and zones: optional English names

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10

The interface has an English version, but theme and zone names are data the
administrators enter, in Italian. ``name_en`` is the name shown when the
interface is in English; NULL means "the same as the Italian one" (most zone
names are proper nouns). The seeded themes and zones get the English names
below, each only while it still has its seeded Italian name: a theme or zone an
administrator renamed keeps no translation of a name it no longer has.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (number, seeded Italian name, English name); the others stay as they are.
ZONES = [
    (1, "Torino", "Turin"),
    (2, "AMT Ovest", "AMT West"),
    (3, "AMT Sud", "AMT South"),
    (4, "AMT Nord", "AMT North"),
    (6, "Valli di Susa e Sangone", "Susa and Sangone Valleys"),
    (7, "Ciriacese - Valli di Lanzo", "Ciriacese - Lanzo Valleys"),
    (8, "Canavese occidentale", "Western Canavese"),
]

# (slug, seeded Italian name, English name)
THEMES = [
    ("psm-produttiva-innovativa", "Torino metropoli più produttiva e innovativa",
     "A more productive and innovative Turin metropolis"),
    ("psm-verde-ecologica", "Torino metropoli più verde ed ecologica",
     "A greener and more ecological Turin metropolis"),
    ("psm-mobile-collegata", "Torino metropoli più mobile, accessibile e collegata",
     "A more mobile, accessible and connected Turin metropolis"),
    ("psm-impara", "Torino metropoli che impara di più", "A Turin metropolis that learns more"),
    ("psm-attrattiva-giusta", "Torino metropoli più attrattiva, giusta ed eguale",
     "A more attractive, fair and equal Turin metropolis"),
    ("psm-sana", "Torino metropoli più sana", "A healthier Turin metropolis"),
    ("ambiente-rifiuti", "Ambiente e rifiuti", "Environment and waste"),
    ("scuola", "Scuola", "Schools"),
    ("trasporti-mobilita", "Trasporti e mobilità", "Transport and mobility"),
    ("protezione-civile", "Protezione civile", "Civil protection"),
    ("procedure-modulistica", "Omogeneità delle procedure e modulistica",
     "Uniform procedures and forms"),
    ("turismo", "Turismo", "Tourism"),
    ("digitalizzazione", "Digitalizzazione", "Digitalisation"),
]  # fmt: skip


def upgrade() -> None:
    with op.batch_alter_table("zone") as batch:
        batch.add_column(sa.Column("name_en", sa.String(length=120), nullable=True))
    with op.batch_alter_table("theme") as batch:
        batch.add_column(sa.Column("name_en", sa.String(length=120), nullable=True))
    zone = sa.table(
        "zone", sa.column("number", sa.Integer), sa.column("name", sa.String),
        sa.column("name_en", sa.String),
    )  # fmt: skip
    for number, name, english in ZONES:
        op.execute(
            zone.update()
            .where(zone.c.number == number, zone.c.name == name)
            .values(name_en=english)
        )
    theme = sa.table(
        "theme", sa.column("slug", sa.String), sa.column("name", sa.String),
        sa.column("name_en", sa.String),
    )  # fmt: skip
    for slug, name, english in THEMES:
        op.execute(
            theme.update().where(theme.c.slug == slug, theme.c.name == name).values(name_en=english)
        )


def downgrade() -> None:
    with op.batch_alter_table("theme") as batch:
        batch.drop_column("name_en")
    with op.batch_alter_table("zone") as batch:
        batch.drop_column("name_en")
