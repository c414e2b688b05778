"""An idle socket under a real uvicorn: peers gone silent are closed by the
pings that ride on the heartbeats, and an open socket keeps neither the
handshake nor the middleware chain.

uvicorn runs with the Procfile's flags (no pings of its own) and the
heartbeats every 0.25 s, the pong timeout 0.5 s (the app's 25 s and 20 s
would make slow tests); the last test checks that every place that serves
the app uses the same flags.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.asyncio.client import connect
from websockets.frames import Frame, Opcode

from bench.procs import COLLAB_WS_KEEPALIVE, uvicorn_argv
from collab.cookies import SESSION_COOKIE
from collab.realtime import beats as beats_module
from collab.realtime.beats import PING_EVERY, Beats
from collab.realtime.wire import KEEPALIVE_ATTRIBUTES
from tests.helpers import Client
from tests.servers import ROOT, WS_KEEPALIVE, free_port

BEAT = 0.25  # seconds: the heartbeat interval in these tests
PONG_TIMEOUT = 0.5
SUBSCRIBE = json.dumps({"type": "subscribe", "topics": {}})


class Served:
    def __init__(self, server: uvicorn.Server, port: int, beats: Beats, cookie: str) -> None:
        self.server = server
        self.port = port
        self.beats = beats
        self.cookie = cookie

    async def until_beating(self, count: int) -> None:
        """Wait until ``count`` sockets are set up (in the heartbeat schedule)."""
        async with asyncio.timeout(20):
            while self.beats._live != count:  # noqa: ASYNC110 - nothing to wait on
                await asyncio.sleep(0.02)


@pytest.fixture
async def served(
    app: Starlette, login_as: Callable[[str], Awaitable[Client]], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Served]:
    """The app (its lifespan already running) under uvicorn, beating every ``BEAT`` s."""
    beats: Beats = app.state.services.beats
    monkeypatch.setattr(beats, "interval", BEAT)
    monkeypatch.setattr(beats, "tick", BEAT / 20)
    monkeypatch.setattr(beats_module, "PONG_TIMEOUT", PONG_TIMEOUT)
    client = await login_as("sindaco5")
    cookie = client.http.cookies[SESSION_COOKIE]
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="off", log_level="warning",
        ws_per_message_deflate=False, ws_ping_interval=0,
    )  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    yield Served(server, port, beats, cookie)
    server.should_exit = True
    await task


async def silent_peer(served: Served) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A client that opens and subscribes, then never reads again (nor answers a ping)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nCookie: {SESSION_COOKIE}={served.cookie}\r\n\r\n"
        ).encode()
    )
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    writer.write(Frame(Opcode.TEXT, SUBSCRIBE.encode()).serialize(mask=True, extensions=[]))
    return reader, writer


async def test_a_peer_that_stops_answering_pings_is_closed(served: Served) -> None:
    reader, writer = await silent_peer(served)
    await served.until_beating(1)
    # Closed at the first beat more than the pong timeout after a ping, with
    # uvicorn's own close, and the handler ends: the socket leaves the
    # schedule (and its topics, its presence).
    await served.until_beating(0)
    async with asyncio.timeout(10):
        received = await reader.read()  # all the server sent, up to its close
    writer.close()
    close = Frame(Opcode.CLOSE, (1011).to_bytes(2, "big") + b"keepalive ping timeout")
    assert received.endswith(close.serialize(mask=False, extensions=[]))


async def test_a_peer_that_answers_pings_stays_open(served: Served) -> None:
    url = f"ws://127.0.0.1:{served.port}/ws"
    headers = {"Cookie": f"{SESSION_COOKIE}={served.cookie}"}
    async with connect(url, additional_headers=headers, ping_interval=None) as socket:
        await socket.send(SUBSCRIBE)
        await served.until_beating(1)
        await asyncio.sleep(PONG_TIMEOUT * 8)  # the client library answers every ping
        assert served.beats._live == 1
        await socket.ping()  # still open both ways


async def test_pings_ride_on_heartbeats(served: Served) -> None:
    """Every PING_EVERY-th heartbeat comes with a ping in the same write; a
    peer that answers each one stays open."""
    reader, writer = await silent_peer(served)
    await served.until_beating(1)
    heartbeats = pings = 0
    async with asyncio.timeout(10):
        while heartbeats < 4 * PING_EVERY:
            head = await reader.readexactly(2)
            size = head[1] & 0x7F
            if size == 126:
                size = int.from_bytes(await reader.readexactly(2), "big")
            payload = await reader.readexactly(size)
            if head[0] == 0x89:  # FIN + ping: answer it, masked as a client must
                pings += 1
                writer.write(Frame(Opcode.PONG, payload).serialize(mask=True, extensions=[]))
            elif b"data-heartbeat" in payload:
                heartbeats += 1
    assert pings >= 3, (heartbeats, pings)
    assert served.beats._live == 1
    writer.close()


def test_uvicorn_has_what_the_pings_use() -> None:
    """The pings set and read uvicorn's own keep-alive state: an uvicorn
    without it would leave idle sockets with no pings at all."""
    for name in KEEPALIVE_ATTRIBUTES:
        assert hasattr(WebSocketsSansIOProtocol, name) or name in (
            WebSocketsSansIOProtocol.__init__.__code__.co_names
        ), name


def _awaiting(task: asyncio.Task[Any]) -> list[str]:
    """The qualified names of the coroutines ``task`` is suspended in, outermost first."""
    names = []
    coro: Any = task.get_coro()
    while coro is not None and hasattr(coro, "cr_code"):
        names.append(coro.cr_code.co_qualname)
        coro = coro.cr_await
    return names


async def test_an_idle_socket_keeps_no_handshake_and_no_middleware(served: Served) -> None:
    url = f"ws://127.0.0.1:{served.port}/ws"
    headers = {"Cookie": f"{SESSION_COOKIE}={served.cookie}"}
    async with connect(url, additional_headers=headers) as socket:
        await socket.send(SUBSCRIBE)
        await served.until_beating(1)
        state = served.server.server_state
        (protocol,) = [c for c in state.connections if isinstance(c, WebSocketsSansIOProtocol)]
        # The handshake's request and response (headers) are let go.
        assert protocol.request is None and protocol.response is None
        (task,) = [t for t in state.tasks if "run_asgi" in _awaiting(t)[0]]
        chain = _awaiting(task)
        # The handler waits in Parking, not under the session, CSRF and
        # security-header middleware, the router and Starlette's wrappers.
        below = chain[chain.index("Parking.__call__") + 1 :]
        assert below[:2] == ["_session", "_until_ended"], chain
        assert not [name for name in chain if re.search(r"Session|CSRF|Security|Router", name)]


def test_every_place_that_serves_the_app_pings_alike() -> None:
    flags = " ".join(WS_KEEPALIVE)
    assert flags in (ROOT / "Procfile").read_text()
    assert flags in (ROOT / "Makefile").read_text()
    assert COLLAB_WS_KEEPALIVE == WS_KEEPALIVE
    assert " ".join(uvicorn_argv("collab.app:create_app", 1, factory=True)).count(flags) == 1
    # The benchmarks' baselines keep uvicorn's defaults.
    assert "--ws-ping-interval" not in uvicorn_argv("bench.baselines.bare:app", 1)
