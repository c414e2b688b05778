"""The websocket endpoint: one socket per page, topics checked on subscribe.

Protocol (text frames):

- the client's first message is JSON ``{"type": "subscribe", "topics":
  {"thread:12": 45, "zone:5": null}}``: each topic with the last seq the page
  has (null: only what happens from now on);
- the server answers with event frames (see :mod:`collab.realtime.render`),
  replayed ones first, in order, then live ones; a heartbeat about every
  ``WS_HEARTBEAT`` seconds (jittered), when it also checks again that the session is
  valid and the user may still read every topic.

Meeting topics (``meeting:N``): a logged-in user may follow one when
:func:`collab.meetings.rules.may_read` allows it for the meeting's zones.
Anonymous public followers connect to ``/ws?public=<token>`` without a
session: such a socket may subscribe to exactly the topic of the meeting whose
public link is ``<token>``, and is closed (4403) at the next heartbeat once the
meeting is made private. Public opens count against the per-IP limit of
:mod:`collab.meetings.room_public` (4429 when over). Presence is kept for
thread topics only. Consultation topics (``consultation:N``) follow
:func:`collab.consultations.rules.may_read`; a theme's library
(``library:N``) whoever may read the metropolitan boards.

Close codes: 4401 not logged in (or the session ended), 4403 a topic the user
may not read, 4400 a malformed subscription, 4429 too many public opens from
one address, 1013 the client fell too far
behind (its queue of ``WS_QUEUE_SIZE`` frames overflowed: the htmx extension
reconnects and the page catches up from the log).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from markupsafe import escape
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from collab import web
from collab.consultations import rules as consultation_rules
from collab.consultations.queries import consultation_zone_ids
from collab.db import Database
from collab.i18n import translations
from collab.meetings import room_public
from collab.meetings.room import meeting_zone_ids
from collab.meetings.rules import may_read
from collab.models import Theme, Thread, User
from collab.permissions import Action, can
from collab.realtime.events import meeting_topic
from collab.realtime.hub import Hub
from collab.realtime.presence import Presence
from collab.realtime.publisher import group_name
from collab.realtime.render import heartbeat_frame, reset_frame

__all__ = ["Connection", "DirectSend", "routes", "topic_zone"]

logger = logging.getLogger(__name__)
MAX_TOPICS = 20
PRESENCE_COALESCE = 0.5  # seconds a presence change waits for others to join it
SUBSCRIBE_TIMEOUT = 10.0


class Rejected(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


class Connection:
    """One websocket as the hub sees it: a bounded outbox drained by a writer task.

    This is the hot path: ``deliver`` runs once per socket per event. The
    outbox is a deque and one future the writer waits on when it is empty
    (an ``asyncio.Queue`` does more per item than this needs), and the writer
    sends with the server's own ``send`` (see :class:`DirectSend`).
    """

    def __init__(self, ws: WebSocket, user: User | None, locale: str, queue_size: int) -> None:
        self.ws = ws
        self.user = user
        self.locale = locale
        self.limit = queue_size
        self.frames: deque[str] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.overflowed = asyncio.Event()
        # The hot path asks this for every event: answer from the table once
        # per zone. A role change ends the session and a move to another zone
        # takes away the old zone's topics; either way the next heartbeat
        # closes this socket, so an answer outlives its truth by one interval.
        self._moderates: dict[int | None, bool] = {}
        self._shown_presence: dict[str, list[list[Any]]] = {}

    def moderates(self, zone_id: int | None) -> bool:
        if zone_id not in self._moderates:
            self._moderates[zone_id] = can(self.user, Action.MODERATE, zone_id)
        return self._moderates[zone_id]

    def deliver(self, topic: str, seq: int, payload: Any) -> None:
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
        frames = self.frames
        if len(frames) >= self.limit:
            # Never wait for a slow client: drop it, it resumes from the log.
            self.limit = -1  # and take nothing more
            frames.clear()
            self.overflowed.set()
            return
        frames.append(frame)
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def write(self, send: Send) -> None:
        """Send what the outbox holds, in order, until the socket goes."""
        frames = self.frames
        loop = asyncio.get_running_loop()
        try:
            while True:
                while frames:
                    await send({"type": "websocket.send", "text": frames.popleft()})
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


# A thread never changes zone: its topic's zone is remembered per process (the
# heartbeat asks for every socket every interval). Bounded: cleared when full.
MAX_KNOWN_THREADS = 10_000


async def topic_zone(
    db: Database, topic: str, known: dict[str, int | None]
) -> tuple[bool, int | None]:
    """(exists, zone id) of a topic; zone None means metropolitan.

    ``known`` remembers threads' zones between calls (the app keeps one per process).
    """
    kind, _, ident = topic.partition(":")
    if topic == "metro":
        return True, None
    if not ident.isdigit() or len(ident) > 9:
        return False, None
    if kind == "zone":
        return True, int(ident)
    if kind == "thread":
        if topic in known:
            return True, known[topic]
        async with db.session() as session:
            thread = await session.get(Thread, int(ident))
        if thread is None:
            return False, None
        if len(known) >= MAX_KNOWN_THREADS:
            known.clear()
        known[topic] = thread.zone_id
        return True, thread.zone_id
    return False, None


# A meeting's zones are fixed when it is convened, a consultation's when it is
# opened: remembered per process too (bounded like the threads' zones).
ZoneLoader = Callable[[AsyncSession, int], Awaitable[set[int]]]


async def _zones_of(ws: WebSocket, topic: str, load: ZoneLoader) -> set[int] | None:
    """The zone ids of the meeting or consultation of ``topic`` (None: it does not exist)."""
    _, _, ident = topic.partition(":")
    if not ident.isdigit() or len(ident) > 9:
        return None
    known: dict[str, set[int]] | None = getattr(ws.app.state, "object_zones", None)
    if known is None:
        known = ws.app.state.object_zones = {}
    if topic not in known:
        async with web.db(ws).session() as session:
            zones = await load(session, int(ident))
        if not zones:
            return None
        if len(known) >= MAX_KNOWN_THREADS:
            known.clear()
        known[topic] = zones
    return known[topic]


async def _theme_exists(ws: WebSocket, topic: str) -> bool:
    """Themes are deactivated, never deleted: one found is remembered (the
    heartbeat asks again for every socket)."""
    _, _, ident = topic.partition(":")
    if not ident.isdigit() or len(ident) > 9:
        return False
    known: set[str] | None = getattr(ws.app.state, "known_themes", None)
    if known is None:
        known = ws.app.state.known_themes = set()
    if topic not in known:
        async with web.db(ws).session() as session:
            if await session.get(Theme, int(ident)) is None:
                return False
        if len(known) >= MAX_KNOWN_THREADS:
            known.clear()
        known.add(topic)
    return True


async def _authorize(ws: WebSocket, user: User, topics: dict[str, int | None]) -> None:
    known: dict[str, int | None] = ws.app.state.thread_zones
    for topic in topics:
        if topic.startswith("meeting:"):
            zones = await _zones_of(ws, topic, meeting_zone_ids)
            if zones is None or not may_read(user, zones):
                raise Rejected(4403)
            continue
        if topic.startswith("consultation:"):
            zones = await _zones_of(ws, topic, consultation_zone_ids)
            if zones is None or not consultation_rules.may_read(user, zones):
                raise Rejected(4403)
            continue
        if topic.startswith("library:"):
            # The forms library is metropolitan: whoever reads metro threads.
            if not can(user, Action.READ, None) or not await _theme_exists(ws, topic):
                raise Rejected(4403)
            continue
        exists, zone_id = await topic_zone(web.db(ws), topic, known)
        if not exists or not can(user, Action.READ, zone_id):
            raise Rejected(4403)


def _parse_subscribe(text: str) -> dict[str, int | None]:
    try:
        message = json.loads(text)
    except ValueError:
        raise Rejected(4400) from None
    topics = message.get("topics") if isinstance(message, dict) else None
    if message.get("type") != "subscribe" or not isinstance(topics, dict):
        raise Rejected(4400)
    if not topics or len(topics) > MAX_TOPICS:
        raise Rejected(4400)
    parsed: dict[str, int | None] = {}
    for topic, seq in topics.items():
        if not isinstance(topic, str) or len(topic) > 64:
            raise Rejected(4400)
        if seq is not None and (not isinstance(seq, int) or isinstance(seq, bool) or seq < 0):
            raise Rejected(4400)
        parsed[topic] = seq
    return parsed


def _same_origin(ws: WebSocket) -> bool:
    # Browsers send cookies with cross-site websocket handshakes: refuse them.
    origin = ws.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == ws.headers.get("host", "")


async def _public_allowed(ws: WebSocket, token: str, topics: dict[str, int | None]) -> None:
    """A public socket follows exactly the meeting whose public link is ``token``."""
    meeting_id = await room_public.meeting_of_token(ws, token)
    if meeting_id is None or list(topics) != [meeting_topic(meeting_id)]:
        raise Rejected(4403)


async def _still_allowed(ws: WebSocket, topics: dict[str, int | None]) -> None:
    """Raise when the session ended or the user may no longer read a topic."""
    token = ws.query_params.get("public")
    if token is not None:
        await _public_allowed(ws, token, topics)
        return
    if hasattr(ws.state, "user"):
        del ws.state.user
    user = await web.current_user(ws)
    if user is None:
        raise Rejected(4401)
    await _authorize(ws, user, topics)


@contextlib.contextmanager
def _best_effort(what: str, topic: str) -> Iterator[None]:
    """Presence is a courtesy: Redis failing (restarting) must not close the socket."""
    try:
        yield
    except Exception:
        logger.warning("presence %s on %s failed", what, topic, exc_info=True)


class _Here:
    """This socket's presence on the thread topics it follows (best effort)."""

    def __init__(self, ws: WebSocket, conn: Connection, topics: list[str]) -> None:
        hub: Hub = ws.app.state.hub
        self.presence: Presence = ws.app.state.presence
        self.layer = hub.layer
        self.conn = conn
        self.topics = [t for t in topics if t.startswith("thread:")]
        self.key = f"{hub.channel}#{id(conn)}"
        self.pending: dict[str, asyncio.Task[None]] = ws.app.state.presence_pending
        self.recent: dict[str, tuple[float, list[list[Any]]]] = ws.app.state.presence_recent

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
        with _best_effort("broadcast", topic):
            users = [[p.user_id, p.name] for p in await self.presence.who(topic)]
            message = {"type": "collab.presence", "topic": topic, "users": users}
            await self.layer.group_send(group_name(topic), message)

    async def join(self) -> None:
        user = self.conn.user
        if user is None:
            return  # a public follower: no presence
        for topic in self.topics:
            with _best_effort("join", topic):
                await self.presence.touch(topic, self.key, user.id, user.name)
                await self._broadcast(topic)

    async def refresh(self) -> None:
        # Keeps our entry alive, and shows this socket the current list (users
        # of a worker that died disappear when their entries expire).
        user = self.conn.user
        if user is None:
            return  # a public follower: no presence
        for topic in self.topics:
            with _best_effort("refresh", topic):
                await self.presence.touch(topic, self.key, user.id, user.name)
                self.conn.presence(topic, await self._who(topic))

    async def _who(self, topic: str) -> list[list[Any]]:
        # Every socket of the topic refreshes once per heartbeat: they share
        # one reading per second instead of each listing every viewer.
        now = time.monotonic()
        cached = self.recent.get(topic)
        if cached is not None and now - cached[0] < PRESENCE_COALESCE * 2:
            return cached[1]
        users = [[p.user_id, p.name] for p in await self.presence.who(topic)]
        for stale in [t for t, (at, _) in self.recent.items() if now - at > 60]:
            del self.recent[stale]  # threads nobody here follows any more
        self.recent[topic] = (now, users)
        return users

    async def leave(self) -> None:
        user = self.conn.user
        if user is None:
            return  # a public follower: no presence
        for topic in self.topics:
            with _best_effort("leave", topic):
                await self.presence.leave(topic, self.key, user.id, user.name)
                await self._broadcast(topic)


