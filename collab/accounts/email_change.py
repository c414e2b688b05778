"""Changing one's e-mail address, confirmed from the new address.

The person asks with their current password; a link goes to the new address
(single use, valid :data:`VALID_FOR`, only its SHA-256 stored) and a notice to
the old one. The account keeps its old address until the link is followed;
confirming sets the new address, clears a bounce mark, and voids the
account's other pending changes. A new request voids the earlier ones too:
only the latest link works. At most :data:`PER_ACCOUNT` requests an hour.
Domain code: no Starlette here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from collab.accounts.actions import EMAIL_RE, normalize_email
from collab.accounts.models import EmailChange
from collab.accounts.passwords import verify_password
from collab.audit import audit
from collab.db import UnitOfWork
from collab.errors import ActionError, Conflict, NotFound, Throttled
from collab.i18n import N_
from collab.models import User, utcnow
from collab.realtime.events import UserChanged
from collab.tokens import digest, new_token, well_formed

__all__ = [
    "PER_ACCOUNT",
    "VALID_FOR",
    "EmailChangeRequest",
    "check_email_change",
    "check_email_token",
    "do_confirm_email_change",
    "do_request_email_change",
]

VALID_FOR = timedelta(hours=24)
PER_ACCOUNT = 3  # requests per account per hour: each sends two messages

INVALID_LINK = NotFound(
    N_(
        "This link is not valid any more: it was used, replaced by a newer one, "
        "or a day has passed. Ask for the change again."
    )
)
ADDRESS_TAKEN = N_("Another account uses this address.")


@dataclass(frozen=True)
class EmailChangeRequest:
    """What to send: the link to the new address, a notice to the old one."""

    user: User
    old_email: str
    new_email: str
    token: str


async def check_email_change(
    session: AsyncSession, user: User, new_email: str, password: str
) -> str:
    """The normalized new address, or an :class:`ActionError` saying what is wrong."""
    if not await verify_password(user.password_hash, password):
        raise ActionError(N_("The current password is not correct."), field="password")
    email = normalize_email(new_email)
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise ActionError(N_("Enter a valid email address."), field="email")
    if email == user.email:
        raise ActionError(N_("This is already the address of your account."), field="email")
    if await session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ActionError(ADDRESS_TAKEN, field="email")
    since = utcnow() - timedelta(hours=1)
    recent = await session.scalar(
        select(func.count()).where(EmailChange.user_id == user.id, EmailChange.created_at >= since)
    )
    if (recent or 0) >= PER_ACCOUNT:
        raise Throttled(
            N_("You asked for this too many times. Wait %(minutes)d min and try again."),
            minutes=60,
        )
    return email


async def do_request_email_change(
    uow: UnitOfWork, user: User, new_email: str, password: str
) -> EmailChangeRequest:
    """A new confirmation link for ``user`` (this transaction's copy); earlier ones stop working."""
    session = uow.session
    email = await check_email_change(session, user, new_email, password)
    now = utcnow()
    await _void_pending(session, user.id, now)
    token = new_token()
    session.add(
        EmailChange(
            user_id=user.id,
            new_email=email,
            token_hash=digest(token),
            created_at=now,
            expires_at=now + VALID_FOR,
        )
    )
    audit(session, user, "user.email_change_requested", user, new_email=email)
    return EmailChangeRequest(user, user.email, email, token)


async def check_email_token(session: AsyncSession, token: str) -> EmailChange:
    """The unused, unexpired change of ``token``, or :data:`INVALID_LINK` (404)."""
    if not well_formed(token):
        raise INVALID_LINK  # ours are URL-safe base64 (and PostgreSQL refuses NUL)
    change = await session.scalar(
        select(EmailChange).where(EmailChange.token_hash == digest(token))
    )
    if change is None or change.used_at is not None or change.expires_at <= utcnow():
        raise INVALID_LINK
    return change


async def do_confirm_email_change(uow: UnitOfWork, token: str) -> User:
    """Give the account its new address: the link proved the mailbox is theirs."""
    session = uow.session
    change = await check_email_token(session, token)
    user = await session.get(User, change.user_id)
    if user is None or not user.active:
        raise INVALID_LINK
    # Taken since the request (by an admin, or another change confirmed first).
    if await session.scalar(select(User.id).where(User.email == change.new_email)) is not None:
        raise Conflict(ADDRESS_TAKEN)
    old = user.email
    now = utcnow()
    try:
        # A savepoint: two confirmations of the same address at once meet the
        # unique constraint here, and the loser gets the message, not a 500.
        async with session.begin_nested():
            user.email = change.new_email
            user.email_bounced_at = None  # a new address: nothing refused it yet
            await session.flush()
    except IntegrityError:
        raise Conflict(ADDRESS_TAKEN) from None
    await _void_pending(session, user.id, now)
    uow.record(UserChanged(None, user.id))
    audit(session, user, "user.email_changed", user, before=old, after=user.email)
    return user


async def _void_pending(session: AsyncSession, user_id: int, now: datetime) -> None:
    await session.execute(
        update(EmailChange)
        .where(EmailChange.user_id == user_id, EmailChange.used_at.is_(None))
        .values(used_at=now)
    )
