"""The data model of consultations: zones and themes, contributions and their versions."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from collab.i18n import N_
from collab.models import Base, Comune, User, UTCDateTime, utcnow

__all__ = [
    "STATUS_LABELS",
    "Consultation",
    "ConsultationDelegate",
    "ConsultationTheme",
    "ConsultationZone",
    "Contribution",
    "ContributionVersion",
    "Status",
]


class Status(enum.StrEnum):
    """Where a contribution is: received -> under review -> one of the three answers."""

    RECEIVED = "received"
    UNDER_REVIEW = "under_review"
    ACCEPTED = "accepted"
    PARTLY_ACCEPTED = "partly_accepted"
    NOT_ACCEPTED = "not_accepted"

    @property
    def answered(self) -> bool:
        return self in ANSWERS


ANSWERS = frozenset({Status.ACCEPTED, Status.PARTLY_ACCEPTED, Status.NOT_ACCEPTED})
# What a state is called (msgids): badges, the review form, live announcements.
STATUS_LABELS: dict[Status, str] = {
    Status.RECEIVED: N_("Received"),
    Status.UNDER_REVIEW: N_("Under review"),
    Status.ACCEPTED: N_("Accepted"),
    Status.PARTLY_ACCEPTED: N_("Partly accepted"),
    Status.NOT_ACCEPTED: N_("Not accepted"),
}


class Consultation(Base):
    """Staff ask one or more zones for the comuni's contributions before ``deadline``."""

    __tablename__ = "consultation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body_source: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Bumped first by every write about the consultation (a contribution, an
    # answer, an extension): it serializes them and numbers the receipts.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    last_number: Mapped[int] = mapped_column(Integer, default=0)
    # Chosen when the consultation is opened, and shown on its form: the open
    # data then name who sent each contribution. Never changed afterwards, so
    # nobody's name is published under a rule they did not see.
    publish_names: Mapped[bool] = mapped_column(Boolean, default=False)
    # When staff last changed the title, text or themes after opening (None: never).
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    created_by: Mapped[User] = relationship(lazy="joined")

    def open_at(self, now: datetime) -> bool:
        return now < self.deadline


class ConsultationZone(Base):
    __tablename__ = "consultation_zone"

    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultation.id"), primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id"), primary_key=True, index=True)


class ConsultationTheme(Base):
    __tablename__ = "consultation_theme"

    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultation.id"), primary_key=True)
    theme_id: Mapped[int] = mapped_column(ForeignKey("theme.id"), primary_key=True)


class Contribution(Base):
    """A comune's contribution to a consultation: one per comune, versioned until the deadline."""

    __tablename__ = "contribution"
    __table_args__ = (
        # Named: the convention would name both after their first column.
        UniqueConstraint("consultation_id", "comune_id", name="uq_contribution_comune"),
        UniqueConstraint("consultation_id", "number", name="uq_contribution_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultation.id"), index=True)
    comune_id: Mapped[int] = mapped_column(ForeignKey("comune.id"))
    # The receipt number within the consultation (1, 2, ...), given on submission.
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[Status] = mapped_column(
        Enum(
            Status,
            name="contribution_status",
            native_enum=False,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=Status.RECEIVED,
    )
    version: Mapped[int] = mapped_column(Integer, default=1)  # the current version's number
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answer_source: Mapped[str] = mapped_column(Text, default="")
    answer_html: Mapped[str] = mapped_column(Text, default="")
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    comune: Mapped[Comune] = relationship(lazy="joined")


class ContributionVersion(Base):
    """The text of a contribution as submitted (version 1) or edited (2, 3, ...)."""

    __tablename__ = "contribution_version"
    __table_args__ = (UniqueConstraint("contribution_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contribution_id: Mapped[int] = mapped_column(ForeignKey("contribution.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    body_source: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    created_by: Mapped[User] = relationship(lazy="joined")


class ConsultationDelegate(Base):
    """The person a comune's sindaco names to submit the comune's contribution."""

    __tablename__ = "consultation_delegate"

    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultation.id"), primary_key=True)
    comune_id: Mapped[int] = mapped_column(ForeignKey("comune.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    named_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")
