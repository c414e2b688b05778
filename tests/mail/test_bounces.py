"""Addresses refused for good: a real SMTP server (aiosmtpd) answers 5xx for
one recipient; the message is bounced, the account marked in the same
transaction, admins see it and can clear it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from collab.db import Database
from collab.mail.bounces import deliverable
from collab.mail.compose import Draft
from collab.mail.models import MailStatus, OutboxMail
from collab.mail.outbox import queue
from collab.mail.sender import MailSender
from collab.mail.transport import SmtpTransport
from collab.models import AuditLog, User
from tests.conftest import World, email
from tests.helpers import Client, parse, snapshot
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


async def _send_to(db: Database, smtp: SmtpServer, *keys: str) -> list[OutboxMail]:
    async with db.transaction() as uow:
        for key in keys:
            draft = Draft(to=email(key), subject=f"Avviso per {key}", text="Testo", kind="test")
            queue(uow.session, draft, sender=SENDER, base_url=BASE)
    await MailSender(db, SmtpTransport(smtp.url, SENDER), max_attempts=3).send_due()
    async with db.session() as session:
        return list(await session.scalars(select(OutboxMail).order_by(OutboxMail.id)))


async def _user(db: Database, key: str) -> User:
    async with db.session() as session:
        user = await session.scalar(select(User).where(User.email == email(key)))
    assert user is not None
    return user


async def test_a_refused_recipient_bounces_and_its_account_is_marked(
    world: World, db: Database, smtp_server: SmtpServer
) -> None:
    smtp_server.refuse[email("sindaco5")] = "550 5.1.1 No such user"
    refused, delivered = await _send_to(db, smtp_server, "sindaco5", "tecnico5")
    assert refused.status is MailStatus.BOUNCED and "550" in (refused.last_error or "")
    assert delivered.status is MailStatus.SENT
    await smtp_server.wait_for(1, to=email("tecnico5"))
    mayor, tech = await _user(db, "sindaco5"), await _user(db, "tecnico5")
    assert mayor.email_bounced_at is not None and not deliverable(mayor)
    assert tech.email_bounced_at is None and deliverable(tech)


async def test_a_refusal_after_data_marks_the_address_too(
    world: World, db: Database, smtp_server: SmtpServer
) -> None:
    smtp_server.refuse_data[email("tecnico9")] = "554 5.7.1 Message rejected"
    (row,) = await _send_to(db, smtp_server, "tecnico9")
    assert row.status is MailStatus.BOUNCED
    assert (await _user(db, "tecnico9")).email_bounced_at is not None


async def test_a_temporary_refusal_marks_nobody(
    world: World, db: Database, smtp_server: SmtpServer
) -> None:
    smtp_server.refuse[email("sindaco9")] = "452 4.2.2 Mailbox full"
    (row,) = await _send_to(db, smtp_server, "sindaco9")
    assert row.status is MailStatus.QUEUED
    assert deliverable(await _user(db, "sindaco9"))


async def test_an_inactive_account_is_not_deliverable(world: World, db: Database) -> None:
    async with db.transaction() as uow:
        user = await uow.session.get(User, world["tecnico5"].id)
        assert user is not None
        user.active = False
    assert not deliverable(await _user(db, "tecnico5"))


async def test_admins_see_refused_addresses_and_clear_the_mark(
    world: World,
    db: Database,
    smtp_server: SmtpServer,
    login_as: Callable[[str], Awaitable[Client]],
) -> None:
    smtp_server.refuse[email("sindaco5")] = "550 5.1.1 No such user"
    await _send_to(db, smtp_server, "sindaco5")
    mayor_id = world["sindaco5"].id
    admin = await login_as("admin")

    listing = parse(await admin.get("/admin/users"))
    marked = [
        row.select("td")[1].get_text(strip=True)
        for row in listing.select("[data-testid=users] tbody tr")
        if row.select_one("[data-testid=bounced]")
    ]
    assert marked == [email("sindaco5")]
    outbox = parse(await admin.get("/admin/mail"))
    cells = [td.get_text(strip=True) for td in outbox.select("[data-testid=bounced-addresses] td")]
    assert email("sindaco5") in cells
    page = parse(await admin.get(f"/admin/users/{mayor_id}"))
    assert page.select_one("[data-testid=bounced-note]") is not None
    form = page.select_one("[data-testid=bounced-note] form")
    assert form is not None and form["action"] == f"/admin/users/{mayor_id}/bounce/clear"

    done = await admin.post(f"/admin/users/{mayor_id}/bounce/clear")
    assert done.status_code == 303
    assert deliverable(await _user(db, "sindaco5"))
    page = parse(await admin.get(f"/admin/users/{mayor_id}"))
    assert page.select_one("[data-testid=bounced-note]") is None
    async with db.session() as session:
        logged = await session.scalar(
            select(AuditLog).where(AuditLog.action == "user.email_bounce_cleared")
        )
    assert logged is not None and logged.object_id == str(mayor_id)
    assert logged.actor_id == world["admin"].id
    # Cleared already: nothing to clear.
    before = await snapshot(db)
    again = await admin.post(f"/admin/users/{mayor_id}/bounce/clear")
    assert again.status_code == 409
    assert await snapshot(db) == before


async def test_only_admins_clear_the_mark(
    world: World,
    db: Database,
    smtp_server: SmtpServer,
    login_as: Callable[[str], Awaitable[Client]],
) -> None:
    smtp_server.refuse[email("sindaco5")] = "550 5.1.1 No such user"
    await _send_to(db, smtp_server, "sindaco5")
    staff, admin = await login_as("staff"), await login_as("admin")
    before = await snapshot(db)
    refused = await staff.post(f"/admin/users/{world['sindaco5'].id}/bounce/clear")
    assert refused.status_code == 403
    missing = await admin.post("/admin/users/999999/bounce/clear")
    assert missing.status_code == 404
    assert await snapshot(db) == before
