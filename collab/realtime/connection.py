"""One websocket as the hub sees it, and the middleware that keeps uvicorn's ``send``.

This is the hot path: :meth:`Connection.deliver` runs once per socket per
event. The outbox is bounded (``WS_QUEUE_SIZE`` frames): a socket that falls
behind is closed with 1013 and never slows the others; the page resumes from
the log.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from markupsafe import escape
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from collab.i18n import translations
from collab.models import User
from collab.permissions import Action, can
from collab.realtime.frames import reset_frame
from collab.realtime.sessions import RECHECK
from collab.realtime.wire import Wire

__all__ = ["Connection", "DirectSend"]


class Connection:
    """One websocket as the hub sees it: a bounded outbox drained by a writer task.

    ``deliver`` runs once per socket per event. When the writer is idle and
    the transport takes data, the frame's bytes (framed once for every
    socket, :mod:`collab.realtime.wire`) are written at once, in the hub's
    loop over the sockets: no queue, no task switch. Otherwise the frame
    waits in the outbox, a deque and one future the writer waits on when it
    is empty (an ``asyncio.Queue`` does more per item than this needs), and
    the writer sends it, with the server's own ``send`` (see
    :class:`DirectSend`) when it cannot go straight to the transport.
    """

    def __init__(self, ws: WebSocket, user: User | None, locale: str, queue_size: int) -> None:
        self.ws = ws
        self.user = user
        self.locale = locale
        self.limit = queue_size
        self.frames: deque[str] = deque()
        # Set while the writer waits for frames (the outbox is then empty).
        self.waiter: asyncio.Future[None] | None = None
        # The socket's transport, once the writer runs (wire.py): a frame put
        # while the writer waits goes straight to it, with no task switch.
        self.wire: Wire | None = None
        # Resolved when the socket must close: with the close code (1013 when
        # the outbox overflows, a check's Rejected code), or with the failure
        # the handler turns into one. One future, not a task waiting per cause.
        self.ended: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        # What a user.changed event calls: the socket checks at once (ws.live).
        self.on_recheck: Callable[[], None] | None = None
        # A user.changed event that came before on_recheck was set (while the
        # socket was being set up, after its user was read): checked then.
        self.recheck_missed = False
        # The hot path asks this for every event: answer from the table once
        # per zone. A role change ends the session and a move to another zone
        # takes away the old zone's topics; either way the user.changed event
        # has this socket checked and closed at once.
        self._moderates: dict[int | None, bool] = {}
        self._shown_presence: dict[str, list[list[Any]]] = {}

    def moderates(self, zone_id: int | None) -> bool:
        if zone_id not in self._moderates:
            self._moderates[zone_id] = can(self.user, Action.MODERATE, zone_id)
        return self._moderates[zone_id]

    def deliver(self, topic: str, seq: int, payload: Any) -> None:
        if payload is RECHECK:
            # The user's rights changed: check the session and the topics now.
            if self.on_recheck is not None:
                self.on_recheck()
            else:
                self.recheck_missed = True
            return
        self.put(payload)

    def reset(self, topic: str) -> None:
        self.put(reset_frame(topic))

    def presence(self, topic: str, users: list[list[Any]]) -> None:
        if self._shown_presence.get(topic) == users:
            return  # the page shows this list already
        self._shown_presence[topic] = users
        count = len(users)
        label = translations(self.locale).ngettext(
            "%(num)d person here", "%(num)d people here", count
        ) % {"num": count}
        names = ", ".join(str(name) for _, name in users)
        self.put(
            f'<template data-presence="{escape(topic)}" data-count="{count}" '
            f'data-label="{escape(label)}" data-names="{escape(names)}"></template>'
        )

    def put(self, frame: str) -> None:
        waiter = self.waiter
        if waiter is not None and self.wire is not None and self.wire.write_now(frame):
            return  # nothing queued before it and the writer idle: order kept
        frames = self.frames
        if len(frames) >= self.limit:
            # Never wait for a slow client: drop it, it resumes from the log.
            self.limit = -1  # and take nothing more
            frames.clear()
            self.close(1013)
            return
        frames.append(frame)
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def beat(self, frame: str, *, ping: bool, pong_timeout: float) -> None:
        """The heartbeat ``frame``, with a ping riding on it if ``ping`` and it
        goes straight to the transport. A peer whose last ping has waited
        more than ``pong_timeout`` seconds for its pong is gone: its
        connection is closed (code 1011), as uvicorn's own pings would."""
        wire = self.wire
        if wire is not None and wire.peer_silent(pong_timeout):
            wire.drop_peer()
            return
        if self.waiter is not None and wire is not None and wire.write_now(frame, ping=ping):
            return
        self.put(frame)  # behind other frames, or through ``send``
        if ping and wire is not None:
            wire.ping()

    @property
    def overflowed(self) -> bool:
        return self.limit < 0

    def close(self, code: int) -> None:
        """Have the socket closed with ``code`` (the first reason given wins)."""
        if not self.ended.done():
            self.ended.set_result(code)

    def fail(self, exc: BaseException) -> None:
        """Have the socket closed for ``exc``: the handler picks the code."""
        if not self.ended.done():
            self.ended.set_exception(exc)

    async def write(self, send: Send) -> None:
        """Send what the outbox holds, in order, until the socket goes."""
        frames = self.frames
        loop = asyncio.get_running_loop()
        wire = self.wire = Wire(send)  # the same bytes to every socket, framed once
        try:
            while True:
                while frames:
                    text = frames.popleft()
                    if not wire.write_now(text):
                        await send({"type": "websocket.send", "text": text})
                self.waiter = loop.create_future()
                await self.waiter
        except OSError:
            return  # the client went away (uvicorn's ClientDisconnected)


class DirectSend:
    """Keeps the server's own ``send`` for the websocket's frames.

    Placed outermost: once the handshake is done, no middleware needs to see
    the frames, and every wrapper is one more coroutine per frame per socket.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope["collab.send"] = send
        await self.app(scope, receive, send)
