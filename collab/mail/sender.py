"""The sender: one task per process takes due messages from the outbox and
hands them to the transport.

It looks for work every ``poll`` seconds, and at once when this process
queued a message (:meth:`MailSender.wake`, called after the commit). Other
processes' messages wait at most one poll. A few messages go out at once
(one SMTP connection each), so hundreds of notices leave in seconds.
"""

from __future__ import annotations

import asyncio
import logging

from collab.cancelling import checkpoint
from collab.db import Database
from collab.mail.models import MailStatus
from collab.mail.outbox import CLAIM_SECONDS, Claimed, claim_due, mark_failed, mark_sent
from collab.mail.transport import PermanentFailure, Transport
from collab.worker import Worker

__all__ = ["MailSender"]

logger = logging.getLogger(__name__)
BATCH = 50
PARALLEL = 4


class MailSender(Worker):
    name = "mail-sender"

    def __init__(
        self,
        database: Database,
        transport: Transport,
        *,
        max_attempts: int,
        poll: float = 5.0,
        claim_seconds: int = CLAIM_SECONDS,
    ) -> None:
        super().__init__(poll)
        self.database = database
        self.transport = transport
        self.max_attempts = max_attempts
        self.claim_seconds = claim_seconds
        self._slots = asyncio.Semaphore(PARALLEL)
        self.sent = 0  # messages this process handed over (tests, benchmarks)

    async def run_pass(self) -> None:
        while not self.stopping and await self.send_due():
            checkpoint()

    async def send_due(self) -> int:
        """Send one batch of due messages; how many were claimed."""
        batch = await claim_due(self.database, BATCH, claim_seconds=self.claim_seconds)
        await asyncio.gather(*(self._send(claimed) for claimed in batch))
        return len(batch)

    async def _send(self, claimed: Claimed) -> None:
        async with self._slots:
            try:
                await self.transport.send(claimed.recipient, claimed.message_id, claimed.raw)
            except Exception as exc:  # a transport's bug counts as a temporary failure
                permanent = isinstance(exc, PermanentFailure)
                status = await mark_failed(
                    self.database,
                    claimed,
                    str(exc),
                    permanent=permanent,
                    max_attempts=self.max_attempts,
                    address_refused=isinstance(exc, PermanentFailure) and exc.address,
                )
                log = logger.warning if status is not MailStatus.QUEUED else logger.info
                log("mail %s to %s: %s (%s)", claimed.message_id, claimed.recipient, exc, status)
                return
            await mark_sent(self.database, claimed)
            self.sent += 1
