"""Heartbeats for every socket of the process, from one task.

An idle page costs what its heartbeat costs. With a task and a timer per
socket, 10,000 open pages were 10,000 sleeping tasks (and their events,
timeouts and frames) waking one by one, each touching its presence entry in
its own Redis round trip. Here every socket has a place in one schedule (a
heap of due times): one task wakes every :attr:`Beats.tick` seconds, queues
the heartbeat frame of each socket due, and refreshes the presence entries
of all of them together, in one Redis pipeline (:meth:`Presence.touch_many`)
and one shared reading per topic.

A beat reads nothing from the database: what changes a user's rights arrives
as a ``user.changed`` event, which makes the socket check at once
(:meth:`Beating.check_soon`). A full check every :data:`FULL_CHECK_EVERY`
beats stays as a safety net (a write that bypasses the actions, an expired
session); a public follower's link is checked at every beat (its answer is
shared per process, see :mod:`collab.realtime.access`).

The schedule keeps the peers' liveness too, in place of uvicorn's own pings
(which the Procfile turns off: ``--ws-ping-interval 0``): every
:data:`PING_EVERY`-th beat carries a ping in the heartbeat's own write
(:class:`collab.realtime.wire.Wire`), and a peer whose pong has not come
:data:`PONG_TIMEOUT` seconds later is closed at its next beat, with
uvicorn's close (1011 "keepalive ping timeout"). uvicorn's pings cost a
timer and a write of their own each, twice a heartbeat's CPU at 10,000 idle
sockets (docs/performance.md).

Each socket's due time is jittered (``interval`` x 0.85-1.15; the first one
0.25-1 interval after the setup), so that sockets opened together do not beat
together for ever.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
from collections.abc import Awaitable, Callable

from collab.cancelling import checkpoint
from collab.realtime.access import Rejected
from collab.realtime.connection import Connection
from collab.realtime.frames import heartbeat_frame
from collab.realtime.here import Here, best_effort
from collab.realtime.presence import Presence

__all__ = ["FULL_CHECK_EVERY", "PING_EVERY", "PONG_TIMEOUT", "Beating", "Beats"]

logger = logging.getLogger(__name__)

# A full check (session and every topic) at least this often, even with no
# user.changed event: a safety net, not the way rights changes arrive.
FULL_CHECK_EVERY = 20  # heartbeats
# Keep-alive pings ride on every PING_EVERY-th heartbeat (about every 50 s
# at 25 s), in the same write; a peer whose pong has not come PONG_TIMEOUT s
# after its ping is closed at its next beat (Connection.beat): within about
# 85 s of its last pong. No timer per socket, no write of their own.
PING_EVERY = 2
PONG_TIMEOUT = 20.0


class Beating:
    """One socket's place in the schedule, and its checks (one at a time)."""

    __slots__ = ("again", "beats", "check", "checking", "conn", "gone", "here", "public")

    def __init__(
        self, conn: Connection, here: Here, check: Callable[[], Awaitable[None]], *, public: bool
    ) -> None:
        self.conn = conn
        self.here = here
        self.check = check  # raises Rejected when the socket must close
        self.public = public
        self.beats = 0
        self.gone = False
        self.checking: asyncio.Task[None] | None = None
        self.again = False

    def check_soon(self) -> None:
        """Check the session and the topics now (once more if a check is running)."""
        if self.gone:
            return
        if self.checking is not None and not self.checking.done():
            self.again = True  # it may have read the user before the change
            return
        self.checking = asyncio.create_task(self._checks())

    async def _checks(self) -> None:
        again = True
        while again and not self.gone:
            self.again = False
            try:
                await self.check()
            except Rejected as exc:
                self.conn.close(exc.code)
                return
            except Exception as exc:
                self.conn.fail(exc)  # the handler's to report: 1013 or 1011
                return
            again = self.again

    def stop(self) -> None:
        self.gone = True
        if self.checking is not None:
            self.checking.cancel()


class Beats:
    """The heartbeat schedule of every socket of this process (see the module doc)."""

    def __init__(self, presence: Presence, interval: float) -> None:
        self.presence = presence
        self.interval = interval
        # Fine enough for the jitter to spread beats, coarse enough that a
        # tick finds many sockets due (one presence round for all of them).
        self.tick = min(0.5, interval / 20)
        self._due: list[tuple[float, int, Beating]] = []
        self._order = itertools.count()  # ties: never compare two Beating
        self._live = 0
        self._task: asyncio.Task[None] | None = None
        self._touch: list[Beating] = []  # presence refreshes waiting for a round
        self._touching: asyncio.Task[None] | None = None

    def add(self, beating: Beating) -> None:
        """Schedule a socket just set up (which has just been checked)."""
        loop = asyncio.get_running_loop()
        first = loop.time() + self.interval * random.uniform(0.25, 1.0)  # noqa: S311 (jitter)
        heapq.heappush(self._due, (first, next(self._order), beating))
        self._live += 1
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    def remove(self, beating: Beating) -> None:
        """The socket closed: it beats no more (its heap entry drops out when due)."""
        if beating.gone:
            return
        beating.stop()
        self._live -= 1
        if self._live == 0:
            # Nothing left to beat: no task outlives the last socket.
            self._due.clear()
            self._touch.clear()
            for task in (self._task, self._touching):
                if task is not None:
                    task.cancel()
            self._task = self._touching = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        due = self._due
        while True:
            checkpoint()  # a library may have swallowed the cancel (collab.cancelling)
            await asyncio.sleep(self.tick)
            now = loop.time()
            while due and due[0][0] <= now:
                when, _, beating = heapq.heappop(due)
                if beating.gone:
                    continue
                try:
                    # The next one counts from when this one was due, not from
                    # the tick: beats keep their interval, on average exact.
                    self._beat(beating, max(when, now - self.interval / 2))
                except Exception:
                    # One socket's failure must not stop every socket's beats.
                    logger.exception("a heartbeat failed")
            if self._touch and (self._touching is None or self._touching.done()):
                batch, self._touch = self._touch, []
                self._touching = asyncio.create_task(self._refresh(batch))

    def _beat(self, beating: Beating, when: float) -> None:
        later = when + self.interval * random.uniform(0.85, 1.15)  # noqa: S311 (jitter)
        heapq.heappush(self._due, (later, next(self._order), beating))
        beating.beats += 1
        if beating.public or beating.beats % FULL_CHECK_EVERY == 0:
            beating.check_soon()
        ping = beating.beats % PING_EVERY == 0
        beating.conn.beat(heartbeat_frame(), ping=ping, pong_timeout=PONG_TIMEOUT)
        if beating.here.topics and beating.conn.user is not None:
            self._touch.append(beating)

    async def _refresh(self, batch: list[Beating]) -> None:
        """Keep the batch's presence entries alive and show each socket the current
        list (users of a worker that died disappear when their entries expire)."""
        entries = []
        for beating in batch:
            user = beating.conn.user
            if beating.gone or user is None:
                continue
            for topic in beating.here.topics:
                entries.append((topic, beating.here.key, user.id, user.name))
        if not entries:
            return
        with best_effort("refresh", f"{len(entries)} entries"):
            await self.presence.touch_many(entries)
        readings: dict[str, list[list[object]] | None] = {}
        for beating in batch:
            for topic in beating.here.topics:
                if topic not in readings:
                    readings[topic] = None
                    with best_effort("refresh", topic):
                        readings[topic] = await beating.here.who(topic)
                users = readings[topic]
                if users is not None and not beating.gone:
                    beating.conn.presence(topic, users)
