"""The data model of files: blobs (bytes, by SHA-256), stored files and library documents.

A :class:`Blob` is a run of bytes on disk, stored once whatever the number of
files that carry it. A :class:`StoredFile` is one named file somebody uploaded,
owned by exactly one object: a version of a library :class:`Document`, a
consultation (its drafts), a version of a contribution, a post or an agenda
item. Reading a file is allowed to whoever may read its owner.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from collab.models import Base, Theme, User, UTCDateTime, utcnow

__all__ = ["Blob", "Document", "StoredFile"]


class Blob(Base):
    """Bytes on disk under ``DATA_DIR/files/<aa>/<sha256>``; the type is from the content."""

    __tablename__ = "blob"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Document(Base):
    """A document of a theme's forms library (*modulistica*); its versions are files."""

    __tablename__ = "document"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    theme_id: Mapped[int] = mapped_column(ForeignKey("theme.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # The number of the current (latest) version; versions count from 1.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    theme: Mapped[Theme] = relationship(lazy="joined")
    created_by: Mapped[User] = relationship(lazy="joined")


class StoredFile(Base):
    """One uploaded file: a name and a blob, owned by exactly one object.

    Owners: ``document_id`` with ``version`` (the library), ``consultation_id``
    (a consultation's drafts), ``contribution_version_id``, ``post_id`` or
    ``agenda_item_id``. The name is sanitized; the type is the blob's.
    """

    __tablename__ = "stored_file"
    __table_args__ = (
        UniqueConstraint("document_id", "version"),
        Index("ix_stored_file_post", "post_id"),
        Index("ix_stored_file_agenda_item", "agenda_item_id"),
        Index("ix_stored_file_consultation", "consultation_id"),
        Index("ix_stored_file_contribution_version", "contribution_version_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"))
    version: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(500), default="")  # what a new version changed
    consultation_id: Mapped[int | None] = mapped_column(ForeignKey("consultation.id"))
    contribution_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("contribution_version.id")
    )
    post_id: Mapped[int | None] = mapped_column(ForeignKey("post.id"))
    agenda_item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_item.id"))

    uploaded_by: Mapped[User] = relationship(lazy="joined")
