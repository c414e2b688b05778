"""The admin pages of the outbox: admins only; the text shown only with no
SMTP server (the demo's inbox); a failed message sent again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from sqlalchemy import select, update

from collab.db import Database
from collab.mail.compose import Draft
from collab.mail.models import MailStatus, OutboxMail
from collab.mail.outbox import queue
from tests.conftest import World
from tests.helpers import parse


async def _queued(db: Database, status: MailStatus = MailStatus.QUEUED) -> int:
    async with db.transaction() as uow:
        mail = queue(
            uow.session,
            Draft(
                to="sindaco@comune.example.it", subject="Convocazione <b>", text="Ordine del giorno"
            ),
            sender="collab <noreply@localhost>",
            base_url="http://127.0.0.1:8000",
        )
        await uow.session.flush()
        mail_id = mail.id
        await uow.session.execute(
            update(OutboxMail)
            .where(OutboxMail.id == mail_id)
            .values(status=status, attempts=3, last_error="450 busy")
        )
    return mail_id


async def test_only_admins_see_the_outbox(
    world: World, login_as: Callable[[str], Awaitable[object]], db: Database
) -> None:
    mail_id = await _queued(db)
    for role in ("staff", "sindaco5"):
        client = await login_as(role)
        for url in ("/admin/mail", f"/admin/mail/{mail_id}"):
            assert (await client.get(url)).status_code == 403  # type: ignore[attr-defined]
        response = await client.post(f"/admin/mail/{mail_id}/resend")  # type: ignore[attr-defined]
        assert response.status_code == 403


async def test_the_outbox_lists_messages_and_shows_one(
    world: World, login_as: Callable[[str], Awaitable[object]], db: Database
) -> None:
    mail_id = await _queued(db, MailStatus.FAILED)
    admin = await login_as("admin")
    page = await admin.get("/admin/mail")  # type: ignore[attr-defined]
    assert page.status_code == 200
    rows = parse(page).select("[data-testid=outbox] tbody tr")
    assert len(rows) == 1 and "Convocazione <b>" in rows[0].get_text()
    assert (await admin.get("/admin/mail?status=sent")).text.count("Nessun messaggio") == 1  # type: ignore[attr-defined]
    one = await admin.get(f"/admin/mail/{mail_id}")  # type: ignore[attr-defined]
    body = parse(one).select_one("[data-testid=body]")
    assert body is not None and "Ordine del giorno" in body.get_text()
    assert (await admin.get("/admin/mail/999999")).status_code == 404  # type: ignore[attr-defined]


async def test_with_an_smtp_server_the_text_is_not_shown(
    world: World, login_as: Callable[[str], Awaitable[object]], db: Database, app: object
) -> None:
    mail_id = await _queued(db, MailStatus.SENT)
    services = app.state.services  # type: ignore[attr-defined]
    services.settings = replace(services.settings, smtp_url="smtp://mail.example.it")
    admin = await login_as("admin")
    one = await admin.get(f"/admin/mail/{mail_id}")  # type: ignore[attr-defined]
    assert one.status_code == 200
    assert parse(one).select_one("[data-testid=body]") is None
    assert "Ordine del giorno" not in one.text


async def test_a_failed_message_is_sent_again(
    world: World, login_as: Callable[[str], Awaitable[object]], db: Database
) -> None:
    mail_id = await _queued(db, MailStatus.FAILED)
    admin = await login_as("admin")
    response = await admin.post(f"/admin/mail/{mail_id}/resend")  # type: ignore[attr-defined]
    assert response.status_code == 303
    async with db.session() as session:
        row = await session.get(OutboxMail, mail_id)
    assert row is not None and row.last_error is None
    # Queued again from zero attempts, or already sent by the app's sender (its
    # one attempt counted): the sender may be quicker than this read.
    assert (row.status, row.attempts) in ((MailStatus.QUEUED, 0), (MailStatus.SENT, 1))
    again = await admin.post(f"/admin/mail/{mail_id}/resend")  # type: ignore[attr-defined]
    assert again.status_code == 409  # not failed any more
    async with db.session() as session:
        actions = list(await session.scalars(select(OutboxMail.id)))
    assert actions == [mail_id]
