"""Password reset tokens and e-mail changes waiting for confirmation.

Domain code: no Starlette here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from collab.models import Base, UTCDateTime, utcnow

__all__ = ["EmailChange", "PasswordReset"]


class PasswordReset(Base):
    """A reset link sent by e-mail: single use, short-lived.

    Only the SHA-256 of the token is kept: a copy of the database opens no account.
    """

    __tablename__ = "password_reset"
    __table_args__ = (Index("ix_password_reset_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The client that asked (throttling per IP, the audit log).
    ip: Mapped[str] = mapped_column(String(64))


class EmailChange(Base):
    """A new address waiting to be confirmed by a link sent to it (single
    use, short-lived; only the token's SHA-256 is kept). The account keeps
    its old address until the link is followed."""

    __tablename__ = "email_change"
    __table_args__ = (Index("ix_email_change_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    new_email: Mapped[str] = mapped_column(String(254))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
