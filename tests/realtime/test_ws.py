"""The websocket endpoint, in process: Starlette's test client runs the app
(lifespan, hub, in-memory layer) in its own event loop; writes go through the
same client, as another user, so they travel the real event path."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from typing import Any

import anyio
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select, update
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from collab.accounts.actions import do_update_user
from collab.admin.actions import do_update_comune
from collab.app import create_app
from collab.db import Database, UnitOfWork
from collab.demo import DEMO_PASSWORD, load_demo
from collab.models import Role, User
from collab.realtime import beats as beats_module
from collab.realtime import ws as ws_module
from collab.realtime.connection import Connection
from collab.settings import Settings

MAYOR = "sindaco.pinerolo@demo.collab.it"  # zone 5
TECH5 = "tecnico.luserna@demo.collab.it"  # zone 5
TECH9 = "tecnico.ivrea@demo.collab.it"  # zone 9


def _token(html: str) -> str:
    node = BeautifulSoup(html, "html.parser").select_one('input[name="csrf_token"]')
    assert node is not None
    return str(node["value"])


class Browser:
    """One TestClient, logging in as whoever acts next (cookies are per login)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def login(self, email: str) -> None:
        self.client.cookies.clear()
        token = _token(self.client.get("/login").text)
        response = self.client.post(
            "/login",
            data={"email": email, "password": DEMO_PASSWORD, "csrf_token": token, "next": "/"},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text

    def post(self, url: str, data: dict[str, str]) -> Any:
        token = _token(self.client.get("/").text)
        return self.client.post(url, data={**data, "csrf_token": token}, follow_redirects=False)

    def upload(self, url: str, data: dict[str, str], files: list[tuple[str, Any]]) -> Any:
        """A multipart post, the CSRF token its first field (as upload forms send it)."""
        token = _token(self.client.get("/").text)
        return self.client.post(
            url, data={"csrf_token": token, **data}, files=files, follow_redirects=False
        )

    def new_thread(self, title: str = "Navetta", body: str = "Proposta") -> int:
        response = self.post("/zones/5/trasporti-mobilita/new", {"title": title, "body": body})
        assert response.status_code == 303
        return int(response.headers["location"].rsplit("/", 1)[1])


@pytest.fixture
def browser(settings: Settings, database_url: str) -> Iterator[Browser]:
    async def demo() -> None:
        db = Database(database_url)
        await load_demo(db)
        await db.dispose()

    asyncio.run(demo())
    app = create_app(replace(settings, ws_heartbeat=1))
    with TestClient(app) as client:
        yield Browser(client)


FRAMES_WITHIN = 30.0  # seconds: a missed event fails the test instead of hanging the run


async def _receive_within(rx: Any, seconds: float) -> Any:
    with anyio.fail_after(seconds):
        return await rx.receive()


def receive_text(ws: Any, within: float = FRAMES_WITHIN) -> str:
    """The socket's next text message; TimeoutError after ``within`` seconds of silence."""
    message = ws.portal.call(_receive_within, ws._send_rx, within)
    ws._raise_on_close(message)
    return str(message["text"])


def frames(ws: Any, n: int, within: float = FRAMES_WITHIN) -> list[BeautifulSoup]:
    """The next ``n`` event frames (heartbeats and presence skipped), parsed;
    fails when they have not all arrived within ``within`` seconds."""
    deadline = time.monotonic() + within
    got: list[BeautifulSoup] = []
    while len(got) < n:
        try:
            text = receive_text(ws, max(deadline - time.monotonic(), 0.0))
        except TimeoutError:
            pytest.fail(f"{len(got)} of {n} event frames arrived within {within:.0f}s")
        soup = BeautifulSoup(text, "html.parser")
        if soup.select_one("template[data-topic]") is not None:
            got.append(soup)
    return got


def head(frame: BeautifulSoup) -> tuple[str, int]:
    node = frame.select_one("template[data-topic]")
    assert node is not None
    return str(node["data-topic"]), int(str(node["data-seq"]))


def subscribe(ws: Any, topics: dict[str, int | None]) -> None:
    ws.send_text(json.dumps({"type": "subscribe", "topics": topics}))


def test_a_reply_reaches_another_users_socket(browser: Browser) -> None:
    browser.login(MAYOR)
    thread = browser.new_thread()
    browser.login(TECH5)
    with browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, {f"thread:{thread}": None})
        browser.login(MAYOR)
        assert browser.post(f"/threads/{thread}/reply", {"body": "Ci **sono**"}).status_code == 303
        (frame,) = frames(ws, 1)
    assert head(frame) == (f"thread:{thread}", 1)
    op = frame.select_one("template[data-op]")
    assert op is not None and op["data-op"] == "append" and op["data-target"] == "#posts"
    article = BeautifulSoup(op.decode_contents(), "html.parser").select_one("article")
    assert article is not None
    assert article.select_one(".post-body strong").get_text() == "sono"
    # The technician is not the author: no edit controls in their variant.
    assert article.select_one('a[href$="/edit"]') is None
    announce = frame.select_one("template[data-topic]")
    assert announce is not None and "Sindaco di Pinerolo" in str(announce["data-announce"])


