"""The extractor: one task per process reads the text of queued files after commit.

It claims due contents from ``file_text`` (:mod:`collab.search.queue`),
reads each in a child process bounded in time (:func:`collab.search.extract.extract`,
called from a worker thread so the event loop goes on) and records the
outcome; a read text re-indexes the items carrying it in the same
transaction. It looks at once when this process queued a content (the
:class:`~collab.search.tracking.TextQueued` mark of the commit, through
:func:`wake_after_commit`), otherwise every :data:`POLL` seconds, which is
also how it picks up what another process queued or what was pending when
the app last stopped.

Failure is a path: a broken or encrypted file is skipped and logged once, a
time-out is retried later (:func:`collab.search.queue.backoff`) a few times,
and nothing one file does stops the task.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import anyio.to_thread

from collab.cancelling import checkpoint
from collab.db import Database
from collab.search import extract as extraction
from collab.search.queue import FAILED, Claimed, claim_due, finish
from collab.search.tracking import TextQueued
from collab.worker import Worker

__all__ = ["POLL", "TextExtractor", "wake_after_commit"]

logger = logging.getLogger(__name__)
#: Seconds between two looks at the queue when nothing woke the extractor.
POLL = 10.0
# Contents claimed at once: each is read in turn, well within the claim.
BATCH = 4

Extract = Callable[[Path, str], str]


class TextExtractor(Worker):
    """Reads queued files' text; ``files`` is the file store's root."""

    name = "text-extractor"

    def __init__(
        self,
        database: Database,
        files: Path,
        *,
        poll: float = POLL,
        extract: Extract = extraction.extract,
    ) -> None:
        super().__init__(poll)
        self.database = database
        self.files = files
        self.extract = extract
        self.read = 0  # contents this process read (tests)

    async def run_pass(self) -> None:
        while not self.stopping and await self.extract_due():
            checkpoint()

    async def extract_due(self) -> int:
        """Read one batch of due contents; how many were claimed."""
        batch = await claim_due(self.database, BATCH)
        for claimed in batch:
            if self.stopping:
                break  # the claims run out and another pass takes them
            await self._one(claimed)
        return len(batch)

    async def _one(self, claimed: Claimed) -> None:
        path = self.files / claimed.sha256[:2] / claimed.sha256
        try:
            # Abandoned if the app stops meanwhile: the thread still kills
            # the child at its time limit, and the claim runs out.
            text = await anyio.to_thread.run_sync(
                self.extract, path, claimed.content_type, abandon_on_cancel=True
            )
        except extraction.Unreadable as exc:
            logger.warning("file %s (%s) skipped: %s", claimed.sha256, claimed.content_type, exc)
            await finish(self.database, claimed, error=str(exc), skip=True)
        except Exception as exc:  # a time-out, a lost child, a missing file: later
            state = await finish(self.database, claimed, error=f"{type(exc).__name__}: {exc}")
            log = logger.warning if state == FAILED else logger.info
            log("file %s: %s (%s)", claimed.sha256, exc, state)
        else:
            await finish(self.database, claimed, text=text)
            self.read += 1


def wake_after_commit(
    extractor: Worker, then: Callable[[Sequence[Any]], Awaitable[None]] | None = None
) -> Callable[[Sequence[Any]], Awaitable[None]]:
    """The database's after-commit hook: a commit that queued file contents
    wakes ``extractor``; ``then`` is the hook it goes before."""

    async def after_commit(events: Sequence[Any]) -> None:
        if any(isinstance(e, TextQueued) for e in events):
            extractor.wake()
        if then is not None:
            await then(events)

    return after_commit