async def _heartbeat(
    ws: WebSocket, conn: Connection, topics: dict[str, int | None], here: _Here
) -> None:
    interval = web.settings(ws).ws_heartbeat
    # Sockets opened together (a zone's meeting starting) must not all check
    # their session and presence in the same instant: spread the first beat
    # over the interval, and keep later ones from lining up again.
    delay = interval * random.uniform(0.25, 1.0)  # noqa: S311 (jitter)
    while True:
        await asyncio.sleep(delay)
        delay = interval * random.uniform(0.85, 1.15)  # noqa: S311 (jitter)
        await _still_allowed(ws, topics)
        conn.put(heartbeat_frame())
        await here.refresh()


async def _reader(ws: WebSocket) -> None:
    # The client says nothing after subscribing; this notices it leaving.
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return


async def live(ws: WebSocket) -> None:
    if not _same_origin(ws):
        await ws.close(code=4403)
        return
    await ws.accept()
    token = ws.query_params.get("public")
    user = None if token is not None else await web.current_user(ws)
    if token is not None and not room_public.allow_public(ws):
        await ws.close(code=4429)
        return
    if token is None and user is None:
        await ws.close(code=4401)
        return
    hub: Hub = ws.app.state.hub
    conn = Connection(ws, user, web.locale_of(ws), web.settings(ws).ws_queue_size)
    subscribed: list[str] = []
    tasks: list[asyncio.Task[Any]] = []
    here: _Here | None = None
    code = 1000
    try:
        text = await asyncio.wait_for(ws.receive_text(), SUBSCRIBE_TIMEOUT)
        topics = _parse_subscribe(text)
        if token is not None:
            await _public_allowed(ws, token, topics)
        else:
            assert user is not None
            await _authorize(ws, user, topics)
        writer = asyncio.create_task(conn.write(ws.scope.get("collab.send", ws.send)))
        tasks = [writer, asyncio.create_task(_reader(ws))]
        for topic, after in topics.items():
            await hub.subscribe(topic, conn, after)
            subscribed.append(topic)
        here = _Here(ws, conn, subscribed)
        await here.join()
        tasks += [
            asyncio.create_task(_heartbeat(ws, conn, topics, here)),
            asyncio.create_task(conn.overflowed.wait()),
        ]
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            exc = task.exception()
            if isinstance(exc, Rejected):
                code = exc.code
            elif exc is not None and not isinstance(exc, WebSocketDisconnect):
                raise exc
        if conn.overflowed.is_set():
            code = 1013
    except Rejected as exc:
        code = exc.code
    except (WebSocketDisconnect, TimeoutError):
        pass
    except Exception:
        # Something failed under us (the database, Redis): 1011, which the
        # page's htmx ws extension retries (not 1000); the reconnect replays.
        code = 1011
        raise
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        for topic in subscribed:
            try:
                await hub.unsubscribe(topic, conn)
            except Exception:
                logger.warning("unsubscribing from %s failed", topic, exc_info=True)
        if here is not None:
            with contextlib.suppress(Exception):
                await here.leave()
        with contextlib.suppress(Exception):
            await ws.close(code=code)


routes = [WebSocketRoute("/ws", live)]