def test_replay_sends_what_was_missed_in_order(browser: Browser) -> None:
    browser.login(MAYOR)
    thread = browser.new_thread()
    for n in range(3):
        browser.post(f"/threads/{thread}/reply", {"body": f"risposta {n}"})
    browser.login(TECH5)
    with browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, {f"thread:{thread}": 1})
        got = frames(ws, 2)
    assert [head(f) for f in got] == [(f"thread:{thread}", 2), (f"thread:{thread}", 3)]


def test_zone_page_topic_gets_new_threads(browser: Browser) -> None:
    browser.login(TECH5)
    page = browser.client.get("/zones/5")
    live = BeautifulSoup(page.text, "html.parser").select_one("#live")
    assert live is not None
    topics = json.loads(str(live["data-topics"]))
    (topic,) = topics
    with browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, topics)
        browser.login(MAYOR)
        browser.new_thread(title="Orari estivi")
        (frame,) = frames(ws, 1)
    assert head(frame) == (topic, topics[topic] + 1)
    ops = {str(op["data-id"]): op for op in frame.select("template[data-op]")}
    row = BeautifulSoup(
        ops[next(k for k in ops if k.startswith("thread-"))].decode_contents(), "html.parser"
    )
    assert row.select_one("a").get_text(strip=True) == "Orari estivi"


def _live_topics(html: str) -> dict[str, int] | None:
    live = BeautifulSoup(html, "html.parser").select_one("#live")
    return None if live is None else json.loads(str(live["data-topics"]))


def test_theme_page_and_home_page_follow_their_boards(browser: Browser) -> None:
    browser.login(TECH5)
    page = BeautifulSoup(browser.client.get("/zones/5/trasporti-mobilita").text, "html.parser")
    topics = _live_topics(str(page))
    assert topics is not None and list(topics) == ["zone:5"]
    threads = page.select_one("#theme-threads")
    assert threads is not None
    list_key = str(threads["data-thread-list"])
    assert list_key.startswith("zone:5/theme:")
    assert threads["data-live-sort"] == "pinned activity"
    # The home page follows every board the user may read (here zone 5 and
    # the metropolitan one), with the seq each shows.
    home_topics = _live_topics(browser.client.get("/").text)
    assert home_topics is not None and sorted(home_topics) == ["metro", "zone:5"]

    with browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, home_topics)
        browser.login(MAYOR)
        browser.new_thread(title="Orari estivi")
        (frame,) = frames(ws, 1)
    assert head(frame) == ("zone:5", home_topics["zone:5"] + 1)
    ops = {str(op["data-id"]): op for op in frame.select("template[data-op]")}
    row_id = next(k for k in ops if k.startswith("thread-"))
    # One row, placed in whichever of the zone's lists the page shows.
    assert ops[row_id]["data-op"] == "place"
    assert f'[data-thread-list="{list_key}"]' in str(ops[row_id]["data-target"])
    assert '[data-thread-list="zone:5"]' in str(ops[row_id]["data-target"])
    summary = BeautifulSoup(ops["zone-summary-5"].decode_contents(), "html.parser")
    assert summary.select_one(f'a[href="/threads/{row_id.removeprefix("thread-")}"]') is not None
    assert "Orari estivi" in summary.get_text()


