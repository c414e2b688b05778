"""The outbox with real worker processes (uvicorn) and a real SMTP server
(aiosmtpd): a worker killed between claim and send, and an SMTP outage
while messages are queued. Each message is told apart by its Message-ID,
fixed at queue time, so a duplicate cannot hide.

The claim lasts ``MAIL_CLAIM_SECONDS`` (a few seconds here, two minutes by
default): after it, another process takes the message.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from collab.db import Database
from collab.mail.compose import Draft
from collab.mail.models import MailStatus, OutboxMail
from collab.mail.outbox import queue
from collab.mail.sender import PARALLEL
from collab.models import utcnow
from tests.servers import free_port, start_uvicorn, stop_process, wait_healthy
from tests.smtp import SmtpServer, _Handler

pytestmark = pytest.mark.slow

CLAIM = 4  # MAIL_CLAIM_SECONDS of these workers
COUNT = PARALLEL + 2  # more than a sender sends at once: some wait claimed, unsent
SENDER = "Collab <collab@example.it>"


class _StallingHandler(_Handler):
    server: StallingSmtp

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.content
        message_id = str(message_from_bytes(raw, policy=policy.default)["Message-ID"])
        if self.server.stalling:
            # The whole message is here; the answer never comes (until the
            # client goes away and aiosmtpd cancels this).
            self.server.stalled.append(message_id)
            await asyncio.sleep(3600)
        self.server.arrived.setdefault(message_id, []).append(utcnow())
        return await super().handle_DATA(server, session, envelope)


class StallingSmtp(SmtpServer):
    """An SMTP server that, while ``stalling``, takes each message and never answers."""

    def __init__(self) -> None:
        super().__init__()
        self.stalling = False
        self.stalled: list[str] = []
        self.arrived: dict[str, list[datetime]] = {}  # Message-ID -> when each copy came

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(_StallingHandler(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()


@pytest.fixture
def smtp() -> Iterator[StallingSmtp]:
    server = StallingSmtp()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The test's own connection to the database the workers use."""
    database = Database(database_url)
    yield database
    await database.dispose()


class Workers:
    """Start app workers on the test database, each sending to ``smtp``."""

    def __init__(self, database_url: str, smtp: SmtpServer, workdir: Path) -> None:
        self.env = {
            **os.environ,
            "COLLAB_ENV": "test",
            "DATA_DIR": str(workdir),
            "SECRET_KEY": "k" * 48,
            "DATABASE_URL": database_url,
            "REDIS_URL": "",
            "SMTP_URL": smtp.url,
            "MAIL_CLAIM_SECONDS": str(CLAIM),
        }
        self.workdir = workdir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str) -> subprocess.Popen[bytes]:
        port = free_port()
        log = self.workdir / f"uvicorn-{name}.log"
        env = {**self.env, "BASE_URL": f"http://127.0.0.1:{port}"}
        proc = start_uvicorn(port, env, log)
        self.procs.append(proc)
        wait_healthy(f"http://127.0.0.1:{port}", proc, log)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            stop_process(proc)


@pytest.fixture
def workers(database_url: str, smtp: StallingSmtp, tmp_path: Path) -> Iterator[Workers]:
    started = Workers(database_url, smtp, tmp_path)
    yield started
    started.stop()


async def _queue(db: Database, count: int, tag: str) -> set[str]:
    """Queue ``count`` messages; their Message-IDs."""
    async with db.transaction() as uow:
        mails = [
            queue(
                uow.session,
                Draft(to=f"{tag}{n}@example.it", subject=f"{tag} {n}", text=f"Testo {n}"),
                sender=SENDER,
                base_url="http://collab.example.it",
            )
            for n in range(count)
        ]
    return {mail.message_id for mail in mails}


async def _rows(db: Database) -> list[OutboxMail]:
    async with db.session() as session:
        return list(await session.scalars(select(OutboxMail).order_by(OutboxMail.id)))


async def _until(check: Any, what: str, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"not within {within}s: {what}"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
async def test_a_worker_stopped_between_claim_and_send_leaves_each_message_sent_once(
    db: Database, smtp: StallingSmtp, workers: Workers, sig: signal.Signals
) -> None:
    ids = await _queue(db, COUNT, "claimed")
    smtp.stalling = True
    first = workers.start("a")

    async def all_claimed() -> bool:
        rows = await _rows(db)
        return all(r.claim is not None for r in rows) and len(smtp.stalled) == PARALLEL

    await _until(all_claimed, "the worker claims every message and is stuck in DATA")
    os.kill(first.pid, sig)
    first.wait(timeout=15)
    rows = await _rows(db)
    # Nothing was marked: the process died (or was cancelled) mid-conversation.
    assert all(r.status is MailStatus.QUEUED and r.attempts == 0 for r in rows)
    claimed_until = max(r.claimed_until for r in rows if r.claimed_until is not None)
    assert smtp.received == []

    smtp.stalling = False
    workers.start("b")

    async def all_sent() -> bool:
        return {r.status for r in await _rows(db)} == {MailStatus.SENT}

    await _until(all_sent, "another worker sends them after the claim expired")
    assert smtp.arrived.keys() == ids
    assert all(len(copies) == 1 for copies in smtp.arrived.values()), smtp.arrived
    assert len(smtp.received) == COUNT
    # Not before the dead worker's claim ran out: no one sent them meanwhile.
    assert min(at for copies in smtp.arrived.values() for at in copies) >= claimed_until
    assert {r.attempts for r in await _rows(db)} == {1}


async def test_an_smtp_outage_while_messages_are_queued_loses_none(
    db: Database, smtp: StallingSmtp, workers: Workers
) -> None:
    workers.start("a")
    smtp.stop()
    ids = await _queue(db, COUNT, "outage")

    async def all_tried() -> bool:
        return all(r.attempts == 1 and r.last_error for r in await _rows(db))

    await _until(all_tried, "the worker tries each message once and fails")
    assert {r.status for r in await _rows(db)} == {MailStatus.QUEUED}
    smtp.start()  # the server is back
    async with db.transaction() as uow:  # skip the minute of back-off
        await uow.session.execute(update(OutboxMail).values(due_at=utcnow()))

    async def all_sent() -> bool:
        return {r.status for r in await _rows(db)} == {MailStatus.SENT}

    await _until(all_sent, "the worker sends them at its next look")
    assert smtp.arrived.keys() == ids
    assert all(len(copies) == 1 for copies in smtp.arrived.values()), smtp.arrived
    assert len(smtp.received) == COUNT
