"""The outbox: one row per message, composed when queued and sent later.

The message is stored whole (RFC 5322 bytes, its ``Message-ID`` fixed at
queue time), so a retry sends exactly what was queued and a receiver can
tell a duplicate. Domain code: no Starlette here.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from collab.models import Base, UTCDateTime, utcnow

__all__ = ["MailStatus", "OutboxMail"]


class MailStatus(enum.StrEnum):
    QUEUED = "queued"  # waiting for its next attempt (or its first)
    SENT = "sent"  # accepted by the SMTP server (or written to the mail folder)
    FAILED = "failed"  # temporary failures until the attempts ran out: an admin may resend
    BOUNCED = "bounced"  # refused for good (5xx): not retried


class OutboxMail(Base):
    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(255))
    #: Why it was sent, for the admin page ("password_reset", ...).
    kind: Mapped[str] = mapped_column(String(40))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[MailStatus] = mapped_column(
        Enum(MailStatus, native_enum=False, length=16), default=MailStatus.QUEUED
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: When the next attempt may start.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: A sender holds the message until then; after, another may take it
    #: (its process died between claim and send).
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claim: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
