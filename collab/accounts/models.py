"""Password reset tokens. Domain code: no Starlette here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from collab.models import Base, UTCDateTime, utcnow

__all__ = ["PasswordReset"]


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
