"""The boards' data: threads, posts and the revisions of edited posts.

Domain code: no Starlette here. Timestamps are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from collab.models import Base, Theme, User, UTCDateTime, Zone, utcnow

__all__ = [
    "Post",
    "PostRevision",
    "Thread",
    "ThreadRead",
]


class Thread(Base):
    """A discussion on a theme, in a zone (or metropolitan when ``zone_id`` is None)."""

    __tablename__ = "thread"
    __table_args__ = (Index("ix_thread_board", "zone_id", "theme_id", "last_activity_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"))
    theme_id: Mapped[int] = mapped_column(ForeignKey("theme.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Visible (not deleted) posts, kept by the actions so lists need no COUNT.
    post_count: Mapped[int] = mapped_column(Integer, default=0)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)

    zone: Mapped[Zone | None] = relationship(lazy="joined")
    theme: Mapped[Theme] = relationship(lazy="joined")
    author: Mapped[User] = relationship(lazy="joined")


class Post(Base):
    """A message in a thread. Markdown source plus its sanitized HTML; soft deleted."""

    __tablename__ = "post"
    __table_args__ = (
        Index("ix_post_thread_created", "thread_id", "id"),
        # Who took part in a thread, one index seek per person however long
        # it is (collab.forums.notices): the live posts' authors only.
        Index(
            "ix_post_thread_author_live",
            "thread_id",
            "author_id",
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
        # The threads a person last wrote in, for their page (collab.forums.people).
        Index(
            "ix_post_author_thread_live",
            "author_id",
            "thread_id",
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("thread.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    source: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    delete_reason: Mapped[str | None] = mapped_column(Text)

    author: Mapped[User] = relationship(foreign_keys=[author_id], lazy="joined")
    deleted_by: Mapped[User | None] = relationship(foreign_keys=[deleted_by_id], lazy="joined")
    # Never loaded by a query: set by the reply that creates the post, so that
    # what follows in its transaction (the search index) need not read it again.
    thread: Mapped[Thread] = relationship(lazy="raise")

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


class PostRevision(Base):
    """A previous version of a post, kept on every edit (the edit history)."""

    __tablename__ = "post_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("post.id"), index=True)
    source: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    # The version's author and time: who wrote *this* text, and when.
    edited_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    edited_by: Mapped[User] = relationship(lazy="joined")


class ThreadRead(Base):
    """How far one person has read a thread: the last post seen (by id, posts
    only grow). Without a row, nothing of the thread has been read."""

    __tablename__ = "thread_read"
    __table_args__ = (Index("ix_thread_read_thread_id", "thread_id"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    thread_id: Mapped[int] = mapped_column(
        ForeignKey("thread.id", ondelete="CASCADE"), primary_key=True
    )
    last_read_post_id: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
