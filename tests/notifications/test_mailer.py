"""The e-mail notifications owe: one at once, or in the daily digest; through a
real SMTP server (aiosmtpd) end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette

from collab.app import create_app
from collab.db import Database
from collab.mail.models import OutboxMail
from collab.models import User, utcnow
from collab.notifications import actions
from collab.notifications.kinds import Kind
from collab.notifications.mailer import NotificationMailer, digest_cutoff
from collab.notifications.models import MailState, Mode, Notification, NotificationSetting
from collab.settings import Settings
from tests.conftest import World
from tests.helpers import italian
from tests.smtp import SmtpServer


@pytest.fixture
def mailer(app: Starlette, db: Database) -> NotificationMailer:
    """The app's mailer, its task stopped (conftest.py): the tests drive it."""
    notices: NotificationMailer = app.state.services.notices
    return notices


async def _notify(
    db: Database, users: list[int], kind: Kind, ref: str, **extra: object
) -> list[int]:
    async with db.transaction() as uow:
        return await actions.notify(
            uow, users, kind, ref=ref, url=f"/threads/3?page=1#{ref}", title="Trasporto scolastico",
            text="Proposta per la **navetta**", **extra,  # type: ignore[arg-type]
        )  # fmt: skip


async def _outbox(db: Database) -> list[EmailMessage]:
    async with db.session() as session:
        rows = await session.scalars(select(OutboxMail).order_by(OutboxMail.id))
        found = []
        for row in rows:
            parsed = message_from_bytes(row.raw, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            found.append(parsed)
        return found


async def _states(db: Database) -> dict[int, MailState]:
    async with db.session() as session:
        rows = await session.execute(select(Notification.user_id, Notification.mail_state))
        return {uid: state for uid, state in rows}


def _text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


async def test_an_immediate_notification_is_queued_once_in_the_users_language(
    mailer: NotificationMailer, db: Database, world: World, settings: Settings
) -> None:
    mayor, tech = world["sindaco5"], world["tecnico5"]
    async with db.transaction() as uow:
        await uow.session.execute(update(User).where(User.id == tech.id).values(locale="en"))
    await _notify(db, [mayor.id, tech.id], Kind.MENTION, "post:9", actor_id=world["staff"].id)
    assert await mailer.send_pending() == 2
    assert await mailer.send_pending() == 0  # nothing is queued twice
    assert set((await _states(db)).values()) == {MailState.QUEUED}
    by_to = {str(m["To"]): m for m in await _outbox(db)}
    italian_mail, english_mail = by_to[mayor.email], by_to[tech.email]
    sentence = italian("%(actor)s mentioned you in %(title)s") % {
        "actor": world["staff"].name,
        "title": "Trasporto scolastico",
    }
    assert italian_mail["Subject"] == sentence
    assert english_mail["Subject"] == f"{world['staff'].name} mentioned you in Trasporto scolastico"
    text = _text(italian_mail)
    assert f"{settings.base_url}/threads/3?page=1#post:9" in text
    assert italian("Someone mentioned you in a post.") in text  # why it was sent
    assert "Proposta per la **navetta**" in text
    assert italian_mail.get_body(("html",)) is not None
    # One-click unsubscribe (RFC 8058), on our own address.
    assert str(italian_mail["List-Unsubscribe"]).startswith(f"<{settings.base_url}/unsubscribe/")
    assert italian_mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


async def test_no_mail_to_a_bounced_or_inactive_address(
    mailer: NotificationMailer, db: Database, world: World
) -> None:
    mayor, tech = world["sindaco5"], world["tecnico5"]
    await _notify(db, [mayor.id, tech.id], Kind.MENTION, "post:1")
    async with db.transaction() as uow:
        await uow.session.execute(
            update(User).where(User.id == mayor.id).values(email_bounced_at=utcnow())
        )
        await uow.session.execute(update(User).where(User.id == tech.id).values(active=False))
    assert await mailer.send_pending() == 2
    assert await _outbox(db) == []
    assert set((await _states(db)).values()) == {MailState.NONE}


def test_the_digest_cutoff_is_the_last_digest_time_in_rome() -> None:
    # 07:00 in Rome is 06:00 UTC in winter and 05:00 UTC in summer.
    winter = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    assert digest_cutoff(winter, "07:00") == datetime(2026, 12, 6, 6, 0, tzinfo=UTC)
    early = datetime(2026, 12, 6, 5, 59, tzinfo=UTC)
    assert digest_cutoff(early, "07:00") == datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
    summer = datetime(2026, 7, 1, 5, 0, tzinfo=UTC)
    assert digest_cutoff(summer, "07:00") == datetime(2026, 7, 1, 5, 0, tzinfo=UTC)
    assert digest_cutoff(winter, "00:00") == datetime(2026, 12, 5, 23, 0, tzinfo=UTC)


async def test_the_digest_groups_what_is_unread_and_skips_empty_ones(
    mailer: NotificationMailer, db: Database, world: World
) -> None:
    mayor, tech, staff = world["sindaco5"], world["tecnico5"], world["staff"]
    for n in range(3):
        await _notify(db, [mayor.id, tech.id], Kind.REPLY, f"post:{n}", actor_id=staff.id)
    async with db.session() as session:
        rows = list(await session.scalars(select(Notification).order_by(Notification.id)))
    assert {r.mail_state for r in rows} == {MailState.DIGEST}
    # The mayor read one, the technician all of theirs: no digest for them.
    async with db.transaction() as uow:
        await actions.do_mark_read(uow, mayor, rows[0].id)
        await actions.do_mark_all_read(uow, tech)
    now = utcnow()
    # Nothing before the cutoff yet: nothing goes.
    yesterday = now - timedelta(days=1)
    assert await mailer.send_digests(digest_cutoff(yesterday, "07:00") + timedelta(minutes=1)) == 0
    assert await mailer.send_digests(now + timedelta(days=1)) == 1
    (digest,) = await _outbox(db)
    assert digest["To"] == mayor.email
    text = _text(digest)
    assert text.count("Trasporto scolastico") == 2
    assert italian("Metropolitan") in text
    # Sent once.
    assert await mailer.send_digests(now + timedelta(days=2)) == 0
    async with db.session() as session:
        states = set(await session.scalars(select(Notification.mail_state)))
    assert states <= {MailState.QUEUED, MailState.NONE}


async def test_unsubscribed_kinds_are_not_mailed(
    mailer: NotificationMailer, db: Database, world: World
) -> None:
    mayor = world["sindaco5"]
    async with db.transaction() as uow:
        uow.session.add(NotificationSetting(user_id=mayor.id, kind="mention", mode=Mode.APP))
    await _notify(db, [mayor.id], Kind.MENTION, "post:1")
    assert await _states(db) == {mayor.id: MailState.NONE}
    assert await mailer.send_pending() == 0


@pytest.fixture
async def smtp_app(settings: Settings, smtp_server: SmtpServer) -> AsyncIterator[Starlette]:
    application = create_app(replace(settings, smtp_url=smtp_server.url))
    async with application.router.lifespan_context(application):
        yield application


async def test_a_mention_reaches_the_inbox_once_without_waiting_for_a_poll(
    smtp_app: Starlette, smtp_server: SmtpServer
) -> None:
    from collab.accounts.actions import do_create_user
    from tests.helpers import PASSWORD

    db: Database = smtp_app.state.services.db
    async with db.transaction() as uow:
        user = await do_create_user(
            uow, None, email="staff@test.collab.it", name="Staff", role="staff",
            password=PASSWORD, comune_istat=None,
        )  # fmt: skip
    await _notify(db, [user.id], Kind.MENTION, "post:5")
    (message,) = await smtp_server.wait_for(1, to="staff@test.collab.it", within=5)
    assert "Trasporto scolastico" in str(message["Subject"])
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
