"""Login, throttling, sessions, logout and password change."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from collab.accounts import passwords
from collab.accounts.throttle import delay_after, throttled
from collab.app import create_app
from collab.db import Database
from collab.i18n import translations
from collab.models import AuditLog, LoginAttempt, User, WebSession, utcnow
from collab.settings import Settings
from tests.conftest import World, email
from tests.helpers import PASSWORD, Client, parse, text_of

WRONG = "Wrong email or password."
THROTTLED_SECONDS = "Too many failed attempts from this connection. Try again in %(seconds)d s."
THROTTLED_MINUTES = "Too many failed attempts from this connection. Try again in %(minutes)d min."
COOKIE = "collab_session"
NEW_PASSWORD = "una-nuova-password-lunga"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Small limits keep the throttling tests short; the tests read them from here.
    return replace(
        settings, login_max_failures_account=3, login_max_failures_ip=6, login_max_delay=300
    )


@pytest.fixture
def client_at(new_client: Callable[..., Client]) -> Callable[[str], Client]:
    """Clients coming from a given IP address (``new_client`` ones share 127.0.0.1)."""
    return new_client


def italian(msgid: str, **params: Any) -> str:
    text = translations("it").gettext(msgid)
    assert text != msgid, f"the Italian catalog does not translate {msgid!r}"
    return text % params if params else text


async def login(
    client: Client, address: str, password: str = PASSWORD, next_url: str | None = None
) -> httpx.Response:
    data = {"email": address, "password": password}
    if next_url is not None:
        data["next"] = next_url
    return await client.post("/login", data)


async def logged_in(client: Client) -> bool:
    response = await client.get("/account/password")
    if response.status_code == 303:
        assert response.headers["location"] == "/login?next=/account/password"
        return False
    assert response.status_code == 200
    return True


# --- logging in --------------------------------------------------------------


async def test_login_goes_to_next(world: World, client: Client) -> None:
    response = await login(client, email("sindaco5"), next_url="/zones/5?page=2")
    assert response.status_code == 303
    assert response.headers["location"] == "/zones/5?page=2"
    home = await client.get("/")
    assert text_of(home, "[data-testid=current-user]").startswith("Sindaco5")


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "https://evil.com",
        "/\\evil",
        "/\\/evil.com",
        "\\\\evil.com",
        "/\t/evil.com",
        "http:/evil.com",
        "javascript:alert(1)",
        "evil.com",
        "",
    ],
)
async def test_only_a_local_next_is_honoured(world: World, client: Client, target: str) -> None:
    page = await client.get("/login", params={"next": target})
    assert parse(page).select_one("input[name=next]")["value"] == "/"  # type: ignore[index]
    response = await login(client, email("sindaco5"), next_url=target)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


async def test_login_page_redirects_when_logged_in(world: World, client: Client) -> None:
    await client.login(email("sindaco5"))
    response = await client.get("/login", params={"next": "/zones/5"})
    assert response.status_code == 303
    assert response.headers["location"] == "/zones/5"


async def test_wrong_password(world: World, client: Client) -> None:
    response = await login(client, email("sindaco5"), "not-the-password")
    assert response.status_code == 422
    assert text_of(response, ".alert-danger") == italian(WRONG)
    page = parse(response)
    assert page.select_one("html")["lang"] == "it"  # type: ignore[index]
    assert page.select_one("input#email")["value"] == email("sindaco5")  # type: ignore[index]
    assert not page.select_one("input#password").get("value")  # type: ignore[union-attr]
    assert not await logged_in(client)


async def test_unknown_email_gets_the_same_answer(world: World, client: Client) -> None:
    wrong = await login(client, email("sindaco5"), "not-the-password")
    unknown = await login(client, "nobody@test.collab.it", PASSWORD)
    assert unknown.status_code == wrong.status_code == 422
    assert text_of(unknown, ".alert-danger") == text_of(wrong, ".alert-danger")


async def test_deactivated_user_cannot_log_in(world: World, db: Database, client: Client) -> None:
    async with db.transaction() as uow:
        await uow.session.execute(
            update(User).where(User.id == world["tecnico5"].id).values(active=False)
        )
    response = await login(client, email("tecnico5"))
    assert response.status_code == 422
    assert text_of(response, ".alert-danger") == italian(WRONG)
    assert not await logged_in(client)


async def test_email_is_case_and_space_insensitive(world: World, client: Client) -> None:
    response = await login(client, "  SINDACO5@Test.Collab.IT ")
    assert response.status_code == 303
    assert await logged_in(client)


# --- throttling --------------------------------------------------------------
# Growing delays per (account, client) and per client; never a lockout
# (collab.accounts.throttle). The waits are made to pass by moving the
# recorded attempts into the past.


async def attempts(db: Database) -> list[tuple[str, str, str]]:
    async with db.session() as session:
        rows = await session.scalars(select(LoginAttempt).order_by(LoginAttempt.id))
        return [(r.email, r.ip, r.outcome) for r in rows]


async def age_attempts(db: Database, seconds: float) -> None:
    """Every recorded attempt ``seconds`` older: a wait that long has passed."""
    async with db.transaction() as uow:
        for row in await uow.session.scalars(select(LoginAttempt)):
            row.at = row.at - timedelta(seconds=seconds)


async def test_wrong_passwords_do_not_lock_the_account_for_other_clients(
    world: World, settings: Settings, client_at: Callable[[str], Client]
) -> None:
    """Finding 4: five wrong passwords used to lock a mayor out for everyone."""
    attacker, mayor = client_at("203.0.113.7"), client_at("198.51.100.20")
    for _ in range(settings.login_max_failures_account):
        assert (await login(attacker, email("sindaco5"), "wrong-password")).status_code == 422
    assert (await login(attacker, email("sindaco5"), "wrong-password")).status_code == 429
    response = await login(mayor, email("sindaco5"))
    assert response.status_code == 303
    assert await logged_in(mayor)


async def test_a_client_that_keeps_failing_waits_longer_each_time(
    world: World, settings: Settings, db: Database, client: Client
) -> None:
    target = email("sindaco5")
    for i in range(settings.login_max_failures_account):
        # Case and spaces do not make a different account.
        address = target.upper() if i % 2 else f" {target} "
        assert (await login(client, address, "wrong-password")).status_code == 422
    for wait in (1, 2, 4, 8):
        # While it waits even the right password is refused: guessing is slowed down.
        refused = await login(client, target)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == str(wait)
        assert text_of(refused, ".alert-danger") == italian(THROTTLED_SECONDS, seconds=wait)
        assert not await logged_in(client)
        await age_attempts(db, wait)
        assert (await login(client, target, "wrong-password")).status_code == 422
    await age_attempts(db, 16)
    assert (await login(client, target)).status_code == 303
    outcomes = [outcome for _, _, outcome in await attempts(db)]
    assert outcomes.count("refused") == 4
    assert outcomes[-1] == "ok"
    assert "pending" not in outcomes


async def test_the_wait_is_capped_and_said_in_minutes(
    world: World, settings: Settings, db: Database, client: Client
) -> None:
    assert settings.login_max_delay == 300
    async with db.transaction() as uow:
        for _ in range(settings.login_max_failures_account + 20):
            uow.session.add(LoginAttempt(email=email("sindaco5"), ip="127.0.0.1", at=utcnow()))
    refused = await login(client, email("sindaco5"))
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) in (299, 300)
    assert text_of(refused, ".alert-danger") == italian(THROTTLED_MINUTES, minutes=5)


def test_delays_double_from_the_first_wait_up_to_the_cap() -> None:
    assert [delay_after(n, 3, 900) for n in range(2, 8)] == [0, 1, 2, 4, 8, 16]
    assert delay_after(13, 3, 900) == 900
    assert delay_after(10_000, 3, 900) == 900


async def test_a_client_spraying_many_accounts_is_slowed_down(
    world: World, settings: Settings, client_at: Callable[[str], Client]
) -> None:
    attacker = client_at("203.0.113.7")
    per_account = settings.login_max_failures_account - 1
    for i in range(settings.login_max_failures_ip):
        address = f"guess{i // per_account}@test.collab.it"
        assert (await login(attacker, address, "wrong-password")).status_code == 422
    # No single account reached its limit, but this client did.
    response = await login(attacker, email("sindaco9"))
    assert response.status_code == 429
    assert text_of(response, ".alert-danger") == italian(THROTTLED_SECONDS, seconds=1)
    other = client_at("198.51.100.20")
    assert (await login(other, email("sindaco9"))).status_code == 303


async def test_failures_stop_counting_after_the_window(
    world: World, settings: Settings, db: Database, client: Client
) -> None:
    for _ in range(settings.login_max_failures_account + 3):
        await login(client, email("sindaco5"), "wrong-password")
    assert (await login(client, email("sindaco5"))).status_code == 429
    async with db.transaction() as uow:
        past = utcnow() - timedelta(seconds=settings.login_throttle_window + 1)
        await uow.session.execute(update(LoginAttempt).values(at=past))
    assert (await login(client, email("sindaco5"))).status_code == 303


async def test_a_successful_login_starts_the_clients_count_again(
    world: World, settings: Settings, db: Database, new_client: Callable[[], Client]
) -> None:
    target = email("sindaco5")
    # Twice, not more: the client's own count (any account) does not restart.
    for _ in range(2):
        client = new_client()
        for _ in range(settings.login_max_failures_account - 1):
            assert (await login(client, target, "wrong-password")).status_code == 422
        assert (await login(client, target)).status_code == 303
    # The failures are recorded for admins, but none of them makes anyone wait.
    assert [o for _, _, o in await attempts(db)].count("wrong") == 2 * (
        settings.login_max_failures_account - 1
    )
    assert (await login(new_client(), target, "wrong-password")).status_code == 422


async def test_the_waits_hold_across_workers(
    world: World, settings: Settings, db: Database
) -> None:
    """Two app instances (two workers) on one database see the same attempts."""
    first, second = create_app(settings), create_app(settings)
    async with first.router.lifespan_context(first), second.router.lifespan_context(second):
        clients = [
            Client(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app, client=("203.0.113.7", 4000)),
                    base_url="http://testserver",
                )
            )
            for app in (first, second)
        ]
        for i in range(settings.login_max_failures_account):
            worker = clients[i % 2]
            assert (await login(worker, email("sindaco5"), "wrong-password")).status_code == 422
        for worker in clients:
            assert (await login(worker, email("sindaco5"))).status_code == 429
        for worker in clients:
            await worker.http.aclose()


def test_the_refusal_rounds_the_wait_up() -> None:
    assert throttled(0.2).params == {"seconds": 1}
    assert throttled(59.1).params == {"seconds": 60}
    assert throttled(90).params == {"seconds": 90}
    assert throttled(91).params == {"minutes": 2}
    assert throttled(900).params == {"minutes": 15}
    assert throttled(900).status == 429


# --- sessions ----------------------------------------------------------------


async def test_login_starts_a_new_session(world: World, new_client: Callable[[], Client]) -> None:
    victim = new_client()
    old_token = await victim.csrf()
    before = victim.http.cookies[COOKIE]
    await victim.login(email("sindaco5"))
    assert victim.http.cookies[COOKIE] != before
    # The pre-login cookie (say, planted by an attacker) is not logged in...
    attacker = new_client()
    planted = await attacker.http.get("/account/password", headers={"Cookie": f"{COOKIE}={before}"})
    assert planted.status_code == 303
    # ...and the pre-login CSRF token is no longer accepted.
    stale = await victim.http.post("/logout", data={"csrf_token": old_token})
    assert stale.status_code == 403
    assert await logged_in(victim)


async def test_logout_ends_the_session(world: World, client: Client) -> None:
    await client.login(email("sindaco5"))
    assert await logged_in(client)
    response = await client.post("/logout")
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert not await logged_in(client)
    assert parse(await client.get("/")).select_one("[data-testid=current-user]") is None


async def test_expired_session_goes_to_login(
    world: World, settings: Settings, db: Database, new_client: Callable[[], Client]
) -> None:
    client = new_client()
    await client.login(email("sindaco5"))
    cookie = client.http.cookies[COOKIE]
    max_age = settings.session_max_age

    async def fetch(seen_ago: int) -> httpx.Response:
        async with db.transaction() as uow:
            seen = utcnow() - timedelta(seconds=seen_ago)
            await uow.session.execute(update(WebSession).values(last_seen=seen))
        fresh = new_client()  # an empty cookie jar: only this cookie is sent
        return await fresh.http.get("/account/password", headers={"Cookie": f"{COOKIE}={cookie}"})

    assert (await fetch(max_age - 60)).status_code == 200
    expired = await fetch(max_age + 60)
    assert expired.status_code == 303
    assert expired.headers["location"] == "/login?next=/account/password"


async def test_protected_page_needs_login(client: Client) -> None:
    assert not await logged_in(client)


async def test_login_is_audited(world: World, db: Database, client: Client) -> None:
    await client.login(email("sindaco5"))
    await login(client, email("tecnico5"), "wrong-password")
    async with db.session() as session:
        rows = (
            await session.scalars(select(AuditLog).where(AuditLog.action == "user.login"))
        ).all()
    assert [(r.actor_id, r.object_type, r.object_id) for r in rows] == [
        (world["sindaco5"].id, "user_account", str(world["sindaco5"].id))
    ]
    assert rows[0].detail == {"ip": "127.0.0.1"}


# --- password change ---------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "field", "message", "params"),
    [
        (
            {"current": "wrong-password", "new": NEW_PASSWORD, "confirm": NEW_PASSWORD},
            "current",
            "The current password is not correct.",
            {},
        ),
        (
            {"current": PASSWORD, "new": "corta", "confirm": "corta"},
            "new",
            "The password must be at least %(min)d characters long.",
            {"min": passwords.MIN_LENGTH},
        ),
        (
            {"current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x"},
            "confirm",
            "The two new passwords do not match.",
            {},
        ),
    ],
)
async def test_password_change_refuses_bad_input(
    world: World,
    db: Database,
    client: Client,
    form: dict[str, str],
    field: str,
    message: str,
    params: dict[str, Any],
) -> None:
    await client.login(email("sindaco5"))
    response = await client.post("/account/password", form)
    assert response.status_code == 422
    assert text_of(response, ".alert-danger") == italian(message, **params)
    invalid = parse(response).select(".is-invalid")
    assert [node["id"] for node in invalid] == [field]
    async with db.session() as session:
        user = await session.get(User, world["sindaco5"].id)
        assert user is not None
        assert await passwords.verify_password(user.password_hash, PASSWORD)
        assert user.session_epoch == 0
    assert await logged_in(client)


async def test_password_change_logs_out_other_sessions(
    world: World, db: Database, new_client: Callable[[], Client]
) -> None:
    this, other, unrelated = new_client(), new_client(), new_client()
    await this.login(email("sindaco5"))
    await other.login(email("sindaco5"))
    await unrelated.login(email("tecnico5"))
    form = {"current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    response = await this.post("/account/password", form)
    assert response.status_code == 200
    assert parse(response).select_one(".alert-success") is not None
    assert await logged_in(this)
    assert not await logged_in(other)
    assert await logged_in(unrelated)

    # The old password no longer works, the new one does.
    assert (await login(new_client(), email("sindaco5"))).status_code == 422
    assert (await login(new_client(), email("sindaco5"), NEW_PASSWORD)).status_code == 303
    async with db.session() as session:
        rows = (
            await session.scalars(select(AuditLog).where(AuditLog.action.like("user.p%")))
        ).all()
    assert [(r.action, r.actor_id) for r in rows] == [
        ("user.password_changed", world["sindaco5"].id)
    ]


async def test_password_page_needs_login(client: Client) -> None:
    response = await client.post(
        "/account/password", {"current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
