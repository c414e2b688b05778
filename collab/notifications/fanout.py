"""Write out notifications that wait in a batch, right after their commit.

Domain code: no Starlette here. :func:`collab.notifications.actions.notify`
puts a notification to many people in one
:class:`~collab.notifications.models.NotificationBatch` row of the change's
transaction. One :class:`NotificationFanout` per process (started in the
app's lifespan) is woken by the commit (:func:`wake_after_commit`) and
writes each batch's notifications and their events in one transaction that
also deletes the batch row:

- exactly once: two processes that take the same batch both delete it, and
  only one of them deletes a row (on PostgreSQL the other waits for the row
  lock, then finds it gone); the one that finds nothing rolls back;
- never lost: a batch stays until its rows are written; a process that dies
  before leaves it to the next pass of any process (every ``POLL`` seconds);
- in order: the oldest batch first, so the notifications of one change keep
  the order they were asked in (mentions before replies).

A batch that fails (a bug, not an outage) is logged and left for
``RETRY_AFTER`` seconds in this process, so the ones behind it go on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import delete, select

from collab.cancelling import checkpoint
from collab.db import Database, UnitOfWork
from collab.notifications.actions import BatchQueued, MailOwed, write_notifications
from collab.notifications.kinds import Kind
from collab.notifications.models import NotificationBatch
from collab.worker import Worker

__all__ = ["POLL", "RETRY_AFTER", "NotificationFanout", "expand", "wake_after_commit"]

logger = logging.getLogger(__name__)
POLL = 10.0  # seconds between looks for batches another process left behind
RETRY_AFTER = 60.0  # seconds before this process tries a failed batch again
_COLUMNS = (
    NotificationBatch.kind,
    NotificationBatch.ref,
    NotificationBatch.url,
    NotificationBatch.title,
    NotificationBatch.text,
    NotificationBatch.params,
    NotificationBatch.recipients,
    NotificationBatch.actor_id,
    NotificationBatch.zone_id,
    NotificationBatch.theme_id,
    NotificationBatch.thread_id,
)


async def expand(uow: UnitOfWork, batch_id: int) -> list[int] | None:
    """Write batch ``batch_id``'s notifications and delete it, in ``uow``; the
    ids notified, or None when another process took it first."""
    row = (
        await uow.session.execute(
            delete(NotificationBatch).where(NotificationBatch.id == batch_id).returning(*_COLUMNS)
        )
    ).first()
    if row is None:
        return None
    kind, ref, url, title, text, params, recipients, actor, zone, theme, thread = row
    try:
        known = Kind(kind)
    except ValueError:  # from a newer release during a rolling upgrade: drop it, loudly
        logger.error("notification batch %d: unknown kind %r, dropped", batch_id, kind)
        return []
    return await write_notifications(
        uow, {int(uid) for uid in recipients}, known, ref=ref, url=url, title=title, text=text,
        actor_id=actor, zone_id=zone, theme_id=theme, thread_id=thread, params=params,
    )  # fmt: skip


class NotificationFanout(Worker):
    """One per process: writes out the batches, oldest first."""

    name = "notification-fanout"

    def __init__(self, database: Database, *, poll: float = POLL) -> None:
        super().__init__(poll)
        self.database = database
        self._failed: dict[int, float] = {}  # batch id -> loop time it failed at

    async def run_pass(self) -> None:
        while not self.stopping and await self.expand_next():
            checkpoint()

    async def expand_next(self) -> bool:
        """Write out the oldest batch this process may try; False when none is left."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._failed = {k: t for k, t in self._failed.items() if now - t < RETRY_AFTER}
        query = select(NotificationBatch.id).order_by(NotificationBatch.id).limit(1)
        if self._failed:
            query = query.where(NotificationBatch.id.not_in(list(self._failed)))
        async with self.database.session() as session:
            batch_id = await session.scalar(query)
        if batch_id is None:
            return False
        try:
            async with self.database.transaction() as uow:
                await expand(uow, batch_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            self._failed[batch_id] = loop.time()
            logger.exception("writing out notification batch %d failed; retried later", batch_id)
        return True


def wake_after_commit(
    fanout: NotificationFanout, mailer: Worker
) -> Callable[[Sequence[Any]], Awaitable[None]]:
    """The database's after-commit hook: a commit that queued a batch wakes
    this process's fan-out; one that created notifications owing an e-mail
    at once, its mailer (other processes find either at their next poll).
    A pass of the mailer takes the write turn on SQLite: a reply that only
    rang the bell does not cost every other writer one."""

    async def after_commit(events: Sequence[Any]) -> None:
        if any(isinstance(e, BatchQueued) for e in events):
            fanout.wake()
        if any(isinstance(e, MailOwed) for e in events):
            mailer.wake()

    return after_commit
