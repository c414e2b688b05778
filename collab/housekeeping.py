"""Housekeeping: what grows without end unless someone sweeps it.

- the event log (:mod:`collab.realtime.log`): events older than
  ``EVENT_LOG_DAYS`` are deleted. A page that was away longer than that gets
  a reset frame on reconnect and reloads its live regions; the topics' last
  seqs are kept, so numbering never restarts;
- login attempts older than ``LOGIN_ATTEMPT_KEEP_DAYS`` (the admins' page
  shows them; the throttle counts a shorter window, ``LOGIN_THROTTLE_WINDOW``);
- sessions past their sliding expiry (:func:`collab.sessions.do_prune`):
  they let nobody in any more, the row only takes room;
- read notifications older than ``NOTIFICATION_KEEP_DAYS`` (unread ones stay
  until read);
- stored file contents no ``Blob`` row names (their transaction failed after
  the bytes were kept) and stale partial uploads, once older than a day
  (:meth:`collab.documents.store.FileStore.sweep_orphans`).

Every worker process runs :func:`sweep_forever` (started in the app's
lifespan); deleting twice what is already gone is harmless, so several
workers need no coordination. ``collab sweep`` runs one pass, for a cron job.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio.to_thread
from sqlalchemy import delete, select

from collab import sessions
from collab.cancelling import checkpoint
from collab.db import Database
from collab.documents.models import Blob
from collab.documents.store import FileStore
from collab.models import LoginAttempt, utcnow
from collab.notifications.actions import do_prune
from collab.realtime import log as event_log
from collab.settings import Settings

__all__ = ["INTERVAL", "Swept", "sweep", "sweep_forever"]

logger = logging.getLogger(__name__)
INTERVAL = 3600.0  # seconds between passes, jittered so workers do not sweep together


@dataclass(frozen=True)
class Swept:
    events: int
    login_attempts: int
    files: int = 0
    notifications: int = 0
    sessions: int = 0


async def sweep(database: Database, settings: Settings, now: datetime | None = None) -> Swept:
    """One pass: delete what is past its retention; returns how much went."""
    now = now or utcnow()
    async with database.transaction(long=True) as uow:  # maybe thousands of rows
        events = await event_log.prune(uow.session, now - timedelta(days=settings.event_log_days))
        result = await uow.session.execute(
            delete(LoginAttempt).where(
                LoginAttempt.at
                < now
                - max(
                    timedelta(days=settings.login_attempt_keep_days),
                    timedelta(seconds=settings.login_throttle_window),
                )
            )
        )
        notifications = await do_prune(uow, settings.notification_keep_days, now)
        ended = await sessions.do_prune(uow, settings.session_max_age, now)
    async with database.session() as session:
        known = set(await session.scalars(select(Blob.sha256)))
    store = FileStore(settings.files_dir)
    files = await anyio.to_thread.run_sync(store.sweep_orphans, known, now.timestamp())
    return Swept(events, int(getattr(result, "rowcount", 0) or 0), files, notifications, ended)


async def sweep_forever(database: Database, settings: Settings, interval: float = INTERVAL) -> None:
    """Sweep every ``interval`` (+-25%) until cancelled; failures are logged.

    The first pass waits too: a restart (or a test's app) writes nothing at once.
    """
    while True:
        checkpoint()  # collab.cancelling
        await asyncio.sleep(interval * random.uniform(0.75, 1.25))  # noqa: S311 (jitter)
        try:
            swept = await sweep(database, settings)
            if any(dataclasses.astuple(swept)):
                logger.info(
                    "swept %d events, %d login attempts, %d files, %d notifications "
                    "and %d sessions",
                    swept.events, swept.login_attempts, swept.files, swept.notifications,
                    swept.sessions,
                )  # fmt: skip
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("housekeeping sweep failed; trying again later", exc_info=True)
