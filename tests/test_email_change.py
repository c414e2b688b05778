"""Changing one's e-mail address, confirmed from the new address: the link
is read from the message a real SMTP server (aiosmtpd) received; every bad
input is refused in the page and changes nothing. And the language a
logged-in user chooses is kept on the account, for their e-mail."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette

from collab.accounts.email_change import PER_ACCOUNT
from collab.accounts.models import EmailChange
from collab.app import create_app
from collab.db import Database
from collab.mail.models import MailStatus, OutboxMail
from collab.models import AuditLog, User, utcnow
from collab.settings import Settings
from tests.conftest import World, email
from tests.helpers import PASSWORD, Client, capture_events, italian, parse, snapshot, text_of
from tests.smtp import SmtpServer

NEW = "nuovo.sindaco@comune.pinerolo.to.it"
LINK = re.compile(r"https?://\S+/account/email/confirm/([A-Za-z0-9_-]+)")


@pytest.fixture
async def app(settings: Settings, smtp_server: SmtpServer) -> AsyncIterator[Starlette]:
    """The app with a real SMTP server: mail leaves as it would in production."""
    application = create_app(replace(settings, smtp_url=smtp_server.url))
    async with application.router.lifespan_context(application):
        yield application


async def _ask(client: Client, new: str, password: str = PASSWORD) -> httpx.Response:
    await client.get("/account/email")
    return await client.post("/account/email", {"email": new, "password": password})


def _token(smtp: SmtpServer, to: str) -> str:
    body = smtp.messages(to)[-1].get_body(("plain",))
    assert body is not None
    match = LINK.search(body.get_content())
    assert match, body.get_content()
    return match.group(1)


async def _user(db: Database, user_id: int) -> User:
    async with db.session() as session:
        user = await session.get(User, user_id)
    assert user is not None
    return user


async def test_the_address_changes_when_the_link_to_it_is_followed(
    world: World,
    login_as: Callable[[str], Awaitable[Client]],
    new_client: Callable[..., Client],
    smtp_server: SmtpServer,
    db: Database,
) -> None:
    mayor = world["sindaco5"]
    async with db.transaction() as uow:  # the old address had bounced
        await uow.session.execute(
            update(User).where(User.id == mayor.id).values(email_bounced_at=utcnow())
        )
    client = await login_as("sindaco5")
    menu = parse(await client.get("/"))
    assert menu.select_one('#user-menu a[href="/account/email"]') is not None

    asked = await _ask(client, " Nuovo.Sindaco@Comune.Pinerolo.TO.it ")
    assert asked.status_code == 200
    assert NEW in text_of(asked, "[data-testid=email-sent]")
    (link,) = await smtp_server.wait_for(1, to=NEW)
    (notice,) = await smtp_server.wait_for(1, to=email("sindaco5"))
    assert link["Subject"] == italian("Confirm your new address for collab")
    assert notice["Subject"] == italian("Your collab address is being changed")
    assert "List-Unsubscribe" not in link
    notice_text = notice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert NEW in notice_text and "/account/email/confirm/" not in notice_text
    # Until the link is followed, nothing changed: the old address logs in.
    assert (await _user(db, mayor.id)).email == email("sindaco5")
    await new_client().login(email("sindaco5"))

    token = _token(smtp_server, NEW)
    stranger = new_client()  # the link may be opened anywhere: a phone, logged out
    page = await stranger.get(f"/account/email/confirm/{token}")
    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "same-origin"
    assert (await _user(db, mayor.id)).email == email("sindaco5")  # GET changes nothing
    button = parse(page).select_one("[data-testid=confirm-email]")
    assert button is not None
    async with capture_events(db) as events:
        done = await stranger.post(f"/account/email/confirm/{token}")
    assert done.status_code == 200
    assert done.headers["referrer-policy"] == "same-origin"
    assert NEW in text_of(done, "[data-testid=email-changed]")
    assert [(e.type, e.user_id) for e in events] == [("user.changed", mayor.id)]

    changed = await _user(db, mayor.id)
    assert changed.email == NEW and changed.email_bounced_at is None
    await new_client().login(NEW)
    old = await new_client().post("/login", {"email": email("sindaco5"), "password": PASSWORD})
    assert old.status_code == 422
    # The link is used up.
    assert (await stranger.get(f"/account/email/confirm/{token}")).status_code == 404
    assert (await stranger.post(f"/account/email/confirm/{token}")).status_code == 404
    async with db.session() as session:
        rows = list(await session.scalars(select(AuditLog).order_by(AuditLog.id)))
    logged = {row.action: row.detail for row in rows}
    assert logged["user.email_change_requested"] == {"new_email": NEW}
    assert logged["user.email_changed"] == {"before": email("sindaco5"), "after": NEW}
    async with db.session() as session:
        (change,) = list(await session.scalars(select(EmailChange)))
    assert change.token_hash != token and len(change.token_hash) == 64  # only the hash
    assert change.expires_at - change.created_at == timedelta(hours=24)


@pytest.mark.parametrize(
    ("new", "password", "field", "msgid"),
    [
        ("non-un-indirizzo", PASSWORD, "email", "Enter a valid email address."),
        ("", PASSWORD, "email", "Enter a valid email address."),
        ("a@b", PASSWORD, "email", "Enter a valid email address."),
        ("x" * 250 + "@b.it", PASSWORD, "email", "Enter a valid email address."),
        (email("sindaco5"), PASSWORD, "email", "This is already the address of your account."),
        (email("tecnico5"), PASSWORD, "email", "Another account uses this address."),
        (NEW, "sbagliata-davvero", "password", "The current password is not correct."),
    ],
)
async def test_bad_input_is_refused_in_the_page_and_changes_nothing(
    world: World,
    login_as: Callable[[str], Awaitable[Client]],
    db: Database,
    new: str,
    password: str,
    field: str,
    msgid: str,
) -> None:
    client = await login_as("sindaco5")
    await client.get("/account/email")
    before = await snapshot(db)
    response = await client.post("/account/email", {"email": new, "password": password})
    assert response.status_code == 422
    assert text_of(response, "[role=alert]") == italian(msgid)
    assert parse(response).select_one(f".is-invalid#{field}") is not None
    assert await snapshot(db) == before


async def test_requests_are_throttled_per_account(
    world: World, login_as: Callable[[str], Awaitable[Client]], db: Database, app: Starlette
) -> None:
    await app.state.services.mail.stop()  # the outbox rows stay as queued: comparable
    client = await login_as("tecnico9")
    for n in range(PER_ACCOUNT):
        assert (await _ask(client, f"nuovo{n}@example.it")).status_code == 200
    before = await snapshot(db)
    refused = await _ask(client, "ancora@example.it")
    assert refused.status_code == 429
    assert text_of(refused, "[role=alert]") == italian(
        "You asked for this too many times. Wait %(minutes)d min and try again.", minutes=60
    )
    assert await snapshot(db) == before


async def test_only_the_latest_link_works(
    world: World,
    login_as: Callable[[str], Awaitable[Client]],
    new_client: Callable[..., Client],
    smtp_server: SmtpServer,
    db: Database,
) -> None:
    client = await login_as("portavoce5")
    await _ask(client, "primo@example.it")
    await smtp_server.wait_for(1, to="primo@example.it")
    first = _token(smtp_server, "primo@example.it")
    await _ask(client, "secondo@example.it")
    await smtp_server.wait_for(1, to="secondo@example.it")
    second = _token(smtp_server, "secondo@example.it")
    stranger = new_client()
    assert (await stranger.get(f"/account/email/confirm/{first}")).status_code == 404
    assert (await stranger.get(f"/account/email/confirm/{second}")).status_code == 200
    assert (await stranger.post(f"/account/email/confirm/{second}")).status_code == 200
    assert (await _user(db, world["portavoce5"].id)).email == "secondo@example.it"


async def test_an_expired_link_changes_nothing(
    world: World,
    login_as: Callable[[str], Awaitable[Client]],
    new_client: Callable[..., Client],
    smtp_server: SmtpServer,
    db: Database,
) -> None:
    client = await login_as("staff")
    await _ask(client, "scaduto@example.it")
    await smtp_server.wait_for(1, to="scaduto@example.it")
    token = _token(smtp_server, "scaduto@example.it")
    async with db.transaction() as uow:
        await uow.session.execute(
            update(EmailChange).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    # The sender marks its outbox row sent just after the server accepted the
    # message: wait for that, or it could land between the two snapshots.
    for _ in range(250):
        async with db.session() as session:
            if await session.scalar(select(OutboxMail.status)) is MailStatus.SENT:
                break
        await asyncio.sleep(0.02)
    before = await snapshot(db)
    stranger = new_client()
    page = await stranger.get(f"/account/email/confirm/{token}")
    assert page.status_code == 404
    assert parse(page).select_one('a[href="/account/email"]') is not None
    assert page.headers["referrer-policy"] == "same-origin"
    assert (await stranger.post(f"/account/email/confirm/{token}")).status_code == 404
    assert await snapshot(db) == before


async def test_an_address_taken_meanwhile_is_refused_at_confirmation(
    world: World,
    login_as: Callable[[str], Awaitable[Client]],
    new_client: Callable[..., Client],
    smtp_server: SmtpServer,
    db: Database,
) -> None:
    mayor, tech = await login_as("sindaco9"), await login_as("tecnico9")
    await _ask(mayor, "conteso@example.it")
    await _ask(tech, "conteso@example.it")
    await smtp_server.wait_for(2, to="conteso@example.it")
    tokens = [LINK.search(m.get_body(("plain",)).get_content()).group(1)  # type: ignore[union-attr]
              for m in smtp_server.messages("conteso@example.it")]  # fmt: skip
    stranger = new_client()
    assert (await stranger.post(f"/account/email/confirm/{tokens[1]}")).status_code == 200
    before = await snapshot(db)
    late = await stranger.post(f"/account/email/confirm/{tokens[0]}")
    assert late.status_code == 409
    assert text_of(late, "[role=alert]") == italian("Another account uses this address.")
    assert await snapshot(db) == before
    assert (await _user(db, world["sindaco9"].id)).email == email("sindaco9")


@pytest.mark.parametrize("token", ["%00", "x" * 200, "short", "%C3%A8" * 8])
async def test_a_malformed_link_is_refused_in_the_page(client: Client, token: str) -> None:
    assert (await client.get(f"/account/email/confirm/{token}")).status_code == 404
    assert (await client.post(f"/account/email/confirm/{token}")).status_code == 404


async def test_the_page_needs_a_login(client: Client) -> None:
    response = await client.get("/account/email")
    assert response.status_code in (302, 303)
    assert response.headers["location"].startswith("/login")


async def test_the_mails_are_in_the_language_the_user_chose(
    world: World, login_as: Callable[[str], Awaitable[Client]], smtp_server: SmtpServer
) -> None:
    client = await login_as("admin")
    await client.post("/language", {"lang": "en", "next": "/"})
    await _ask(client, "admin.nuovo@example.it")
    (link,) = await smtp_server.wait_for(1, to="admin.nuovo@example.it")
    (notice,) = await smtp_server.wait_for(1, to=email("admin"))
    assert link["Subject"] == "Confirm your new address for collab"
    assert notice["Subject"] == "Your collab address is being changed"


async def test_a_logged_in_users_language_is_kept_on_the_account(
    world: World, login_as: Callable[[str], Awaitable[Client]], client: Client, db: Database
) -> None:
    tech = await login_as("tecnico5")
    assert (await _user(db, world["tecnico5"].id)).locale == "it"
    response = await tech.post("/language", {"lang": "en", "next": "/"})
    assert response.status_code == 303
    assert (await _user(db, world["tecnico5"].id)).locale == "en"
    await tech.post("/language", {"lang": "xx", "next": "/"})  # ignored
    assert (await _user(db, world["tecnico5"].id)).locale == "en"
    await tech.post("/language", {"lang": "it", "next": "/"})
    assert (await _user(db, world["tecnico5"].id)).locale == "it"
    # Without a login only the cookie changes.
    before = await snapshot(db)
    assert (await client.post("/language", {"lang": "en", "next": "/"})).status_code == 303
    assert await snapshot(db) == before
