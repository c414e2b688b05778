"""The outbox against a real SMTP server (aiosmtpd): queued in the
transaction, sent once, retried through an outage, refused for good on 5xx,
claims that expire when a sender dies between claim and send."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette

from collab.db import Database
from collab.mail.compose import Attachment, Draft
from collab.mail.models import MailStatus, OutboxMail
from collab.mail.outbox import CLAIM_SECONDS, claim_due, queue, resend
from collab.mail.sender import MailSender
from collab.mail.transport import FileTransport, SmtpTransport
from collab.models import utcnow
from tests.smtp import SmtpServer

SENDER = "Collab <collab@example.it>"
BASE = "https://collab.example.it"


@pytest.fixture
async def db(app: Starlette) -> Database:
    """The app's database, its own sender stopped: these tests drive theirs."""
    services = app.state.services
    await services.mail.stop()
    database: Database = services.db
    return database


def draft(n: int, to: str = "sindaco@comune.example.it", **extra: object) -> Draft:
    return Draft(
        to=to,
        subject=f"Avviso {n}",
        text=f"Testo {n}: è così",
        html=f"<p>Testo {n}: è così</p>",
        kind="test",
        **extra,  # type: ignore[arg-type]
    )


async def _queue(db: Database, *drafts: Draft, fail: bool = False) -> None:
    async with db.transaction() as uow:
        for d in drafts:
            queue(uow.session, d, sender=SENDER, base_url=BASE)
        if fail:
            raise RuntimeError("the change failed")


async def _rows(db: Database) -> list[OutboxMail]:
    async with db.session() as session:
        return list(await session.scalars(select(OutboxMail).order_by(OutboxMail.id)))


async def _all_due(db: Database) -> None:
    """Skip the back-off: every waiting message is due now."""
    async with db.transaction() as uow:
        await uow.session.execute(update(OutboxMail).values(due_at=utcnow()))


def _sender(db: Database, smtp: SmtpServer, max_attempts: int = 3) -> MailSender:
    return MailSender(db, SmtpTransport(smtp.url, SENDER), max_attempts=max_attempts)


async def test_a_message_is_queued_with_its_change_and_sent_once(
    db: Database, smtp_server: SmtpServer
) -> None:
    await _queue(db, draft(1, unsubscribe_url=f"{BASE}/u/abc"))
    with pytest.raises(RuntimeError):
        await _queue(db, draft(2), fail=True)  # rolled back: never sent
    sender = _sender(db, smtp_server)
    assert await sender.send_due() == 1
    assert await sender.send_due() == 0
    (message,) = await smtp_server.wait_for(1)
    (row,) = await _rows(db)
    assert row.status is MailStatus.SENT and row.attempts == 1 and row.sent_at is not None
    assert message["Message-ID"] == row.message_id
    assert message["Message-ID"].endswith("@collab.example.it>")
    assert message["Subject"] == "Avviso 1" and message["From"] == SENDER
    assert message["List-Unsubscribe"] == f"<{BASE}/u/abc>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_body(("plain",)).get_content().strip() == "Testo 1: è così"  # type: ignore[union-attr]
    assert "<p>Testo 1: è così</p>" in message.get_body(("html",)).get_content()  # type: ignore[union-attr]


async def test_an_attachment_keeps_its_type_and_parameters(
    db: Database, smtp_server: SmtpServer
) -> None:
    ics = b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"
    attachment = Attachment("riunione.ics", "text/calendar; method=REQUEST", ics)
    await _queue(db, draft(1, attachments=(attachment,)))
    await _sender(db, smtp_server).send_due()
    (message,) = await smtp_server.wait_for(1)
    (part,) = list(message.iter_attachments())
    assert part.get_filename() == "riunione.ics"
    assert part.get_content_type() == "text/calendar"
    assert part.get_param("method") == "REQUEST"
    assert part.get_content().replace("\r\n", "\n") == ics.decode().replace("\r\n", "\n")


