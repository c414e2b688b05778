"""Frames framed once and written straight to the transport (collab/realtime/wire.py).

The bytes must be exactly what the websocket library would have sent, the
fast path must really be taken under the uvicorn the project installs, and
every case where it would be wrong must go through ASGI's ``send``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, MutableMapping
from types import SimpleNamespace
from typing import Any, cast

import pytest
import uvicorn
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from collab.realtime import wire
from collab.realtime.connection import Connection
from collab.realtime.wire import Wire, wire_frame
from tests.servers import free_port

# Sizes around the three length encodings of RFC 6455 (7 bits, 16, 64).
TEXTS = [
    "",
    "a" * 125,
    "b" * 126,
    "è" * 40_000,  # 80,000 bytes: the 64-bit length
    "c" * 65_535,
    "d" * 65_536,
    '<template data-topic="thread:1" data-seq="2"></template><p>Città</p>',
]


@pytest.mark.parametrize("text", TEXTS, ids=lambda t: f"{len(t.encode())}B")
def test_a_frame_is_the_bytes_the_websocket_library_would_send(text: str) -> None:
    expected = Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])
    assert wire_frame(text) == expected


def test_the_same_text_is_framed_once() -> None:
    text = "x" * 300 + "unico"
    assert wire_frame(text) is wire_frame("".join(["x" * 300, "unico"]))


# --- a real uvicorn, in this process --------------------------------------------------


class Served:
    def __init__(self) -> None:
        self.direct: list[bool] = []
        self.framed = 0  # frames that went straight to the transport
        self.port = free_port()


@pytest.fixture
async def served(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    """uvicorn with its default websocket protocol and permessage-deflate
    accepted; each socket gets ``TEXTS`` through ``Connection.write``."""
    state = Served()

    def counted(text: str) -> bytes:
        state.framed += 1
        return wire_frame(text)

    monkeypatch.setattr(wire, "wire_frame", counted)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "websocket"
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        conn = Connection(WebSocket(scope, receive, send), None, "it", len(TEXTS) + 1)
        state.direct.append(Wire(send).direct)
        for text in TEXTS:
            conn.put(text)
        writer = asyncio.create_task(conn.write(send))
        await receive()  # until the client goes
        writer.cancel()

    config = uvicorn.Config(
        app, host="127.0.0.1", port=state.port, lifespan="off", log_level="warning",
        ws_per_message_deflate=True,
    )  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    yield state
    server.should_exit = True
    await task


async def received(port: int, compression: str | None) -> list[str]:
    url = f"ws://127.0.0.1:{port}/"
    async with connect(url, compression=compression, max_size=None) as socket:
        return [str(await socket.recv()) for _ in TEXTS]


async def test_plain_sockets_get_the_frames_straight_from_the_transport(served: Served) -> None:
    assert await received(served.port, None) == TEXTS
    assert served.direct == [True]
    assert served.framed == len(TEXTS)


async def test_with_permessage_deflate_every_frame_goes_through_send(served: Served) -> None:
    assert await received(served.port, "deflate") == TEXTS
    assert served.direct == [False]
    assert served.framed == 0


# --- when the transport must not be written to directly --------------------------------


class FakeProtocol:
    def __init__(self) -> None:
        self.writable = asyncio.Event()
        self.writable.set()
        self.disconnected = False
        self.close_sent = False
        self.conn = SimpleNamespace(state=State.OPEN, extensions=[])
        self.written: list[bytes] = []
        self.transport = SimpleNamespace(write=self.written.append)

    async def send(self, message: MutableMapping[str, Any]) -> None:
        raise AssertionError("not called in these tests")


@pytest.fixture
def protocol(monkeypatch: pytest.MonkeyPatch) -> FakeProtocol:
    monkeypatch.setattr(wire, "_Protocol", FakeProtocol)
    return FakeProtocol()


async def test_an_open_writable_socket_is_written_directly(protocol: FakeProtocol) -> None:
    assert Wire(protocol.send).write_now("ciao")
    assert protocol.written == [wire_frame("ciao")]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda p: p.writable.clear(), id="paused-by-flow-control"),
        pytest.param(lambda p: setattr(p, "disconnected", True), id="disconnected"),
        pytest.param(lambda p: setattr(p, "close_sent", True), id="close-sent"),
        pytest.param(lambda p: setattr(p.conn, "state", State.CLOSING), id="closing"),
    ],
)
async def test_otherwise_the_frame_goes_through_send(protocol: FakeProtocol, change: Any) -> None:
    wire_ = Wire(protocol.send)
    change(protocol)
    assert not wire_.write_now("ciao")
    assert protocol.written == []


async def test_an_extension_or_another_server_means_send_only(protocol: FakeProtocol) -> None:
    protocol.conn.extensions = [object()]
    assert not Wire(protocol.send).direct

    async def plain_send(message: MutableMapping[str, Any]) -> None:
        pass

    assert not Wire(plain_send).direct


async def test_a_frame_put_while_the_writer_waits_skips_the_outbox(
    protocol: FakeProtocol,
) -> None:
    conn = Connection(cast(WebSocket, None), None, "it", 4)
    writer = asyncio.create_task(conn.write(protocol.send))
    await asyncio.sleep(0)  # the writer starts and waits
    waiting = conn.waiter
    assert waiting is not None
    conn.put("subito")
    assert protocol.written == [wire_frame("subito")]
    assert not conn.frames and conn.waiter is waiting  # no queue, no wake-up
    # Paused by flow control: the frame waits in the outbox, for the writer.
    protocol.writable.clear()
    conn.put("dopo")
    assert list(conn.frames) == ["dopo"] and conn.waiter is None
    conn.put("ancora")  # behind it, never before it
    assert list(conn.frames) == ["dopo", "ancora"]
    writer.cancel()
