"""Password reset by e-mail: a single-use link that expires in an hour.

Asking gives the same answer whether or not the address has an account;
only an active account gets a message, at most :data:`PER_ACCOUNT` per hour
(the others are dropped without a word, so the answer says nothing), and a
client may ask :data:`PER_IP` times an hour. Setting the new password uses
the link up, voids the account's other links and ends all its sessions.
Domain code: no Starlette here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from collab.accounts.models import PasswordReset
from collab.accounts.passwords import check_password_policy, hash_password
from collab.audit import audit
from collab.db import UnitOfWork
from collab.errors import ActionError, NotFound, Throttled
from collab.i18n import N_
from collab.models import User, utcnow
from collab.realtime.events import UserChanged
from collab.sessions import do_end_sessions
from collab.tokens import digest, new_token, well_formed

__all__ = [
    "PER_ACCOUNT",
    "PER_IP",
    "VALID_FOR",
    "ResetRequest",
    "check_reset_token",
    "do_request_reset",
    "do_reset_password",
]

VALID_FOR = timedelta(hours=1)
PER_ACCOUNT = 3  # messages per account per hour
PER_IP = 10  # requests that found an account, per client per hour

INVALID_LINK = NotFound(
    N_("This link is not valid any more: it was used, or an hour has passed. Ask for a new one.")
)


@dataclass(frozen=True)
class ResetRequest:
    """The link to send, and to whom (only when there is someone to send it to)."""

    user: User
    token: str


async def do_request_reset(uow: UnitOfWork, email: str, ip: str) -> ResetRequest | None:
    """A new link for the active account of ``email``; None when none is sent."""
    session = uow.session
    since = utcnow() - timedelta(hours=1)
    per_ip = await session.scalar(
        select(func.count()).where(PasswordReset.ip == ip, PasswordReset.created_at >= since)
    )
    if (per_ip or 0) >= PER_IP:
        raise Throttled(
            N_("Too many requests from this connection. Wait %(minutes)d min and try again."),
            minutes=60,
        )
    user = await session.scalar(select(User).where(User.email == email))
    if user is None or not user.active:
        return None
    per_account = await session.scalar(
        select(func.count()).where(
            PasswordReset.user_id == user.id, PasswordReset.created_at >= since
        )
    )
    if (per_account or 0) >= PER_ACCOUNT:
        return None  # the mailbox has enough links already; the answer stays the same
    token = new_token()
    now = utcnow()
    session.add(
        PasswordReset(
            user_id=user.id,
            token_hash=digest(token),
            created_at=now,
            expires_at=now + VALID_FOR,
            ip=ip[:64],
        )
    )
    audit(session, user, "user.password_reset_requested", user, ip=ip)
    return ResetRequest(user, token)


async def check_reset_token(session: AsyncSession, token: str) -> PasswordReset:
    """The unused, unexpired link of ``token``, or :data:`INVALID_LINK` (404)."""
    if not well_formed(token):
        raise INVALID_LINK  # ours are URL-safe base64 (and PostgreSQL refuses NUL)
    reset = await session.scalar(
        select(PasswordReset).where(PasswordReset.token_hash == digest(token))
    )
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        raise INVALID_LINK
    return reset


async def do_reset_password(uow: UnitOfWork, token: str, new: str, confirm: str) -> User:
    session = uow.session
    reset = await check_reset_token(session, token)
    user = await session.get(User, reset.user_id)
    if user is None or not user.active:
        raise INVALID_LINK
    check_password_policy(new, email=user.email, name=user.name, field="new")
    if new != confirm:
        raise ActionError(N_("The two new passwords do not match."), field="confirm")
    now = utcnow()
    # Used up, with every other link of the account.
    await session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    user.password_hash = await hash_password(new)
    uow.record(UserChanged(None, user.id))
    await do_end_sessions(uow, user.id)  # every session of the account ends, sockets too
    audit(session, user, "user.password_reset", user)
    return user
