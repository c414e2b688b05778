"""Server-side sessions (issue 14, finding 1): a session ends at once on
logout, a password change or reset, a deactivation, "log out of all other
devices", and a copied cookie is then worth nothing; the sessions page;
one primary-key read per request; housekeeping. The websocket side is in
``tests/realtime/test_ws_sessions.py``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
from sqlalchemy import func, select, update
from starlette.applications import Starlette

from collab.accounts.reset import do_request_reset
from collab.accounts.session_routes import device
from collab.db import Database
from collab.housekeeping import sweep
from collab.models import User, WebSession, utcnow
from collab.settings import Settings
from collab.tokens import digest
from tests.conftest import World, email
from tests.helpers import PASSWORD, Client, italian, parse, statements, text_of

COOKIE = "collab_session"
BOARD = "/zones/5/trasporti-mobilita"
NEW_PASSWORD = "una-nuova-password-lunga-e-sicura"
Login = Callable[[str], Awaitable[Client]]


def thief_of(victim: Client, new_client: Callable[[], Client]) -> Client:
    """Another client holding a copy of ``victim``'s cookie and CSRF token."""
    thief = new_client()
    thief.http.cookies = httpx.Cookies(victim.http.cookies)
    thief.token = victim.token
    return thief


async def threads(db: Database) -> int:
    from collab.forums.models import Thread

    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Thread)) or 0)


async def assert_locked_out(thief: Client, db: Database) -> None:
    """The copied cookie reads nothing, writes nothing, and the API says 401."""
    page = await thief.http.get("/account/password")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/account/password"
    before = await threads(db)
    write = await thief.http.post(
        f"{BOARD}/new", data={"csrf_token": thief.token or "", "title": "Io", "body": "Ancora qui"}
    )
    assert write.status_code in (303, 403)
    if write.status_code == 303:
        assert write.headers["location"].startswith("/login")
    assert await threads(db) == before
    api = await thief.http.get("/api/v1/consultations")
    assert api.status_code == 401


async def assert_works(client: Client, board: str = BOARD) -> None:
    assert (await client.http.get("/account/password")).status_code == 200
    thread = await client.post(f"{board}/new", {"title": "Sempre qui", "body": "Funziona"})
    assert thread.status_code == 303, thread.text
    assert (await client.http.get("/api/v1/consultations")).status_code == 200


async def test_a_cookie_copied_before_logout_is_worth_nothing_after_it(
    world: World, db: Database, login_as: Login, new_client: Callable[[], Client]
) -> None:
    mayor = await login_as("sindaco5")
    thief = thief_of(mayor, new_client)
    await assert_works(thief)  # the copy works while the session lives...
    await mayor.logout()
    await assert_locked_out(thief, db)  # ...and not a request longer
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(WebSession)) == 1
        left = await session.scalar(select(WebSession))
    assert left is not None and left.user_id is None  # the mayor's new anonymous session


