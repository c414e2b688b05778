"""The ceiling of our stack: Starlette + uvicorn broadcasting one text to every socket.

Nothing but what collab's delivery path cannot do without: every websocket has a
bounded ``asyncio.Queue`` and a writer task; ``POST /broadcast`` puts the
request body (decoded once, the same ``str`` for every socket) on every
socket's queue. A socket whose queue is full is closed with 1013, as collab
does with a client that falls behind. Whatever the client sends is read and
ignored (collab's subscribe message).

Run: ``uvicorn bench.baselines.bare:app`` (``BENCH_QUEUE_SIZE`` sets the bound).
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

QUEUE_SIZE = int(os.environ.get("BENCH_QUEUE_SIZE", "256"))


class Peer:
    """One connected socket: its queue and its writer task."""

    __slots__ = ("queue", "websocket", "writer")

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
        self.writer: asyncio.Task[None] | None = None

    async def write(self) -> None:
        get, send = self.queue.get, self.websocket.send_text
        while True:
            await send(await get())

    def overflow(self) -> None:
        """Fell behind: stop writing and close (the client would resume from a log)."""
        if self.writer is not None:
            self.writer.cancel()
        asyncio.get_running_loop().create_task(self._close())

    async def _close(self) -> None:
        with contextlib.suppress(Exception):
            await self.websocket.close(code=1013)


PEERS: set[Peer] = set()


async def websocket_endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    peer = Peer(websocket)
    peer.writer = asyncio.create_task(peer.write())
    PEERS.add(peer)
    try:
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass
    finally:
        PEERS.discard(peer)
        peer.writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await peer.writer


async def broadcast(request: Request) -> PlainTextResponse:
    text = (await request.body()).decode()  # encoded once, shared by every queue
    for peer in list(PEERS):
        try:
            peer.queue.put_nowait(text)
        except asyncio.QueueFull:
            PEERS.discard(peer)
            peer.overflow()
    return PlainTextResponse(str(len(PEERS)))


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"{len(PEERS)} sockets")


app = Starlette(
    routes=[
        WebSocketRoute("/ws", websocket_endpoint),
        Route("/broadcast", broadcast, methods=["POST"]),
        Route("/health", health),
    ]
)
