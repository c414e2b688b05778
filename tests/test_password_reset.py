"""Password reset by e-mail, end to end: the link is read from the message a
real SMTP server (aiosmtpd) received."""

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

from collab.accounts.models import PasswordReset
from collab.accounts.reset import PER_ACCOUNT, PER_IP
from collab.app import create_app
from collab.db import Database
from collab.mail.models import MailStatus, OutboxMail
from collab.models import AuditLog, User, utcnow
from collab.settings import Settings
from tests.conftest import World, email
from tests.helpers import PASSWORD, Client, italian, parse, text_of
from tests.smtp import SmtpServer

NEW = "Vigneti di Pinerolo 2027"
LINK = re.compile(r"https?://\S+/password/reset/([A-Za-z0-9_-]+)")


@pytest.fixture
async def app(settings: Settings, smtp_server: SmtpServer) -> AsyncIterator[Starlette]:
    """The app with a real SMTP server: mail leaves as it would in production."""
    application = create_app(replace(settings, smtp_url=smtp_server.url))
    async with application.router.lifespan_context(application):
        yield application


async def _ask(client: Client, address: str) -> httpx.Response:
    await client.get("/password/forgot")
    return await client.post("/password/forgot", {"email": address})


def _token(smtp: SmtpServer, to: str, nth: int = -1) -> str:
    message = smtp.messages(to)[nth]
    body = message.get_body(("plain",))
    assert body is not None
    match = LINK.search(body.get_content())
    assert match, body.get_content()
    return match.group(1)


async def test_a_forgotten_password_is_reset_from_the_mail(
    world: World,
    client: Client,
    new_client: Callable[..., Client],
    login_as: Callable[[str], Awaitable[Client]],
    smtp_server: SmtpServer,
    db: Database,
) -> None:
    elsewhere = await login_as("sindaco5")  # a session on another device
    assert (await elsewhere.get("/account/password")).status_code == 200
    response = await _ask(client, email("sindaco5"))
    assert response.status_code == 200
    assert "link" in parse(response).select_one("[role=status]").get_text()  # type: ignore[union-attr]
    (message,) = await smtp_server.wait_for(1, to=email("sindaco5"))
    assert message["Subject"] == "Scegli una nuova password per collab"
    assert "List-Unsubscribe" not in message  # not a notice one may turn off
    html = message.get_body(("html",))
    assert html is not None and "/password/reset/" in html.get_content()
    token = _token(smtp_server, email("sindaco5"))

    page = await client.get(f"/password/reset/{token}")
    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "same-origin"
    mismatch = await client.post(f"/password/reset/{token}", {"new": NEW, "confirm": NEW + "!"})
    assert mismatch.status_code == 422  # nothing changed, the link still works
    done = await client.post(f"/password/reset/{token}", {"new": NEW, "confirm": NEW})
    assert done.status_code == 303 and done.headers["location"] == "/login?reset=1"

    # Every other session ended; the new password logs in, the old does not.
    assert (await elsewhere.get("/account/password")).status_code in (302, 303)
    await new_client().login(email("sindaco5"), NEW)
    old = await new_client().post("/login", {"email": email("sindaco5"), "password": PASSWORD})
    assert old.status_code == 422
    # The link is used up.
    again = await client.get(f"/password/reset/{token}")
    assert again.status_code == 404
    reused = await client.post(f"/password/reset/{token}", {"new": NEW + "2", "confirm": NEW + "2"})
    assert reused.status_code == 404
    async with db.session() as session:
        actions = list(await session.scalars(select(AuditLog.action).order_by(AuditLog.id)))
    assert "user.password_reset_requested" in actions and "user.password_reset" in actions


async def test_the_answer_is_the_same_whether_or_not_the_address_exists(
    world: World, new_client: Callable[..., Client], smtp_server: SmtpServer, db: Database
) -> None:
    known = await _ask(new_client(), email("tecnico5"))
    unknown = await _ask(new_client(), "nessuno@test.collab.it")
    assert known.status_code == unknown.status_code == 200

    def alert(response: httpx.Response, address: str) -> str:
        node = parse(response).select_one("[role=status]")
        assert node is not None
        return node.get_text().replace(address, "X")

    assert alert(known, email("tecnico5")) == alert(unknown, "nessuno@test.collab.it")
    await smtp_server.wait_for(1, to=email("tecnico5"))
    async with db.session() as session:
        recipients = list(await session.scalars(select(OutboxMail.recipient)))
    assert recipients == [email("tecnico5")]


async def test_a_deactivated_account_gets_no_link(
    world: World, client: Client, smtp_server: SmtpServer, db: Database
) -> None:
    async with db.transaction() as uow:
        await uow.session.execute(
            update(User).where(User.email == email("tecnico9")).values(active=False)
        )
    assert (await _ask(client, email("tecnico9"))).status_code == 200
    async with db.session() as session:
        assert await session.scalar(select(OutboxMail.id)) is None