async def test_a_password_change_ends_the_other_sessions_only(
    world: World, db: Database, login_as: Login, new_client: Callable[[], Client]
) -> None:
    here, there = await login_as("sindaco5"), await login_as("sindaco5")
    thief = thief_of(there, new_client)
    response = await here.post(
        "/account/password", {"current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert response.status_code == 200
    await assert_locked_out(thief, db)
    await assert_locked_out(there, db)
    await assert_works(here)


async def test_a_password_reset_ends_every_session(
    world: World, db: Database, login_as: Login, new_client: Callable[[], Client]
) -> None:
    mayor = await login_as("sindaco5")
    thief = thief_of(mayor, new_client)
    async with db.transaction() as uow:
        asked = await do_request_reset(uow, email("sindaco5"), "127.0.0.1")
    assert asked is not None
    stranger = new_client()
    response = await stranger.post(
        f"/password/reset/{asked.token}", {"new": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert response.status_code == 303
    await assert_locked_out(thief, db)
    await assert_locked_out(mayor, db)


async def test_a_deactivation_ends_every_session(
    world: World, db: Database, login_as: Login, new_client: Callable[[], Client]
) -> None:
    tech = await login_as("tecnico5")
    thief = thief_of(tech, new_client)
    admin = await login_as("admin")
    target = world["tecnico5"]
    response = await admin.post(
        f"/admin/users/{target.id}", {"role": "tecnico", "comune": "001139", "active": "0"}
    )
    assert response.status_code == 303, response.text
    await assert_locked_out(thief, db)
    async with db.session() as session:
        left = await session.scalar(select(func.count()).where(WebSession.user_id == target.id))
    assert left == 0


async def test_logging_out_the_other_devices_keeps_this_one(
    world: World, db: Database, login_as: Login, new_client: Callable[[], Client]
) -> None:
    here, there = await login_as("sindaco5"), await login_as("sindaco5")
    other_user = await login_as("sindaco9")
    thief = thief_of(there, new_client)
    response = await here.post("/account/sessions/end-others")
    assert response.status_code == 303
    assert response.headers["location"] == "/account/sessions?ended=others"
    page = await here.get(response.headers["location"])
    assert text_of(page, "[data-testid=sessions-ended]") == italian(
        "Every other device has been logged out."
    )
    assert len(parse(page).select("[data-testid=sessions] tbody tr")) == 1
    await assert_locked_out(thief, db)
    await assert_works(here)
    # Someone else's sessions are not touched.
    await assert_works(other_user, "/zones/9/trasporti-mobilita")


async def test_the_sessions_page_lists_and_ends_sessions(
    world: World, db: Database, new_client: Callable[..., Client]
) -> None:
    phone = new_client("192.0.2.10")
    phone.http.headers["User-Agent"] = (
        "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0 Mobile Safari/537.36"
    )
    await phone.login(email("sindaco5"))
    desk = new_client("198.51.100.7")
    desk.http.headers["User-Agent"] = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
    )
    await desk.login(email("sindaco5"))
    page = await desk.get("/account/sessions")
    assert page.status_code == 200
    rows = parse(page).select("[data-testid=sessions] tbody tr")
    cells = [[" ".join(td.get_text(" ").split()) for td in row.select("td")] for row in rows]
    assert len(cells) == 2
    this = italian("%(browser)s on %(system)s", browser="Firefox", system="Windows")
    assert cells[0][0] == f"{this} {italian('this device')}"
    assert cells[0][1] == "198.51.100.7"
    assert cells[1][0] == italian("%(browser)s on %(system)s", browser="Chrome", system="Android")
    assert cells[1][1] == "192.0.2.10"
    assert rows[0].get("data-testid") == "this-session"
    # The account menu leads here.
    assert parse(page).select_one('#user-menu a[href="/account/sessions"]') is not None

    # End the phone's session from the desk.
    key = str(rows[1].select_one("input[name=session]")["value"])  # type: ignore[index]
    ended = await desk.post("/account/sessions/end", {"session": key})
    assert ended.status_code == 303
    assert ended.headers["location"] == "/account/sessions?ended=one"
    assert (await phone.http.get("/account/password")).status_code == 303
    page = await desk.get("/account/sessions")
    assert len(parse(page).select("[data-testid=sessions] tbody tr")) == 1
    assert (await desk.http.get("/account/password")).status_code == 200

    # Ending this device's own session is logging out.
    own = str(parse(page).select_one("[data-testid=this-session] input[name=session]")["value"])  # type: ignore[index]
    out = await desk.post("/account/sessions/end", {"session": own})
    assert out.status_code == 303 and out.headers["location"] == "/"
    assert (await desk.http.get("/account/password")).status_code == 303


async def test_nobody_ends_another_users_session(
    world: World, db: Database, login_as: Login
) -> None:
    victim = await login_as("sindaco5")
    attacker = await login_as("sindaco9")
    key = digest(victim.http.cookies[COOKIE])
    for value in (key, "nessuna", "x" * 64, "\x00"):
        response = await attacker.post("/account/sessions/end", {"session": value})
        assert response.status_code == 404
        assert italian("This session has already ended.") in text_of(response, "main")
    assert (await victim.http.get("/account/password")).status_code == 200


async def test_the_sessions_page_needs_login(client: Client) -> None:
    response = await client.get("/account/sessions")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/account/sessions"


async def test_the_cookie_carries_only_a_random_id_whose_digest_is_stored(
    world: World, db: Database, login_as: Login
) -> None:
    mayor = await login_as("sindaco5")
    cookie = mayor.http.cookies[COOKIE]
    assert len(cookie) == 43  # 32 random bytes, URL-safe base64: nothing signed in it
    async with db.session() as session:
        ids = list(await session.scalars(select(WebSession.id)))
        row = await session.get(WebSession, digest(cookie))
    assert cookie not in ids
    assert row is not None and row.user_id == world["sindaco5"].id
    assert row.ip == "127.0.0.1" and row.user_agent.startswith("python-httpx")


async def test_login_replaces_the_visitors_session(
    world: World, db: Database, client: Client
) -> None:
    await client.get("/login")  # a visitor's session, for the login form's CSRF token
    before = client.http.cookies[COOKIE]
    async with db.session() as session:
        visitor = await session.get(WebSession, digest(before))
    assert visitor is not None and visitor.user_id is None
    await client.login(email("sindaco5"))
    async with db.session() as session:
        assert await session.get(WebSession, digest(before)) is None
        rows = list(await session.scalars(select(WebSession)))
    assert [r.user_id for r in rows] == [world["sindaco5"].id]


async def test_a_request_costs_one_primary_key_read_and_last_seen_moves_once_a_minute(
    world: World, db: Database, login_as: Login
) -> None:
    mayor = await login_as("sindaco5")
    key = digest(mayor.http.cookies[COOKIE])
    with statements(db) as seen:
        assert (await mayor.http.get("/account/password")).status_code == 200
    touching = [s for s in seen if "web_session" in s]
    assert len(touching) == 1, touching
    assert touching[0].startswith("SELECT")
    assert "WHERE web_session.id = " in touching[0]
    assert "user_account" in touching[0]  # the user comes with it: no second query

    # Less than a minute after the last write: nothing is written.
    async with db.session() as session:
        first = await session.scalar(select(WebSession.last_seen).where(WebSession.id == key))
    assert (await mayor.http.get("/")).status_code == 200
    async with db.session() as session:
        again = await session.scalar(select(WebSession.last_seen).where(WebSession.id == key))
    assert again == first

    # Two minutes later, the request moves it (and the cookie's Max-Age).
    old = utcnow() - timedelta(minutes=2)
    async with db.transaction() as uow:
        await uow.session.execute(update(WebSession).values(last_seen=old))
    response = await mayor.http.get("/")
    assert f"{COOKIE}=" in response.headers.get("set-cookie", "")
    async with db.session() as session:
        moved = await session.scalar(select(WebSession.last_seen).where(WebSession.id == key))
    assert moved is not None and moved > old + timedelta(minutes=1)


async def test_a_visitors_csrf_token_lives_in_the_session_table(
    world: World, db: Database, client: Client
) -> None:
    await client.get("/login")
    token = await client.csrf()
    async with db.session() as session:
        row = await session.get(WebSession, digest(client.http.cookies[COOKIE]))
    assert row is not None and row.data == {"csrf": token}
    # The language form works without a login, with that token.
    response = await client.post("/language", {"lang": "en", "next": "/"})
    assert response.status_code == 303


async def test_housekeeping_deletes_expired_sessions(
    world: World, db: Database, settings: Settings, login_as: Login, client: Client
) -> None:
    await login_as("sindaco5")
    await client.get("/login")  # and a visitor
    swept = await sweep(db, settings, now=utcnow() + timedelta(hours=2))
    assert swept.sessions == 0
    swept = await sweep(db, settings, now=utcnow() + timedelta(days=2))
    assert swept.sessions == 1  # the visitor's, idle for more than a day
    later = utcnow() + timedelta(seconds=settings.session_max_age + 60)
    swept = await sweep(db, settings, now=later)
    assert swept.sessions == 1
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(WebSession)) == 0


def test_devices_are_named_from_the_user_agent() -> None:
    safari_iphone = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
    )
    edge = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0"
    )
    assert device(safari_iphone) == ("Safari", "iOS")
    assert device(edge) == ("Edge", "Windows")
    assert device("curl/8.5") == (None, None)
    assert device("") == (None, None)


async def test_a_user_deleted_meanwhile_has_no_session(
    world: World, db: Database, login_as: Login, app: Starlette
) -> None:
    mayor = await login_as("sindaco5")
    async with db.transaction() as uow:
        await uow.session.execute(
            update(User).where(User.id == world["sindaco5"].id).values(active=False)
        )
    # Deactivated behind the actions' back: the session row names an inactive user.
    assert (await mayor.http.get("/account/password")).status_code == 303