async def test_an_smtp_outage_delays_messages_and_loses_none(
    db: Database, smtp_server: SmtpServer
) -> None:
    smtp_server.stop()
    await _queue(db, *(draft(n, to=f"u{n}@example.it") for n in range(12)))
    sender = _sender(db, smtp_server, max_attempts=5)
    assert await sender.send_due() == 12  # all tried, all failed
    rows = await _rows(db)
    assert {r.status for r in rows} == {MailStatus.QUEUED}
    assert all(r.attempts == 1 and r.last_error and r.due_at > utcnow() for r in rows)
    assert await sender.send_due() == 0  # backing off: not due yet
    smtp_server.start()  # the server is back
    await _all_due(db)
    assert await sender.send_due() == 12
    messages = await smtp_server.wait_for(12)
    ids = [m["Message-ID"] for m in messages]
    assert len(set(ids)) == 12 == len(ids)  # each once
    assert {r.status for r in await _rows(db)} == {MailStatus.SENT}
    assert {r.message_id for r in await _rows(db)} == set(ids)


async def test_a_permanent_refusal_is_not_retried_and_can_be_resent(
    db: Database, smtp_server: SmtpServer
) -> None:
    smtp_server.refuse["nessuno@example.it"] = "550 5.1.1 No such user"
    smtp_server.refuse["piena@example.it"] = "452 4.2.2 Mailbox full"
    await _queue(db, draft(1, to="nessuno@example.it"), draft(2, to="piena@example.it"))
    sender = _sender(db, smtp_server, max_attempts=2)
    await sender.send_due()
    bounced, full = await _rows(db)
    assert bounced.status is MailStatus.BOUNCED and "550" in (bounced.last_error or "")
    assert full.status is MailStatus.QUEUED and "452" in (full.last_error or "")
    await _all_due(db)
    await sender.send_due()
    bounced, full = await _rows(db)
    assert bounced.attempts == 1  # not tried again
    assert full.status is MailStatus.FAILED and full.attempts == 2  # out of attempts
    assert smtp_server.received == []
    # An admin fixes the cause and sends it again.
    del smtp_server.refuse["piena@example.it"]
    async with db.transaction() as uow:
        assert await resend(uow.session, full.id)
        assert not await resend(uow.session, full.id)  # queued now, not failed
    await sender.send_due()
    (message,) = await smtp_server.wait_for(1)
    assert message["To"] == "piena@example.it"


async def test_a_claim_that_is_never_sent_expires_and_the_message_goes_once(
    db: Database, smtp_server: SmtpServer
) -> None:
    await _queue(db, draft(1))
    # A sender claims the message, and its process dies before sending.
    (lost,) = await claim_due(db, 10)
    assert await claim_due(db, 10) == []  # nobody else takes it meanwhile
    later = utcnow() + timedelta(seconds=CLAIM_SECONDS + 1)
    (claimed,) = await claim_due(db, 10, now=later)
    assert claimed.id == lost.id and claimed.token != lost.token
    await _sender(db, smtp_server).send_due()  # held by the new claim: not sent twice
    assert smtp_server.received == []
    sender = _sender(db, smtp_server)
    await sender._send(claimed)
    (message,) = await smtp_server.wait_for(1)
    (row,) = await _rows(db)
    assert row.status is MailStatus.SENT and message["Message-ID"] == row.message_id


async def test_without_smtp_messages_are_written_as_files(db: Database, tmp_path: Path) -> None:
    await _queue(db, draft(1))
    sender = MailSender(db, FileTransport(tmp_path / "mail"), max_attempts=3)
    await sender.send_due()
    (path,) = (tmp_path / "mail").glob("*.eml")
    (row,) = await _rows(db)
    assert path.read_bytes() == row.raw and row.status is MailStatus.SENT
    assert not list((tmp_path / "mail").glob("*.part"))