def test_home_page_has_no_socket_without_login(browser: Browser) -> None:
    browser.client.cookies.clear()
    assert _live_topics(browser.client.get("/").text) is None


@pytest.mark.parametrize(
    ("who", "topics", "code"),
    [
        (None, {"zone:1": None}, 4401),
        (TECH9, {"zone:5": None}, 4403),  # another zone's board
        (TECH9, {"thread:999999": None}, 4403),  # no such thread
        (TECH5, {"bogus": None}, 4403),
        (TECH5, {"user:1": None}, 4403),  # another user's own topic
        (TECH5, {"zone:5": "x"}, 4400),
    ],
)
def test_subscriptions_are_authorized(
    browser: Browser, who: str | None, topics: dict[str, Any], code: int
) -> None:
    if who is None:
        browser.client.cookies.clear()
    else:
        browser.login(who)
    with browser.client.websocket_connect("/ws") as ws:
        if code != 4401:
            subscribe(ws, topics)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == code


MALFORMED = [
    "[]",
    '["subscribe", {"zone:5": null}]',
    '"subscribe"',
    "42",
    "3.5",
    "null",
    "true",
    "{}",
    "not json",
    '{"type": "subscribe"}',
    '{"type": "subscribe", "topics": []}',
    '{"type": "subscribe", "topics": "zone:5"}',
    '{"type": ["subscribe"], "topics": {}}',
    '{"type": "subscribe", "topics": {"zone:5": -1}}',
    '{"type": "subscribe", "topics": {"zone:5": 1e400}}',
    '{"type": "subscribe", "topics": {"zone:5": 99999999999999999999}}',
    '{"type": "subscribe", "topics": {"zone:5": true}}',
    '{"type": "subscribe", "topics": {"zone:5": NaN}}',
    "[" * 100_000 + "]" * 100_000,  # deep enough to exhaust the parser
]


def test_every_malformed_subscription_closes_with_4400(browser: Browser) -> None:
    """Regression (issue 14): an array, a string, a number or null closed the
    socket with 1011 and a traceback instead of 4400."""
    browser.login(TECH5)
    for text in MALFORMED:
        with browser.client.websocket_connect("/ws") as ws:
            ws.send_text(text)
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_text()
        assert closed.value.code == 4400, text[:60]
    with browser.client.websocket_connect("/ws") as ws:
        ws.send_bytes(b'{"type": "subscribe", "topics": {}}')  # a binary frame
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == 4400
    # A topic id of non-ASCII digits ("²" is a digit to str.isdigit) is no topic.
    with browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, {"thread:\u00b2": None})
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == 4403


def test_a_cross_origin_handshake_is_refused(browser: Browser) -> None:
    browser.login(TECH5)
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        browser.client.websocket_connect("/ws", headers={"origin": "https://evil.example"}) as ws,
    ):
        ws.receive_text()
    assert closed.value.code == 4403


def test_a_session_that_ends_closes_the_socket(
    browser: Browser, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A write that bypasses the actions sends no user.changed: the periodic
    # full check (every other beat here, every 20th for real) still ends it.
    monkeypatch.setattr(beats_module, "FULL_CHECK_EVERY", 2)
    browser.login(TECH5)
    with browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, {"zone:5": None})

        async def deactivate() -> None:
            db = Database(database_url)
            async with db.transaction() as uow:
                await uow.session.execute(
                    update(User).where(User.email == TECH5).values(active=False)
                )
            await db.dispose()

        asyncio.run(deactivate())
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                ws.receive_text()  # heartbeats until the next re-check fails
    assert closed.value.code == 4401


