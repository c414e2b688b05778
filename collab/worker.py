"""A task per process that works in passes: at once when woken, otherwise
every ``poll`` seconds (the mail sender, the notifications' mailer).

Stopping lets the pass in progress finish before the task ends: a pass
cancelled in the middle of a database write can be left waiting for a
connection that the app closes right after (SQLAlchemy closes a cancelled
checkout gracefully, through the driver's thread), and the process then
never exits. Only a pass still running after ``grace`` seconds is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from collab.cancelling import checkpoint

__all__ = ["STOP_GRACE", "Worker"]

logger = logging.getLogger(__name__)
STOP_GRACE = 10.0  # seconds a pass may take to finish at shutdown (SMTP times out at 30)


class Worker:
    """Subclasses implement :meth:`run_pass`; it may check :attr:`stopping`
    between pieces of work to end a long pass early."""

    name = "worker"

    def __init__(self, poll: float, settle: float = 0.0) -> None:
        self.poll = poll
        # Woken, wait this long first: work that came together is done in
        # one pass, after what is more urgent (the mailer lets the bells go).
        self.settle = settle
        self.stopping = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.stopping = False
        self._task = asyncio.create_task(self._run(), name=self.name)

    def wake(self) -> None:
        """There is work: look now rather than at the next poll."""
        self._wake.set()

    async def stop(self, grace: float = STOP_GRACE) -> None:
        task = self._task
        if task is None:
            return
        self.stopping = True
        self._wake.set()
        _, pending = await asyncio.wait({task}, timeout=grace)
        if pending:
            logger.warning("%s still busy after %.0f s: cancelled", self.name, grace)
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._task = None

    async def run_pass(self) -> None:
        raise NotImplementedError

    async def _run(self) -> None:
        while not self.stopping:
            checkpoint()  # collab.cancelling
            try:
                await self.run_pass()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("%s pass failed; retrying", self.name, exc_info=True)
            if self.stopping:
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll):
                    await self._wake.wait()
                if self.settle and not self.stopping:
                    await asyncio.sleep(self.settle)
            self._wake.clear()
