"""The core data model: zones, comuni, themes, users, the audit log and the event log.

Each feature keeps its own models next to its code (``collab/forums/models.py``,
``collab/meetings/models.py``, ...); :mod:`collab.schema` imports them all
for whatever needs the whole schema (migrations, mapper configuration).

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
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "AuditLog",
    "Base",
    "Comune",
    "EventLog",
    "LoginAttempt",
    "Role",
    "Theme",
    "TopicSeq",
    "User",
    "WebSession",
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
    # Resident population (ISTAT), for a double majority; None until imported.
    population: Mapped[int | None] = mapped_column(Integer)

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
    # Read by nothing since sessions live in ``web_session`` (revision 0012):
    # ending a session deletes its row. Kept so old code and data still load.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The secret of the user's calendar feed (/calendar/<token>.ics); None: no feed.
    calendar_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: The interface language chosen last ("it", "en"): what e-mail to them is written in.
    locale: Mapped[str] = mapped_column(String(8), default="it", server_default="it")
    #: When an SMTP server refused the address for good (5xx); None: deliverable.
    #: No more notices are sent to it until the address changes.
    email_bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    comune: Mapped[Comune | None] = relationship(lazy="joined")

    @property
    def zone_id(self) -> int | None:
        return self.comune.zone_id if self.comune is not None else None


class WebSession(Base):
    """A browser's session (:mod:`collab.sessions`): one row per login, and
    one per anonymous visitor who was given a CSRF token.

    The cookie carries a random token; ``id`` is its SHA-256, so a copy of
    the database resumes no session. Deleting the row ends the session, on
    every worker at once.
    """

    __tablename__ = "web_session"
    __table_args__ = (
        Index("ix_web_session_user_id", "user_id"),
        Index("ix_web_session_last_seen", "last_seen"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: None: an anonymous visitor's session (its CSRF token, a notice).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Updated at most every ``collab.sessions.TOUCH_EVERY``: expiry slides from it.
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    #: What ``request.session`` holds: the CSRF token, a notice for the next page.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


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
    """A login attempt: what the throttle counts, per account and client and
    per client, across workers (:mod:`collab.accounts.throttle`), and what
    admins read on /admin/logins.

    ``outcome`` is one of ``pending`` (being checked now; counts as a
    failure, so parallel guesses cannot outrun the throttle), ``ok``,
    ``wrong`` (wrong password, unknown or inactive account) and ``refused``
    (the client had to wait; the password was not checked).
    """

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_email_at", "email", "at"),
        Index("ix_login_attempt_ip_at", "ip", "at"),
        Index("ix_login_attempt_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    outcome: Mapped[str] = mapped_column(String(16), default="wrong", server_default="wrong")


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
