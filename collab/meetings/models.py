"""Meetings' data: the meeting, its zones and agenda, attendance, the floor,
votes and ballots, materials, delegates and the verbale with its revisions.

Domain code: no Starlette here. Timestamps are timezone-aware UTC.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from collab.models import Base, Comune, Theme, User, UTCDateTime, utcnow

__all__ = [
    "AgendaItem",
    "Attendance",
    "Ballot",
    "Choice",
    "FloorRequest",
    "Meeting",
    "MeetingDelegate",
    "MeetingMaterial",
    "MeetingState",
    "MeetingZone",
    "Verbale",
    "VerbaleRevision",
    "Vote",
]


class MeetingState(enum.StrEnum):
    CONVOCATA = "convocata"  # convened, not started
    IN_CORSO = "in_corso"  # opened by the chair
    CHIUSA = "chiusa"  # closed: the verbale can be drafted
    ANNULLATA = "annullata"  # cancelled before it was held


class Choice(enum.StrEnum):
    """A comune's ballot (see :mod:`collab.meetings.tally`)."""

    FAVOREVOLE = "favorevole"
    CONTRARIO = "contrario"
    ASTENUTO = "astenuto"
    NON_PARTECIPA = "non_partecipa"


def _str_enum(cls: type[enum.StrEnum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, values_callable=lambda e: [m.value for m in e])


class Meeting(Base):
    """A meeting of one or more zones, on an agenda of items, each on a theme."""

    __tablename__ = "meeting"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    place: Mapped[str] = mapped_column(String(200), default="")
    video_url: Mapped[str] = mapped_column(String(500), default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    state: Mapped[MeetingState] = mapped_column(
        _str_enum(MeetingState, "meeting_state"), default=MeetingState.CONVOCATA
    )
    convened_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    chair_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    secretary_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # Comuni present for the meeting to deliberate; None: a majority of the
    # comuni of the convened zones (counted when the meeting opens).
    quorum: Mapped[int | None] = mapped_column(Integer)
    # Followed without an account through /m/<public_token> when set.
    public_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Bumped first by every write to the meeting (collab.meetings.actions):
    # the row lock serializes two chairs acting at once; also the SEQUENCE of
    # the meeting's iCalendar event.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    convened_by: Mapped[User] = relationship(foreign_keys=[convened_by_id], lazy="joined")
    chair: Mapped[User | None] = relationship(foreign_keys=[chair_id], lazy="joined")
    secretary: Mapped[User | None] = relationship(foreign_keys=[secretary_id], lazy="joined")


class MeetingZone(Base):
    """A zone convened to a meeting: its comuni attend and vote."""

    __tablename__ = "meeting_zone"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id"), primary_key=True)


class AgendaItem(Base):
    """A point of the agenda, on a theme, with its expected length and live notes."""

    __tablename__ = "agenda_item"
    __table_args__ = (UniqueConstraint("meeting_id", "position", name="uq_agenda_item_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    theme_id: Mapped[int] = mapped_column(ForeignKey("theme.id"))
    minutes: Mapped[int] = mapped_column(Integer, default=15)
    notes: Mapped[str] = mapped_column(Text, default="")  # the secretary's, typed live
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    theme: Mapped[Theme] = relationship(lazy="joined")


class Attendance(Base):
    """Someone present at a meeting: for a comune (which may vote), or without a vote.

    One row per comune per meeting (whoever checked it in) and one per person;
    ``left_at`` set when they leave, cleared if they come back.
    """

    __tablename__ = "attendance"
    __table_args__ = (
        UniqueConstraint("meeting_id", "comune_id", name="uq_attendance_comune"),
        UniqueConstraint("meeting_id", "user_id", name="uq_attendance_user"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"))
    comune_id: Mapped[int | None] = mapped_column(ForeignKey("comune.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    voting: Mapped[bool] = mapped_column(Boolean, default=False)
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    comune: Mapped[Comune | None] = relationship(lazy="joined")
    user: Mapped[User] = relationship(lazy="joined")


class FloorRequest(Base):
    """A raised hand: queued, then given the floor, then done (or withdrawn)."""

    __tablename__ = "floor_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_item.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    comune_id: Mapped[int | None] = mapped_column(ForeignKey("comune.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    granted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship(lazy="joined")
    comune: Mapped[Comune | None] = relationship(lazy="joined")


class Vote(Base):
    """A vote on a parere (or on one point of it); its result is frozen at close."""

    __tablename__ = "vote"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_item.id"))
    motion: Mapped[str] = mapped_column(String(300))
    point: Mapped[str] = mapped_column(String(200), default="")  # "votazione per punti"
    secret: Mapped[bool] = mapped_column(Boolean, default=False)
    quorum: Mapped[int] = mapped_column(Integer)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The frozen outcome (names per choice, quorum), set at close.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    approved: Mapped[bool | None] = mapped_column(Boolean)


class Ballot(Base):
    """One comune's ballot in a vote, cast once by its sindaco or delegate."""

    __tablename__ = "ballot"
    __table_args__ = (UniqueConstraint("vote_id", "comune_id", name="uq_ballot_comune"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vote_id: Mapped[int] = mapped_column(ForeignKey("vote.id"))
    comune_id: Mapped[int] = mapped_column(ForeignKey("comune.id"))
    cast_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    choice: Mapped[Choice] = mapped_column(_str_enum(Choice, "ballot_choice"))
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Verbale(Base):
    """A meeting's minutes: drafted from the record at close, edited, then published."""

    __tablename__ = "verbale"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), unique=True)
    source: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class MeetingMaterial(Base):
    """A document of a meeting (a link), for the whole meeting or one agenda item."""

    __tablename__ = "meeting_material"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_item.id"))
    title: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(500))
    added_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MeetingDelegate(Base):
    """The person a comune's sindaco names to check in and vote for it at one meeting."""

    __tablename__ = "meeting_delegate"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), primary_key=True)
    comune_id: Mapped[int] = mapped_column(ForeignKey("comune.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    named_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")


class VerbaleRevision(Base):
    """A previous text of a verbale, kept on every edit."""

    __tablename__ = "verbale_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    verbale_id: Mapped[int] = mapped_column(ForeignKey("verbale.id"), index=True)
    source: Mapped[str] = mapped_column(Text)
    edited_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
