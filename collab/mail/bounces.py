"""Addresses that bounce: an SMTP server refused them for good (5xx to RCPT,
or after DATA).

The outbox marks every account with the refused address
(``User.email_bounced_at``) in the transaction that records the bounce
(:func:`collab.mail.outbox.mark_failed`). Code that sends a *notice* asks
:func:`deliverable` first and queues nothing for a marked account; what the
person asked for themselves (a password reset link, the confirmation of a
new address) is still sent, because they may have fixed their mailbox. The
mark goes when the address changes (:mod:`collab.accounts.email_change`) or
when an administrator clears it (:func:`do_clear_bounce`). Domain code: no
Starlette here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from collab.audit import audit
from collab.db import UnitOfWork
from collab.errors import Conflict, NotFound, PermissionDenied
from collab.i18n import N_
from collab.models import User, utcnow
from collab.permissions import Action, can

__all__ = ["deliverable", "do_clear_bounce", "mark_bounced"]


def deliverable(user: User) -> bool:
    """Whether a notice may be queued for ``user``: active, address not refused."""
    return user.active and user.email_bounced_at is None


async def mark_bounced(session: AsyncSession, address: str, at: datetime | None = None) -> int:
    """Mark the accounts of ``address`` as bounced (the first refusal's time
    stays); how many were newly marked."""
    result = await session.execute(
        update(User)
        .where(User.email == address.strip().lower(), User.email_bounced_at.is_(None))
        .values(email_bounced_at=at or utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def do_clear_bounce(uow: UnitOfWork, actor: User, user_id: int) -> User:
    """An administrator says the address works again (the mailbox was fixed)."""
    if not can(actor, Action.MANAGE):
        raise PermissionDenied(N_("Only administrators can manage users."))
    user = await uow.session.get(User, user_id)
    if user is None:
        raise NotFound(N_("This user does not exist."))
    if user.email_bounced_at is None:
        raise Conflict(N_("Mail to this address is not marked as refused."))
    bounced_at = user.email_bounced_at
    user.email_bounced_at = None
    audit(
        uow.session, actor, "user.email_bounce_cleared", user,
        email=user.email, bounced_at=bounced_at.isoformat(),
    )  # fmt: skip
    return user