async def test_requests_are_throttled_per_account_and_per_client(
    world: World, new_client: Callable[..., Client], db: Database
) -> None:
    client = new_client("10.0.0.1")
    for _ in range(PER_ACCOUNT + 2):
        assert (await _ask(client, email("sindaco9"))).status_code == 200
    async with db.session() as session:
        sent = await session.scalar(
            select(OutboxMail.id).where(OutboxMail.recipient == email("sindaco9")).limit(1)
        )
        count = len(list(await session.scalars(select(OutboxMail.id))))
    assert sent is not None and count == PER_ACCOUNT  # the rest: same answer, no mail
    # One client asking for many accounts: each request that finds one counts.
    others = [k for k in world.users if k != "sindaco9"]
    other = new_client("10.0.0.2")
    for key in (others * PER_ACCOUNT)[:PER_IP]:
        assert (await _ask(other, email(key))).status_code == 200
    refused = await _ask(other, email("staff"))
    assert refused.status_code == 429
    assert "Troppe richieste" in refused.text
    # Another client is not held back by this one.
    assert (await _ask(new_client("10.0.0.3"), email("staff"))).status_code == 200


async def test_an_expired_link_is_refused(
    world: World,
    client: Client,
    new_client: Callable[..., Client],
    smtp_server: SmtpServer,
    db: Database,
) -> None:
    await _ask(client, email("portavoce5"))
    await smtp_server.wait_for(1, to=email("portavoce5"))
    token = _token(smtp_server, email("portavoce5"))
    async with db.transaction() as uow:
        await uow.session.execute(
            update(PasswordReset).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    page = await client.get(f"/password/reset/{token}")
    assert page.status_code == 404
    assert "/password/forgot" in page.text
    refused = await client.post(f"/password/reset/{token}", {"new": NEW, "confirm": NEW})
    assert refused.status_code == 404
    await new_client().login(email("portavoce5"))  # the old password still works


@pytest.mark.parametrize("value", ["", "non-un-indirizzo", "a@b", "x" * 300])
async def test_a_bad_address_is_refused_in_the_page(client: Client, value: str) -> None:
    response = await _ask(client, value)
    assert response.status_code == 422
    assert parse(response).select_one(".is-invalid#email") is not None


async def test_a_weak_new_password_is_refused_and_changes_nothing(
    world: World, client: Client, new_client: Callable[..., Client], smtp_server: SmtpServer
) -> None:
    await _ask(client, email("tecnico5"))
    await smtp_server.wait_for(1, to=email("tecnico5"))
    token = _token(smtp_server, email("tecnico5"))
    response = await client.post(f"/password/reset/{token}", {"new": "corta", "confirm": "corta"})
    assert response.status_code == 422
    assert parse(response).select_one(".is-invalid#new") is not None
    await new_client().login(email("tecnico5"))


COMMON = "This password is too easy to guess: it is, or looks like, a common password."
REPEATS = (
    "This password is too easy to guess: repeated characters or words, like “aaa”, "
    "are easy to guess."
)


@pytest.mark.parametrize(
    ("weak", "reason"),
    [("aaaaaaaaaa", REPEATS), ("1234567890", COMMON), ("password12", COMMON),
     ("juventus1!", COMMON)],
)  # fmt: skip
async def test_a_password_easy_to_guess_is_refused_with_the_reason(
    world: World,
    db: Database,
    client: Client,
    new_client: Callable[..., Client],
    smtp_server: SmtpServer,
    weak: str,
    reason: str,
) -> None:
    await _ask(client, email("tecnico5"))
    await smtp_server.wait_for(1, to=email("tecnico5"))
    token = _token(smtp_server, email("tecnico5"))
    async with db.session() as session:
        before = await session.scalar(
            select(User.password_hash).where(User.id == world["tecnico5"].id)
        )
    response = await client.post(f"/password/reset/{token}", {"new": weak, "confirm": weak})
    assert response.status_code == 422
    assert parse(response).select_one(".is-invalid#new") is not None
    assert text_of(response, ".alert-danger") == italian(reason)
    async with db.session() as session:
        after = await session.scalar(
            select(User.password_hash).where(User.id == world["tecnico5"].id)
        )
    assert after == before
    await new_client().login(email("tecnico5"))


async def test_the_mail_is_in_english_for_an_english_page(
    world: World, client: Client, smtp_server: SmtpServer
) -> None:
    await client.post("/language", {"lang": "en", "next": "/"})
    await _ask(client, email("staff"))
    (message,) = await smtp_server.wait_for(1, to=email("staff"))
    assert message["Subject"] == "Choose a new password for collab"


async def test_the_outbox_row_is_sent(
    world: World, client: Client, smtp_server: SmtpServer, db: Database
) -> None:
    await _ask(client, email("admin"))
    await smtp_server.wait_for(1, to=email("admin"))
    async with db.session() as session:
        (row,) = list(await session.scalars(select(OutboxMail)))
    assert row.kind == "password_reset"
    for _ in range(200):  # marked sent right after the server accepted it
        async with db.session() as session:
            status = await session.scalar(select(OutboxMail.status))
        if status is MailStatus.SENT:
            break
        await asyncio.sleep(0.02)
    assert status is MailStatus.SENT


@pytest.mark.parametrize("token", ["%00", "a%00b" * 5, "x" * 200, "%C3%A8" * 8, "short"])
async def test_a_malformed_link_is_refused_in_the_page(client: Client, token: str) -> None:
    page = await client.get(f"/password/reset/{token}")
    assert page.status_code == 404
    assert "/password/forgot" in page.text
    posted = await client.post(f"/password/reset/{token}", {"new": NEW, "confirm": NEW})
    assert posted.status_code == 404
