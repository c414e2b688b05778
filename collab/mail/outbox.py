"""Queue a message in the caller's transaction; claim, finish and resend.

A message is queued with the change that causes it (a rollback drops it),
and a sender (:mod:`collab.mail.sender`) claims it: the claim is a row
update that only one process can win (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL; SQLite serializes writers), valid for :data:`CLAIM_SECONDS`.
A process killed between claim and send leaves a claim that expires, and
the message is sent by whoever claims it next (``MAIL_CLAIM_SECONDS`` sets
the duration). Temporary failures wait longer each time (:func:`backoff`)
until ``max_attempts``; a permanent refusal (5xx) is not retried, and when
it refused the recipient's address, the accounts with that address are
marked in the same transaction (:mod:`collab.mail.bounces`).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from collab.db import Database
from collab.mail.bounces import mark_bounced
from collab.mail.compose import Draft, compose
from collab.mail.models import MailStatus, OutboxMail
from collab.models import utcnow

__all__ = [
    "CLAIM_SECONDS",
    "Claimed",
    "backoff",
    "claim_due",
    "mark_failed",
    "mark_sent",
    "queue",
    "resend",
]

CLAIM_SECONDS = 120  # longer than an SMTP conversation may take (its timeout is 30 s)
ERROR_CHARS = 1000


def queue(session: AsyncSession, draft: Draft, *, sender: str, base_url: str) -> OutboxMail:
    """Add ``draft`` to the outbox in ``session``'s transaction."""
    message = compose(draft, sender, base_url)
    mail = OutboxMail(
        message_id=str(message["Message-ID"]),
        recipient=draft.to,
        subject=draft.subject[:255],
        kind=draft.kind,
        raw=message.as_bytes(),
        status=MailStatus.QUEUED,
        attempts=0,
        due_at=utcnow(),
    )
    session.add(mail)
    return mail


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failure: 1, 2, 4... minutes, at most 6 h."""
    return timedelta(minutes=min(2 ** (attempts - 1), 360))


class Claimed:
    """A message this process holds until ``until``."""

    def __init__(self, mail: OutboxMail, token: str) -> None:
        self.id = mail.id
        self.recipient = mail.recipient
        self.message_id = mail.message_id
        self.raw = mail.raw
        self.attempts = mail.attempts
        self.token = token


async def claim_due(
    database: Database,
    limit: int,
    now: datetime | None = None,
    *,
    claim_seconds: int = CLAIM_SECONDS,
) -> list[Claimed]:
    """Take up to ``limit`` messages that are due and held by no live claim,
    for ``claim_seconds`` (``MAIL_CLAIM_SECONDS``)."""
    now = now or utcnow()
    token = secrets.token_hex(16)
    async with database.transaction() as uow:
        session = uow.session
        free = (
            OutboxMail.status == MailStatus.QUEUED,
            OutboxMail.due_at <= now,
            or_(OutboxMail.claimed_until.is_(None), OutboxMail.claimed_until < now),
        )
        due = (
            select(OutboxMail.id)
            .where(*free)
            .order_by(OutboxMail.due_at, OutboxMail.id)
            .limit(limit)
        )
        if not database.url.startswith("sqlite"):
            due = due.with_for_update(skip_locked=True)
        ids = list(await session.scalars(due))
        if not ids:
            return []
        # The conditions again: whatever another process took meanwhile stays its own.
        await session.execute(
            update(OutboxMail)
            .where(OutboxMail.id.in_(ids), *free)
            .values(claim=token, claimed_until=now + timedelta(seconds=claim_seconds))
        )
        rows = await session.scalars(
            select(OutboxMail).where(OutboxMail.id.in_(ids), OutboxMail.claim == token)
        )
        return [Claimed(mail, token) for mail in rows]


async def mark_sent(database: Database, claimed: Claimed) -> None:
    async with database.transaction() as uow:
        await uow.session.execute(
            update(OutboxMail)
            .where(OutboxMail.id == claimed.id, OutboxMail.claim == claimed.token)
            .values(
                status=MailStatus.SENT,
                sent_at=utcnow(),
                attempts=claimed.attempts + 1,
                claim=None,
                claimed_until=None,
                last_error=None,
            )
        )


async def mark_failed(
    database: Database,
    claimed: Claimed,
    error: str,
    *,
    permanent: bool,
    max_attempts: int,
    address_refused: bool = False,
) -> MailStatus:
    """Record a failed attempt; the status the message is left in.

    ``address_refused`` (with ``permanent``): the server refused the
    recipient's address for good, and every account with it is marked
    bounced in the same transaction (:mod:`collab.mail.bounces`).
    """
    attempts = claimed.attempts + 1
    if permanent:
        status = MailStatus.BOUNCED
    elif attempts >= max_attempts:
        status = MailStatus.FAILED
    else:
        status = MailStatus.QUEUED
    async with database.transaction() as uow:
        result = await uow.session.execute(
            update(OutboxMail)
            .where(OutboxMail.id == claimed.id, OutboxMail.claim == claimed.token)
            .values(
                status=status,
                attempts=attempts,
                due_at=utcnow() + backoff(attempts),
                claim=None,
                claimed_until=None,
                last_error=error[:ERROR_CHARS],
            )
        )
        # Only while the claim was still ours: a lost claim's outcome is the new holder's.
        if permanent and address_refused and int(getattr(result, "rowcount", 0) or 0):
            await mark_bounced(uow.session, claimed.recipient)
    return status


async def resend(session: AsyncSession, mail_id: int) -> bool:
    """Queue a failed or bounced message again (an admin's button); False if it was not."""
    result = await session.execute(
        update(OutboxMail)
        .where(
            OutboxMail.id == mail_id,
            OutboxMail.status.in_([MailStatus.FAILED, MailStatus.BOUNCED]),
        )
        .values(status=MailStatus.QUEUED, attempts=0, due_at=utcnow(), last_error=None)
    )
    return bool(getattr(result, "rowcount", 0))
