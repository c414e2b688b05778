"""A socket's presence on the thread topics it follows (best effort).

Presence is not an event: each socket keeps an expiring entry per thread
(:mod:`collab.realtime.presence`), refreshed by its heartbeat
(:mod:`collab.realtime.beats`, in batches); joins and
leaves are sent on the topic's group as ``collab.presence`` messages,
coalesced per topic and process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

from starlette.websockets import WebSocket

from collab.realtime.connection import Connection
from collab.realtime.presence import Presence
from collab.realtime.publisher import group_name
from collab.services import services

__all__ = ["PRESENCE_COALESCE", "Here", "best_effort"]

logger = logging.getLogger(__name__)
PRESENCE_COALESCE = 0.5  # seconds a presence change waits for others to join it


@contextlib.contextmanager
def best_effort(what: str, topic: str) -> Iterator[None]:
    """Presence is a courtesy: Redis failing (restarting) must not close the socket."""
    try:
        yield
    except Exception:
        logger.warning("presence %s on %s failed", what, topic, exc_info=True)


class Here:
    """This socket's presence on the thread topics it follows (best effort)."""

    __slots__ = ("conn", "key", "layer", "pending", "presence", "recent", "topics")

    def __init__(self, ws: WebSocket, conn: Connection, topics: list[str]) -> None:
        app = services(ws)
        hub = app.hub
        self.presence: Presence = app.presence
        self.layer = hub.layer
        self.conn = conn
        self.topics = topics  # those of kinds that show presence
        self.key = f"{hub.channel}#{id(conn)}"
        self.pending = app.presence_pending
        self.recent = app.presence_recent

    async def _broadcast(self, topic: str) -> None:
        # Coalesced per topic and process: a thousand sockets joining at once
        # send one list a second, not a thousand lists to a thousand sockets.
        pending: dict[str, asyncio.Task[None]] = self.pending
        if topic in pending and not pending[topic].done():
            return
        pending[topic] = asyncio.create_task(self._send_later(topic))

    async def _send_later(self, topic: str) -> None:
        await asyncio.sleep(PRESENCE_COALESCE)
        self.pending.pop(topic, None)
        self.recent.pop(topic, None)  # the list changed: read it afresh
        with best_effort("broadcast", topic):
            users = [[p.user_id, p.name] for p in await self.presence.who(topic)]
            message = {"type": "collab.presence", "topic": topic, "users": users}
            await self.layer.group_send(group_name(topic), message)

    async def join(self) -> None:
        user = self.conn.user
        if user is None:
            return  # a public follower: no presence
        for topic in self.topics:
            with best_effort("join", topic):
                await self.presence.touch(topic, self.key, user.id, user.name)
                await self._broadcast(topic)

    async def who(self, topic: str) -> list[list[Any]]:
        """Who is on ``topic``, as ``[[user_id, name], ...]``.

        Refreshed at every heartbeat (:mod:`collab.realtime.beats`, which
        touches the entries of all the sockets due together)."""
        # Every socket of the topic refreshes once per heartbeat: they share
        # one reading per second instead of each listing every viewer. The
        # reading itself is shared too: after a restart hundreds of sockets
        # beat within the same instant, before the first reading is back.
        now = time.monotonic()
        cached = self.recent.get(topic)
        if cached is None or now - cached[0] >= PRESENCE_COALESCE * 2:
            for stale in [t for t, (at, _) in self.recent.items() if now - at > 60]:
                del self.recent[stale]  # threads nobody here follows any more
            cached = (now, asyncio.ensure_future(self._read(topic)))
            self.recent[topic] = cached
        # Shielded: a socket closing while it waits must not cancel the
        # reading the others wait for.
        return await asyncio.shield(cached[1])

    async def _read(self, topic: str) -> list[list[Any]]:
        try:
            return [[p.user_id, p.name] for p in await self.presence.who(topic)]
        except BaseException:
            cached = self.recent.get(topic)
            if cached is not None and cached[1] is asyncio.current_task():
                del self.recent[topic]  # the next beat tries again
            raise

    async def leave(self) -> None:
        user = self.conn.user
        if user is None:
            return  # a public follower: no presence
        for topic in self.topics:
            with best_effort("leave", topic):
                await self.presence.leave(topic, self.key, user.id, user.name)
                await self._broadcast(topic)
