"""Notifications, what each person wants of them, and what they follow.

Domain code: no Starlette here. A :class:`Notification` is written in the
transaction of the change that causes it (see :mod:`collab.notifications.actions`);
its ``mail_state`` says what e-mail it still owes, so the mailer
(:mod:`collab.notifications.mailer`) can turn it into an outbox message
later without ever losing or doubling one.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from collab.models import Base, User, UTCDateTime, utcnow

__all__ = [
    "FollowLevel",
    "MailState",
    "Mode",
    "Notification",
    "NotificationBatch",
    "NotificationSetting",
    "ThemeFollow",
    "ThreadFollow",
]


class Mode(enum.StrEnum):
    """How a person wants one kind of notification."""

    IMMEDIATELY = "immediately"  # the bell and an e-mail at once
    DIGEST = "digest"  # the bell, and a line in the daily digest
    APP = "app"  # the bell only
    NEVER = "never"  # nothing at all


class MailState(enum.StrEnum):
    """What e-mail a notification still owes."""

    NONE = "none"  # none (its mode is "app", or it is read before the digest)
    PENDING = "pending"  # one of its own, as soon as the mailer runs
    DIGEST = "digest"  # a line in the next daily digest
    QUEUED = "queued"  # done: its message (or the digest's) is in the outbox


def _enum(cls: type[enum.StrEnum], length: int) -> Enum:
    return Enum(
        cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


class Notification(Base):
    """Something happened that one person should know of."""

    __tablename__ = "notification"
    __table_args__ = (
        # One per person and thing (a reply that also mentions them is one).
        UniqueConstraint("user_id", "ref", name="uq_notification_user_id_ref"),
        Index("ix_notification_user_created", "user_id", "created_at"),
        Index("ix_notification_user_read", "user_id", "read_at"),
        Index("ix_notification_mail_state", "mail_state", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    #: A :class:`collab.notifications.kinds.Kind` value.
    kind: Mapped[str] = mapped_column(String(40))
    #: What it is about, unique per person: "post:12", "consultation:3:deadline:1".
    ref: Mapped[str] = mapped_column(String(80))
    #: Where a click lands (a path on this site, with its #anchor).
    url: Mapped[str] = mapped_column(String(500))
    #: The title of the thing (a thread, a meeting, a consultation).
    title: Mapped[str] = mapped_column(String(300))
    #: A few lines of what was said, plain text ("" when nothing).
    excerpt: Mapped[str] = mapped_column(Text, default="")
    #: Extra fields its kind's sentence needs (JSON-safe strings and numbers).
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id", ondelete="SET NULL"))
    theme_id: Mapped[int | None] = mapped_column(ForeignKey("theme.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    mail_state: Mapped[MailState] = mapped_column(_enum(MailState, 16), default=MailState.NONE)

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id], lazy="joined")


class NotificationBatch(Base):
    """One notification to many people, waiting to be written out.

    A change that notifies more than a few dozen people (a consultation for
    312 comuni) records this one row in its transaction instead of a row and
    an event per person: it commits with the change or not at all, and the
    fan-out (:mod:`collab.notifications.fanout`) writes the notifications
    right after, so the change's request does not wait for them.
    """

    __tablename__ = "notification_batch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    ref: Mapped[str] = mapped_column(String(80))
    url: Mapped[str] = mapped_column(String(500))
    title: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text, default="")
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Who to tell (user ids, the actor already left out).
    recipients: Mapped[list[int]] = mapped_column(JSON)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id", ondelete="SET NULL"))
    theme_id: Mapped[int | None] = mapped_column(ForeignKey("theme.id", ondelete="SET NULL"))
    #: A thread whose muters are left out (no foreign key: a thread deleted
    #: meanwhile leaves nobody muted).
    thread_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class NotificationSetting(Base):
    """A person's choice for one kind; without a row, the kind's default holds."""

    __tablename__ = "notification_setting"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    mode: Mapped[Mode] = mapped_column(_enum(Mode, 16))


class FollowLevel(enum.StrEnum):
    WATCHING = "watching"  # every reply notifies
    MUTED = "muted"  # nothing from this thread, not even mentions


class ThreadFollow(Base):
    """A person's explicit choice for a thread (without one: replies to a
    thread one started or replied to notify, others do not)."""

    __tablename__ = "thread_follow"
    __table_args__ = (Index("ix_thread_follow_thread_id", "thread_id"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    thread_id: Mapped[int] = mapped_column(
        ForeignKey("thread.id", ondelete="CASCADE"), primary_key=True
    )
    level: Mapped[FollowLevel] = mapped_column(_enum(FollowLevel, 16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ThemeFollow(Base):
    """A person follows a theme in one zone (new threads there notify), or
    with ``zone_id`` None the metropolitan threads and the forms library of
    that theme (new threads, new documents and versions)."""

    __tablename__ = "theme_follow"
    __table_args__ = (
        UniqueConstraint("user_id", "theme_id", "zone_id", name="uq_theme_follow_user_id"),
        Index("ix_theme_follow_theme_zone", "theme_id", "zone_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    theme_id: Mapped[int] = mapped_column(ForeignKey("theme.id", ondelete="CASCADE"))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
