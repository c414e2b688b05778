"""The legal pages' rows: the current text of each page and its previous versions."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from collab.i18n import N_
from collab.models import Base, User, UTCDateTime, utcnow

__all__ = ["TITLES", "LegalKind", "LegalPage", "LegalPageRevision"]


class LegalKind(enum.StrEnum):
    """Which legal page; also its address, ``/legal/<kind>``."""

    ACCESSIBILITY = "accessibility"
    PRIVACY = "privacy"
    COOKIES = "cookies"


# What each page is called (msgids): its heading, the footer, the admin pages.
TITLES: dict[LegalKind, str] = {
    LegalKind.ACCESSIBILITY: N_("Accessibility statement"),
    LegalKind.PRIVACY: N_("Privacy notice"),
    LegalKind.COOKIES: N_("Cookie policy"),
}


class LegalPage(Base):
    """The current text of one legal page, in Italian and optionally in English.

    No row yet means nobody has saved the page: it shows collab's template text
    (:mod:`collab.legal.content`). ``facts`` holds the fields a page has besides
    its text (the accessibility statement's conformity status, dates, method
    and contacts: :class:`collab.legal.content.Statement`).
    """

    __tablename__ = "legal_page"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[LegalKind] = mapped_column(
        Enum(
            LegalKind,
            name="legal_kind",
            native_enum=False,
            values_callable=lambda e: [m.value for m in e],
        ),
        unique=True,
    )
    # 1 at the first save, +1 at each save: the edit form sends the version it
    # was loaded with, so two administrators cannot overwrite each other.
    version: Mapped[int] = mapped_column(Integer, default=1)
    body_it: Mapped[str] = mapped_column(Text)  # Markdown source
    html_it: Mapped[str] = mapped_column(Text)  # sanitized, placeholders marked
    body_en: Mapped[str] = mapped_column(Text, default="")  # "" when not translated
    html_en: Mapped[str] = mapped_column(Text, default="")
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # None: written by the system (``collab demo``), not by a person.
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    updated_by: Mapped[User | None] = relationship(lazy="joined")


class LegalPageRevision(Base):
    """A previous version of a legal page, kept on every save: what it said, who
    wrote it and when (the history administrators read)."""

    __tablename__ = "legal_page_revision"
    __table_args__ = (UniqueConstraint("page_id", "version", name="uq_legal_page_revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("legal_page.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    body_it: Mapped[str] = mapped_column(Text)
    html_it: Mapped[str] = mapped_column(Text)
    body_en: Mapped[str] = mapped_column(Text)
    html_en: Mapped[str] = mapped_column(Text)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The version's author and time: who wrote *this* text, and when.
    edited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    edited_by: Mapped[User | None] = relationship(lazy="joined")
