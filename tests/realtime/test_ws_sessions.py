"""Server-side sessions and sockets (issue 14, finding 1): when a session
ends (logout, a password change or reset, "log out of all other devices")
its open sockets close with 4401 at once, on an event, not at a heartbeat
(they are an hour apart here), and a copy of its cookie opens none; the
sessions that stay keep their sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from collab.accounts.reset import do_request_reset
from collab.app import create_app
from collab.db import Database
from collab.demo import DEMO_PASSWORD, load_demo
from collab.models import User
from collab.settings import Settings
from tests.realtime.test_ws import TECH5, Browser, frames, receive_text, subscribe

COOKIE = "collab_session"
NEW_PASSWORD = "una-nuova-password-lunga-e-sicura"
CLOSED_WITHIN = 10.0  # seconds: far less than the hour between heartbeats


@pytest.fixture
def quiet(settings: Settings, database_url: str) -> Iterator[Browser]:
    """The demo app with heartbeats an hour apart: only events can close a socket."""

    async def demo() -> None:
        db = Database(database_url)
        await load_demo(db)
        await db.dispose()

    asyncio.run(demo())
    app = create_app(replace(settings, ws_heartbeat=3600))
    with TestClient(app) as client:
        yield Browser(client)


def closed_with(ws: Any) -> int:
    """The close code, which must come within :data:`CLOSED_WITHIN` seconds."""
    with pytest.raises(WebSocketDisconnect) as closed:
        while True:
            try:
                receive_text(ws, CLOSED_WITHIN)
            except TimeoutError:
                pytest.fail(f"the socket was still open after {CLOSED_WITHIN:.0f}s")
    return closed.value.code


def use(browser: Browser, cookies: httpx.Cookies) -> None:
    browser.client.cookies = httpx.Cookies(cookies)


def two_sessions(browser: Browser, email: str) -> tuple[httpx.Cookies, httpx.Cookies]:
    browser.login(email)
    first = httpx.Cookies(browser.client.cookies)
    browser.login(email)  # clears the jar first: a second device
    return first, httpx.Cookies(browser.client.cookies)


def refused(browser: Browser) -> int:
    with browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, {"zone:5": None})
        return closed_with(ws)


def test_logout_closes_the_socket_and_its_cookie_opens_no_other(quiet: Browser) -> None:
    quiet.login(TECH5)
    copied = httpx.Cookies(quiet.client.cookies)
    with quiet.client.websocket_connect("/ws") as ws:
        subscribe(ws, {"zone:5": None})
        assert quiet.post("/logout", {}).status_code == 303
        assert closed_with(ws) == 4401
    use(quiet, copied)
    assert refused(quiet) == 4401
    page = quiet.client.get("/account/password", follow_redirects=False)
    assert page.status_code == 303


def _change_password(browser: Browser) -> None:
    response = browser.post(
        "/account/password",
        {"current": DEMO_PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 200


def _end_others(browser: Browser) -> None:
    assert browser.post("/account/sessions/end-others", {}).status_code == 303


@pytest.mark.parametrize("end", [_change_password, _end_others])
def test_the_other_devices_sockets_close_and_this_ones_stays(quiet: Browser, end: Any) -> None:
    other, this = two_sessions(quiet, TECH5)
    use(quiet, other)
    with quiet.client.websocket_connect("/ws") as elsewhere:
        subscribe(elsewhere, {"zone:5": None})
        use(quiet, this)
        with quiet.client.websocket_connect("/ws") as here:
            subscribe(here, {"zone:5": None})
            end(quiet)
            assert closed_with(elsewhere) == 4401
            # This device's socket went through the same check and is still live.
            thread = quiet.new_thread("Dopo", "Ancora collegato")
            (frame,) = frames(here, 1)
            assert f"/threads/{thread}" in str(frame)
    use(quiet, other)
    assert refused(quiet) == 4401


def test_a_password_reset_closes_every_socket(quiet: Browser) -> None:
    quiet.login(TECH5)
    with quiet.client.websocket_connect("/ws") as ws:
        subscribe(ws, {"zone:5": None})
        app = quiet.client.app
        assert isinstance(app, Starlette)
        db: Database = app.state.services.db

        async def ask() -> str:
            async with db.transaction() as uow:
                user = await uow.session.scalar(select(User).where(User.email == TECH5))
                assert user is not None
                asked = await do_request_reset(uow, TECH5, "127.0.0.1")
            assert asked is not None
            return asked.token

        assert quiet.client.portal is not None
        token = quiet.client.portal.call(ask)
        stranger = quiet.client.cookies
        quiet.client.cookies = httpx.Cookies()
        response = quiet.post(
            f"/password/reset/{token}", {"new": NEW_PASSWORD, "confirm": NEW_PASSWORD}
        )
        assert response.status_code == 303
        assert closed_with(ws) == 4401
        quiet.client.cookies = stranger
    assert refused(quiet) == 4401
