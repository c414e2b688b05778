"""The search index: one row per searchable item, with what permissions need.

Each database adds its own full-text structure beside ``search_item`` in the
migration (0016), outside these models: on SQLite the FTS5 table
``search_fts`` (rowid = ``search_item.id``, holding stems), on PostgreSQL
the generated ``tsv`` column and its GIN index. :data:`UNMODELED` names them
for the schema comparison.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from collab.models import Base, UTCDateTime

__all__ = ["UNMODELED", "SearchItem", "SearchItemZone"]

# What each engine's migration adds beside the models (tests/test_migrations.py).
UNMODELED = frozenset(
    {
        "search_fts",
        "search_fts_data",
        "search_fts_idx",
        "search_fts_content",
        "search_fts_docsize",
        "search_fts_config",
        "tsv",
        "ix_search_item_tsv",
    }
)


class SearchItem(Base):
    """One searchable thing: a thread's title, a post, a consultation, a
    contribution, a meeting, a published verbale (``kind`` and ``object_id``).

    Who may find it is in the row, so that the query filters and counts in
    one go: ``public`` (anyone, without an account), ``metro`` (every active
    user: a metropolitan thread), else the members of the zones in
    :class:`SearchItemZone` (and CMTo, who read every zone).
    """

    __tablename__ = "search_item"
    __table_args__ = (
        UniqueConstraint("kind", "object_id", name="uq_search_item_kind_object"),
        Index("ix_search_item_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[int] = mapped_column(Integer)
    # What the result shows as its place: the item's zone (the first of its
    # zones, None for a metropolitan thread), its theme, the comune.
    zone_id: Mapped[int | None] = mapped_column(Integer)
    theme_id: Mapped[int | None] = mapped_column(Integer)
    comune_id: Mapped[int | None] = mapped_column(Integer)
    author_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    metro: Mapped[bool] = mapped_column(Boolean, default=False)
    # Searched: title (weighs more) and body, as plain text.
    title: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    # Shown, not searched: what the item belongs to (a post's thread).
    context: Mapped[str] = mapped_column(String(300), default="")
    # Where a member lands, and where anyone else may (a public meeting's link).
    url: Mapped[str] = mapped_column(String(300))
    public_url: Mapped[str | None] = mapped_column(String(300))


class SearchItemZone(Base):
    """A zone whose members may find the item (each convened or addressed zone)."""

    __tablename__ = "search_item_zone"
    __table_args__ = (Index("ix_search_item_zone_zone_item", "zone_id", "item_id"),)

    item_id: Mapped[int] = mapped_column(
        ForeignKey("search_item.id", ondelete="CASCADE"), primary_key=True
    )
    zone_id: Mapped[int] = mapped_column(Integer, primary_key=True)
