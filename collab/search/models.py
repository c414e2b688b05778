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

__all__ = ["UNMODELED", "FileText", "SearchItem", "SearchItemZone"]

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
    # The same, as words the full-text index holds (collab.search.engine.scope_tokens).
    scope: Mapped[str] = mapped_column(Text, default="", server_default="")
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


class FileText(Base):
    """The text of one stored content (a blob, by SHA-256), for the index.

    A row is queued (``pending``) with the upload, in its transaction; the
    extractor of some process claims it after commit (``claim`` until
    ``claimed_until``), reads the file and leaves it ``done`` with its text,
    ``skipped`` (a broken or encrypted file: never tried again), or
    ``pending`` again at ``due_at`` after a failure, ``failed`` after the
    last attempt (:mod:`collab.search.queue`). Same bytes, one row: a
    content attached to many posts is read once.
    """

    __tablename__ = "file_text"
    __table_args__ = (Index("ix_file_text_state_due", "state", "due_at"),)

    sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"), primary_key=True)
    state: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claim: Mapped[str | None] = mapped_column(String(32))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    text: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(String(500), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
