"""The data model: zones, comuni, themes, users, threads, posts and the audit log.

Domain code: no Starlette here. Timestamps are timezone-aware UTC. Zone and
theme names are Italian, the canonical ones (the API, the verbale, open data);
``name_en`` is only what an English interface shows (``label``).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "AgendaItem",
    "Attendance",
    "AuditLog",
    "Ballot",
    "Base",
    "Choice",
    "Comune",
    "EventLog",
    "FloorRequest",
    "LoginAttempt",
    "Meeting",
    "MeetingDelegate",
    "MeetingMaterial",
    "MeetingState",
    "MeetingZone",
    "Post",
    "PostRevision",
    "Role",
    "Theme",
    "Thread",
    "TopicSeq",
    "User",
    "Verbale",
    "VerbaleRevision",
    "Vote",
    "Zone",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes; SQLite gives naive ones back, so re-attach UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Role(enum.StrEnum):
    """What a user is. Comune roles need a comune; CMTo roles have none."""

    ADMIN = "admin"
    STAFF = "staff"
    PORTAVOCE = "portavoce"
    SINDACO = "sindaco"
    TECNICO = "tecnico"

    @property
    def is_cmto(self) -> bool:
        return self in (Role.ADMIN, Role.STAFF)


class Zone(Base):
    """A zona omogenea. ``number`` is the statutory number (1-11)."""

    __tablename__ = "zone"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    name: Mapped[str] = mapped_column(String(120))
    # Shown when the interface is in English; None: the Italian name is used.
    name_en: Mapped[str | None] = mapped_column(String(120))

    comuni: Mapped[list[Comune]] = relationship(back_populates="zone", order_by="Comune.name")

    def label(self, locale: str) -> str:
        """The zone's name for an interface in ``locale``."""
        return self.name_en if locale == "en" and self.name_en else self.name


class Comune(Base):
    """A municipality, identified by its ISTAT code; belongs to exactly one zone."""

    __tablename__ = "comune"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    istat_code: Mapped[str] = mapped_column(String(6), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id"), index=True)

    zone: Mapped[Zone] = relationship(back_populates="comuni", lazy="joined")


class Theme(Base):
    """A theme of the boards (an axis of the Piano strategico or a service area)."""

    __tablename__ = "theme"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    # Shown when the interface is in English; None: the Italian name is used.
    name_en: Mapped[str | None] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def label(self, locale: str) -> str:
        """The theme's name for an interface in ``locale``."""
        return self.name_en if locale == "en" and self.name_en else self.name


class User(Base):
    """A person with an account: belongs to a comune, or to CMTo (``comune_id`` is None)."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        Enum(
            Role,
            name="user_role",
            native_enum=False,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    comune_id: Mapped[int | None] = mapped_column(ForeignKey("comune.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on password change, deactivation and role change: sessions that
    # carry an older value are no longer valid.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    comune: Mapped[Comune | None] = relationship(lazy="joined")

    @property
    def zone_id(self) -> int | None:
        return self.comune.zone_id if self.comune is not None else None


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
    __table_args__ = (Index("ix_post_thread_created", "thread_id", "id"),)

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


class AuditLog(Base):
    """Who did what to which object, and when. Append-only."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship(lazy="joined")


class LoginAttempt(Base):
    """A failed login, kept for throttling per account and per IP across workers."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_email_at", "email", "at"),
        Index("ix_login_attempt_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TopicSeq(Base):
    """The last sequence number given out on a topic's event log.

    Incremented in the writing transaction: the row lock serializes writers of
    one topic, so a topic's sequence numbers are contiguous and in commit order.
    """

    __tablename__ = "topic_seq"

    topic: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer)


class EventLog(Base):
    """A durable event: (topic, seq) identifies it; clients resume from a seq."""

    __tablename__ = "event_log"
    __table_args__ = (UniqueConstraint("topic", "seq", name="uq_event_log_topic_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


# -- Meetings (issue 4) ---------------------------------------------------------


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


# The models of the feature packages live next to their code; importing them
# here puts their tables on ``Base.metadata`` wherever the schema is needed.
from collab.consultations import models as _consultations  # noqa: E402, F401
from collab.documents import models as _documents  # noqa: E402, F401
from collab.legal import models as _legal  # noqa: E402, F401