def presence_frames(ws: Any, topic: str, count: int) -> BeautifulSoup:
    """Read frames until a presence frame of ``topic`` shows ``count`` people."""
    while True:
        soup = BeautifulSoup(ws.receive_text(), "html.parser")
        node = soup.select_one(f'template[data-presence="{topic}"]')
        if node is not None and int(str(node["data-count"])) == count:
            return node


def test_presence_counts_people_on_a_thread(browser: Browser) -> None:
    browser.login(MAYOR)
    thread = browser.new_thread()
    topic = f"thread:{thread}"
    with browser.client.websocket_connect("/ws") as mayor_ws:
        subscribe(mayor_ws, {topic: None})
        node = presence_frames(mayor_ws, topic, 1)
        assert node["data-names"] == "Sindaco di Pinerolo"
        assert node["data-label"] == "1 persona qui"
        browser.login(TECH5)
        with browser.client.websocket_connect("/ws") as tech_ws:
            subscribe(tech_ws, {topic: None})
            node = presence_frames(mayor_ws, topic, 2)
            assert node["data-label"] == "2 persone qui"
            assert node["data-names"] == "Sindaco di Pinerolo, Tecnico di Luserna San Giovanni"
        # The technician left: the mayor is alone again.
        presence_frames(mayor_ws, topic, 1)


