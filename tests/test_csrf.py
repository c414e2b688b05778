"""CSRF, origin and body-size checks on every unsafe route, and the session cookie's flags.

The routes are read from ``app.routes``, so a route added later is covered
without touching this file: none is skipped.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

from collab.app import create_app
from collab.db import Database
from collab.forums import actions
from collab.forums.models import Post
from collab.models import Zone
from collab.security import CSRF_EXEMPT_PREFIXES, CSRF_FAILED
from collab.settings import Settings
from collab.web import MAX_FORM_BYTES
from tests.conftest import World, email
from tests.helpers import Client, italian, parse, snapshot

Login = Callable[[str], Awaitable[Client]]
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
THEME = "trasporti-mobilita"


def unsafe_routes(app: Starlette) -> list[tuple[str, str]]:
    """(method, path template) of every route that accepts an unsafe method."""
    found: list[tuple[str, str]] = []

    def walk(routes: list[BaseRoute], prefix: str) -> None:
        for route in routes:
            if isinstance(route, Mount):
                walk(list(route.routes), prefix + route.path)
            elif isinstance(route, Route):
                for method in sorted((route.methods or set()) & UNSAFE):
                    found.append((method, prefix + route.path_format))

    walk(list(app.routes), "")
    # Exempt on purpose (collab.security.CSRF_EXEMPT_PREFIXES): mail clients
    # post one-click unsubscribes without a session; the signed link is the
    # authorization (tests/notifications/test_unsubscribe.py).
    found = [item for item in found if not item[1].startswith(CSRF_EXEMPT_PREFIXES)]
    # Logging out ends the session the other requests ride on: it goes last.
    return sorted(found, key=lambda item: item[1] == "/logout")


def fill(path: str, ids: dict[str, int]) -> str:
    """A concrete URL for a path template, pointing at real objects where we have them."""

    def value(match: re.Match[str]) -> str:
        name = match[1]
        if name == "number":
            return "5"
        if name == "theme":
            return THEME
        for prefix, object_id in ids.items():
            if path.startswith(prefix):
                return str(object_id)
        return "1"

    return re.sub(r"\{(\w+)(?::\w+)?\}", value, path)


def csrf_message() -> str:
    return italian(CSRF_FAILED)


def is_csrf_rejection(response: httpx.Response) -> bool:
    if response.status_code != 403:
        return False
    node = parse(response).select_one('[role="alert"]')
    return node is not None and csrf_message() in " ".join(node.get_text().split())


def assert_rejected(response: httpx.Response, where: str, htmx: bool = False) -> None:
    assert response.status_code == 403, (where, response.status_code, response.text[:300])
    page = parse(response)
    if htmx:
        assert response.headers.get("hx-retarget") == "#alerts", where
        assert page.find("html") is None, where
    else:
        assert page.html is not None and page.html["lang"] == "it", where
        h1 = page.select_one("h1")
        assert h1 is not None and h1.get_text().strip() == italian("Access denied"), where
    assert is_csrf_rejection(response), where


async def send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    form_token: str | None = None,
    header_token: str | None = None,
    origin: str | None = None,
    htmx: bool = False,
) -> httpx.Response:
    """An unsafe request, always with a url-encoded body (as a browser form sends)."""
    data = {"_": "1"}
    if form_token is not None:
        data["csrf_token"] = form_token
    headers = {}
    if header_token is not None:
        headers["X-CSRF-Token"] = header_token
    if origin is not None:
        headers["Origin"] = origin
    if htmx:
        headers["HX-Request"] = "true"
    return await http.request(method, url, data=data, headers=headers)


@pytest.fixture
async def targets(app: Starlette, world: World, db: Database) -> list[tuple[str, str]]:
    """Every unsafe route as (method, URL), with ids of real objects in zone 5."""
    admin = world["admin"]
    async with db.session() as session:
        theme = await actions.get_theme(session, THEME)
        zone_id = await session.scalar(select(Zone.id).where(Zone.number == 5))
    async with db.transaction() as uow:
        thread = await actions.do_start_thread(uow, admin, zone_id, theme, "Bersaglio", "Testo")
    async with db.session() as session:
        post_id = await session.scalar(select(Post.id).where(Post.thread_id == thread.id))
    assert post_id is not None
    ids = {"/threads/": thread.id, "/posts/": post_id, "/admin/users/": world["tecnico5"].id}
    return [(method, fill(path, ids)) for method, path in unsafe_routes(app)]


def test_the_route_list_is_complete(app: Starlette) -> None:
    routes = unsafe_routes(app)
    for expected in [
        ("POST", "/login"),
        ("POST", "/logout"),
        ("POST", "/language"),
        ("POST", "/zones/{number}/{theme}/new"),
        ("POST", "/metro/{theme}/new"),
        ("POST", "/threads/{id}/reply"),
        ("POST", "/threads/{id}/pin"),
        ("POST", "/threads/{id}/close"),
        ("POST", "/posts/{id}/edit"),
        ("POST", "/posts/{id}/delete"),
        ("POST", "/posts/{id}/hide"),
        ("POST", "/posts/{id}/restore"),
        ("POST", "/admin/users/new"),
        ("POST", "/admin/users/{id}"),
    ]:
        assert expected in routes
    assert routes[-1] == ("POST", "/logout")


async def test_every_unsafe_route_refuses_a_missing_or_bad_token(
    login_as: Login,
    new_client: Callable[[], Client],
    db: Database,
    targets: list[tuple[str, str]],
) -> None:
    admin = await login_as("admin")
    other = await login_as("staff")
    anonymous = new_client()
    anonymous_token = await anonymous.csrf()
    own = await admin.csrf()
    other_token = await other.csrf()
    assert len({own, other_token, anonymous_token}) == 3
    before = await snapshot(db)

    for method, url in targets:
        where = f"{method} {url}"
        http = admin.http
        assert_rejected(await send(http, method, url), f"{where}: no token")
        assert_rejected(await send(anonymous.http, method, url), f"{where}: anonymous")
        for bad in ("", "x", own[:-1], own + "x", own.upper(), other_token, anonymous_token):
            assert_rejected(await send(http, method, url, form_token=bad), f"{where}: {bad!r}")
            assert_rejected(
                await send(http, method, url, header_token=bad, htmx=True),
                f"{where}: header {bad!r}",
                htmx=True,
            )
        # A good token in the query string does not make a bad form token good.
        query_url = f"{url}?csrf_token={own}"
        assert_rejected(
            await send(http, method, query_url, form_token="x"), f"{where}: query + bad form"
        )
        # The right token from the wrong site.
        for origin in ("https://evil.example", "http://testserver.evil.example", "null"):
            assert_rejected(
                await send(http, method, url, form_token=own, origin=origin),
                f"{where}: origin {origin}",
            )
            assert_rejected(
                await send(http, method, url, header_token=own, origin=origin, htmx=True),
                f"{where}: htmx origin {origin}",
                htmx=True,
            )

    # Nothing changed: not the data, not the session, not the language.
    assert await snapshot(db) == before
    home = await admin.get("/")
    assert parse(home).select_one('[data-testid="current-user"]') is not None
    assert "lang" not in admin.http.cookies
    assert await admin.csrf() == own


async def test_every_unsafe_route_accepts_the_token_in_the_form_or_the_header(
    login_as: Login, targets: list[tuple[str, str]]
) -> None:
    for way in ("form", "header"):
        admin = await login_as("admin")
        token = await admin.csrf()
        for method, url in targets:
            if way == "form":
                response = await send(admin.http, method, url, form_token=token)
            else:
                response = await send(admin.http, method, url, header_token=token, htmx=True)
            where = (way, method, url, response.status_code)
            assert not is_csrf_rejection(response), where
            assert response.status_code not in (413, 500), where
    # A same-origin Origin header is fine.
    admin = await login_as("admin")
    response = await send(
        admin.http, "POST", "/language", form_token=await admin.csrf(),
        origin="http://testserver",
    )  # fmt: skip
    assert response.status_code == 303


async def test_a_write_goes_through_with_a_valid_token(
    login_as: Login, db: Database, targets: list[tuple[str, str]]
) -> None:
    """Accepting is not just "not rejected": the form post and the htmx post both write."""
    mayor = await login_as("sindaco5")
    thread_url = next(url for _, url in targets if url.endswith("/reply"))
    token = await mayor.csrf()
    async with db.session() as session:
        before = await session.scalar(select(func.count()).select_from(Post))
    plain = await mayor.http.post(thread_url, data={"csrf_token": token, "body": "Con token"})
    assert plain.status_code == 303
    htmx = await mayor.http.post(
        thread_url, data={"body": "Con header"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )  # fmt: skip
    assert htmx.status_code == 200
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Post)) == (before or 0) + 2


async def test_oversized_form_bodies_are_refused(
    login_as: Login, db: Database, targets: list[tuple[str, str]]
) -> None:
    mayor = await login_as("sindaco5")
    token = await mayor.csrf()
    url = next(url for _, url in targets if url.endswith("/reply"))
    huge = "x" * (MAX_FORM_BYTES + 1024)
    before = await snapshot(db)

    def check(response: httpx.Response, where: str) -> None:
        assert response.status_code == 413, (where, response.status_code)
        page = parse(response)
        assert page.html is not None and page.html["lang"] == "it", where
        h1 = page.select_one("h1")
        assert h1 is not None and h1.get_text().strip() == italian("Request too large"), where

    # The token in the body: the CSRF check reads at most MAX_FORM_BYTES.
    check(await mayor.http.post(url, data={"csrf_token": token, "body": huge}), "form token")
    check(await mayor.http.post(url, data={"body": huge}), "no token")
    # The token in the header: the handler refuses to parse the form.
    check(
        await mayor.http.post(url, data={"body": huge}, headers={"X-CSRF-Token": token}),
        "header token",
    )

    # Without a Content-Length (chunked), the limit still holds.
    async def chunks() -> AsyncIterator[bytes]:
        yield f"csrf_token={token}&body=".encode()
        for _ in range(MAX_FORM_BYTES // 4096 + 2):
            yield b"x" * 4096

    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    check(await mayor.http.post(url, content=chunks(), headers=form_type), "chunked")
    check(
        await mayor.http.post(url, content=chunks(), headers={**form_type, "X-CSRF-Token": token}),
        "chunked, header token",
    )
    assert await snapshot(db) == before

    # Just under the limit is fine.
    body = "y" * (actions.MAX_BODY - 10)
    ok = await mayor.http.post(url, data={"csrf_token": token, "body": body})
    assert ok.status_code == 303


def cookie_flags(response: httpx.Response, name: str) -> dict[str, str]:
    """The attributes of the ``Set-Cookie`` for ``name`` (names lower-cased)."""
    for header in response.headers.get_list("set-cookie"):
        cookie, *attributes = (part.strip() for part in header.split(";"))
        if cookie.split("=", 1)[0] == name:
            flags: dict[str, str] = {}
            for attribute in attributes:
                key, _, value = attribute.partition("=")
                flags[key.lower()] = value.lower()
            return flags
    raise AssertionError(f"no Set-Cookie for {name}")


async def test_session_cookie_is_httponly_and_samesite_lax(
    new_client: Callable[[], Client], world: World
) -> None:
    client = new_client()
    anonymous = await client.http.get("/login")
    flags = cookie_flags(anonymous, "collab_session")
    assert "httponly" in flags and flags["samesite"] == "lax" and "secure" not in flags
    response = await client.login(email("sindaco5"))
    flags = cookie_flags(response, "collab_session")
    assert "httponly" in flags and flags["samesite"] == "lax"
    assert "secure" not in flags  # plain http: a Secure cookie would never come back


@pytest.fixture
async def https_app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(replace(settings, base_url="https://x"))
    async with application.router.lifespan_context(application):
        yield application


async def test_session_cookie_is_secure_behind_https(https_app: Starlette, world: World) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=https_app), base_url="https://x"
    ) as http:
        client = Client(http)
        anonymous = await http.get("/login")
        assert "secure" in cookie_flags(anonymous, "collab_session")
        assert anonymous.headers["strict-transport-security"].startswith("max-age=")
        response = await client.login(email("sindaco5"))
        flags = cookie_flags(response, "collab_session")
        assert {"secure", "httponly"} <= flags.keys() and flags["samesite"] == "lax"
        # The secure session works: the user is logged in, and CSRF still applies.
        home = await client.get("/")
        assert parse(home).select_one('[data-testid="current-user"]') is not None
        refused = await http.post("/logout", data={"_": "1"})
        assert refused.status_code == 403