class _Sent:
    """The server's send, as the writer sees it; fails once ``fail_after`` frames went."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.texts: list[str] = []
        self.fail_after = fail_after

    async def __call__(self, message: dict[str, Any]) -> None:
        if self.fail_after is not None and len(self.texts) >= self.fail_after:
            raise OSError("client went away")  # what uvicorn raises (ClientDisconnected)
        assert message["type"] == "websocket.send"
        self.texts.append(message["text"])


async def test_a_socket_that_falls_behind_is_dropped_not_waited_for() -> None:
    conn = Connection(None, User(id=1, name="A"), "it", queue_size=3)  # type: ignore[arg-type]
    for n in range(3):
        conn.deliver("thread:1", n + 1, f"frame {n}")
    assert not conn.overflowed and not conn.ended.done()
    conn.deliver("thread:1", 4, "frame 3")  # one too many: the socket is dropped
    assert conn.overflowed and conn.ended.result() == 1013
    assert not conn.frames  # what it held is freed at once
    conn.deliver("thread:1", 5, "frame 4")
    assert not conn.frames  # and it takes nothing more


async def test_the_writer_sends_in_order_and_waits_when_empty() -> None:
    conn = Connection(None, User(id=1, name="A"), "it", queue_size=8)  # type: ignore[arg-type]
    sent = _Sent()
    writer = asyncio.create_task(conn.write(sent))
    conn.deliver("thread:1", 1, "a")
    conn.deliver("thread:1", 2, "b")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert sent.texts == ["a", "b"]
    conn.deliver("thread:1", 3, "c")  # wakes the waiting writer
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert sent.texts == ["a", "b", "c"]
    assert not writer.done()
    writer.cancel()


async def test_the_writer_ends_quietly_when_the_client_is_gone() -> None:
    conn = Connection(None, User(id=1, name="A"), "it", queue_size=8)  # type: ignore[arg-type]
    sent = _Sent(fail_after=1)
    for text in ("a", "b", "c"):
        conn.deliver("thread:1", 1, text)
    await asyncio.wait_for(conn.write(sent), 1)  # returns, raises nothing
    assert sent.texts == ["a"]


@pytest.fixture
def quiet_browser(settings: Settings, database_url: str) -> Iterator[Browser]:
    """The demo app with heartbeats an hour apart: only events can close a socket."""

    async def demo() -> None:
        db = Database(database_url)
        await load_demo(db)
        await db.dispose()

    asyncio.run(demo())
    app = create_app(replace(settings, ws_heartbeat=3600))
    with TestClient(app) as client:
        yield Browser(client)


def _act(browser: Browser, change: Callable[[UnitOfWork, User], Awaitable[None]]) -> None:
    """Run ``change`` (as the demo admin) in the app's own loop and database,
    so its events travel the real path: log, layer, hub."""
    app = browser.client.app
    assert isinstance(app, Starlette)
    db: Database = app.state.services.db

    async def run() -> None:
        async with db.transaction() as uow:
            admin = await uow.session.scalar(select(User).where(User.role == Role.ADMIN))
            assert admin is not None
            await change(uow, admin)

    assert browser.client.portal is not None
    browser.client.portal.call(run)


def _closed_with(ws: Any) -> int:
    with pytest.raises(WebSocketDisconnect) as closed:
        while True:
            ws.receive_text()
    return closed.value.code


def test_a_deactivated_user_is_disconnected_at_once(quiet_browser: Browser) -> None:
    quiet_browser.login(TECH5)
    with quiet_browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, {"zone:5": None})

        async def deactivate(uow: UnitOfWork, admin: User) -> None:
            user = await uow.session.scalar(select(User).where(User.email == TECH5))
            assert user is not None and user.comune is not None
            await do_update_user(
                uow, admin, user.id, role="tecnico", comune_istat=user.comune.istat_code,
                active=False,
            )  # fmt: skip

        _act(quiet_browser, deactivate)
        assert _closed_with(ws) == 4401  # no heartbeat in an hour: the event did it


def test_a_comune_moved_to_another_zone_loses_its_old_zone_at_once(
    quiet_browser: Browser,
) -> None:
    quiet_browser.login(TECH5)  # Luserna San Giovanni, ZO 5
    with quiet_browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, {"zone:5": None})

        async def move(uow: UnitOfWork, admin: User) -> None:
            user = await uow.session.scalar(select(User).where(User.email == TECH5))
            assert user is not None and user.comune is not None
            await do_update_comune(uow, admin, user.comune.id, name=user.comune.name, zone_number=9)

        _act(quiet_browser, move)
        assert _closed_with(ws) == 4403  # still logged in, but zone 5 is no longer theirs


def test_heartbeats_do_not_read_the_user_every_beat(
    browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[int] = []
    real = ws_module._still_allowed

    async def counted(ws: Any, topics: dict[str, int | None]) -> None:
        checks.append(1)
        await real(ws, topics)

    monkeypatch.setattr(ws_module, "_still_allowed", counted)
    browser.login(TECH5)
    with browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, {"zone:5": None})
        beats = 0
        while beats < 4:  # one second apart
            if "data-heartbeat" in ws.receive_text():
                beats += 1
    assert checks == []  # the setup has just checked; beats do again only every 20th
    assert beats_module.FULL_CHECK_EVERY == 20


def test_an_open_socket_runs_no_heartbeat_task(quiet_browser: Browser) -> None:
    """Per socket: its handler (which reads, too) and a writer. The heartbeat
    is the process's schedule (one task for all), an overflow a future, not a task."""
    client = quiet_browser.client
    portal = client.portal
    assert portal is not None and isinstance(client.app, Starlette)
    beats = client.app.state.services.beats
    quiet_browser.login(TECH5)

    async def tasks() -> set[asyncio.Task[Any]]:
        return asyncio.all_tasks() - {asyncio.current_task()}  # not the portal's own call

    with contextlib.ExitStack() as stack:
        first = stack.enter_context(client.websocket_connect("/ws"))
        subscribe(first, {"zone:5": None})
        while portal.call(lambda: asyncio.sleep(0.01, beats._live)) < 1:
            pass
        one = portal.call(tasks)
        for _ in range(4):
            subscribe(stack.enter_context(client.websocket_connect("/ws")), {"zone:5": None})
        while portal.call(lambda: asyncio.sleep(0.01, beats._live)) < 5:
            pass
        # The tasks started since: a background task that ended meanwhile
        # (a worker's startup pass) must not be counted against the sockets.
        new = portal.call(tasks) - one
        assert len(new) == 4 * 2, new  # the client's side runs the handler here
