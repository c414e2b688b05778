"""The websocket endpoint: one socket per page, topics checked on subscribe.

Protocol (text frames):

- the client's first message is JSON ``{"type": "subscribe", "topics":
  {"thread:12": 45, "zone:5": null}}``: each topic with the last seq the page
  has (null: only what happens from now on). A logged-in socket always
  follows its user's own topic ``user:N`` (the server subscribes it); the
  page may list it too, with the seq its bell shows, to be sent what it missed;
- the server answers with event frames (see :mod:`collab.realtime.frames`),
  replayed ones first, in order, then live ones; a heartbeat about every
  ``WS_HEARTBEAT`` seconds (jittered), sent by the process's schedule
  (:mod:`collab.realtime.beats`), which also has the session and the topics
  checked again now and then; a ``user.changed`` event has them checked at once.

Which topics exist and who may follow them is the features' say, through the
registry (:mod:`collab.realtime.registry`, applied by
:mod:`collab.realtime.access`). Anonymous followers connect to
``/ws?public=<token>`` without a session: such a socket may subscribe to
exactly the topic the token opens (a meeting's public link), is closed (4403)
at a heartbeat once the link is withdrawn, and its opens count against the
per-IP limit of public endpoints (4429 when over). Presence is kept for the
topic kinds that ask for it (threads).

Close codes: 4401 not logged in (or the session ended), 4403 a topic the user
may not read, 4400 a malformed subscription (any shape but the object
above, or a binary frame), 4429 too many public opens from
one address, 1013 the client fell too far behind (its queue of
``WS_QUEUE_SIZE`` frames overflowed: the htmx extension reconnects and the
page catches up from the log), 1011 something failed under us (the page
reconnects and replays).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

from starlette.routing import BaseRoute, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from collab import web
from collab.cancelling import checkpoint
from collab.db import is_unavailable
from collab.realtime.access import Rejected
from collab.realtime.beats import Beating
from collab.realtime.connection import Connection
from collab.realtime.events import user_topic
from collab.realtime.here import Here
from collab.realtime.wire import uvicorn_protocol
from collab.services import services

__all__ = ["MAX_TOPICS", "Parking", "routes"]

logger = logging.getLogger(__name__)
MAX_TOPICS = 20
SUBSCRIBE_TIMEOUT = 10.0
PARKED = "collab.parked"  # scope key: where live() leaves its coroutine for Parking


# Seqs are INTEGER columns: a larger number would fail in PostgreSQL's query.
MAX_SEQ = 2**31 - 1


def _parse_subscribe(text: str) -> dict[str, int | None]:
    """The topics of a subscribe message; :class:`Rejected` (4400) for any other shape.

    Whatever the client sends (an array, a string, a number, null, nesting
    deep enough to exhaust the parser) is a 4400, never an exception that
    would close the socket with 1011.
    """
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        raise Rejected(4400) from None
    if not isinstance(message, dict) or message.get("type") != "subscribe":
        raise Rejected(4400)
    topics = message.get("topics")
    if not isinstance(topics, dict):
        raise Rejected(4400)
    # No topic at all is fine: a page without live regions still follows its
    # user's own topic (the bell), which the server subscribes.
    if len(topics) > MAX_TOPICS:
        raise Rejected(4400)
    parsed: dict[str, int | None] = {}
    for topic, seq in topics.items():
        if not isinstance(topic, str) or len(topic) > 64:
            raise Rejected(4400)
        if seq is not None and (
            not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq <= MAX_SEQ
        ):
            raise Rejected(4400)
        parsed[topic] = seq
    return parsed


def _same_origin(ws: WebSocket) -> bool:
    # Browsers send cookies with cross-site websocket handshakes: refuse them.
    origin = ws.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == ws.headers.get("host", "")


async def _authorize(ws: WebSocket, topics: dict[str, int | None]) -> None:
    """Raise :class:`Rejected` unless this socket may follow every topic."""
    access = services(ws).access
    token = ws.query_params.get("public")
    if token is not None:
        await access.check_public(ws, token, topics)
        return
    user = await web.current_user(ws)
    if user is None:
        raise Rejected(4401)
    await access.check(user, topics)


async def _still_allowed(ws: WebSocket, topics: dict[str, int | None]) -> None:
    """Raise when the session ended or the user may no longer read a topic."""
    # In the setup slots too: hundreds of sockets opened together must not
    # all take a pooled connection for their checks at the same moment.
    async with services(ws).ws_setup:
        if hasattr(ws.state, "user"):
            del ws.state.user  # read the user afresh
        await _authorize(ws, topics)


def _checker(ws: WebSocket, topics: dict[str, int | None]) -> Callable[[], Awaitable[None]]:
    async def check() -> None:
        await _still_allowed(ws, topics)

    return check


def _shows_presence(ws: WebSocket, topic: str) -> bool:
    parsed = services(ws).registry.parse(topic)
    return parsed is not None and parsed[0].presence


async def _until_ended(ws: WebSocket, conn: Connection, writer: asyncio.Task[None]) -> None:
    """Listen until the client leaves, the socket must close or the writer stops.

    The client says nothing after subscribing: reading notices it leaving.
    The handler reads itself instead of waiting on a reader task (one task
    fewer per idle socket); the socket's end or the writer's wakes it the
    way ``asyncio.timeout`` does, with a cancel it takes back (``uncancel``).
    """
    task = asyncio.current_task()
    assert task is not None
    listening = True

    def wake(_: asyncio.Future[Any]) -> None:
        # Runs from the loop: only while the handler waits in receive() below.
        if listening:
            task.cancel()

    conn.ended.add_done_callback(wake)
    writer.add_done_callback(wake)
    try:
        while not conn.ended.done() and not writer.done():
            checkpoint()
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
    except asyncio.CancelledError:
        if not (conn.ended.done() or writer.done()):
            raise  # not ours: the server is shutting down
        if task.uncancel() > 0:
            raise  # ours, and someone else's too
    finally:
        listening = False
        conn.ended.remove_done_callback(wake)
        writer.remove_done_callback(wake)


async def live(ws: WebSocket) -> None:
    """The endpoint: the socket's whole life runs in :class:`Parking` when it is there."""
    parked = ws.scope.get(PARKED)
    if isinstance(parked, list):
        parked.append(_session(ws))  # awaited by Parking, outside the middleware chain
    else:
        await _session(ws)


async def _session(ws: WebSocket) -> None:
    """One socket: accepted, set up in a slot, then idle until it ends; cleaned up."""
    if not _same_origin(ws):
        await ws.close(code=4403)
        return
    await ws.accept()
    _forget_handshake(ws.scope.get("collab.send"))
    app = services(ws)
    token = ws.query_params.get("public")
    if token is not None and not app.public_limiter.allow(ws.client.host if ws.client else ""):
        await ws.close(code=4429)
        return
    if token is None and web.session_key(ws) is None:
        await ws.close(code=4401)  # no session at all: nothing to wait for
        return
    hub = app.hub
    conn: Connection | None = None
    subscribed: list[str] = []
    tasks: list[asyncio.Task[Any]] = []
    here: Here | None = None
    beating: Beating | None = None
    code = 1000
    try:
        first = await asyncio.wait_for(ws.receive(), SUBSCRIBE_TIMEOUT)
        if first["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(first.get("code", 1000))
        text = first.get("text")
        if not isinstance(text, str):  # a binary frame
            raise Rejected(4400)
        topics = _parse_subscribe(text)
        # A bounded number of sockets is set up at once: after a worker
        # restart hundreds rejoin within a second, and page requests must
        # still find the loop and the pool free between them.
        async with app.ws_setup:
            conn = Connection(ws, None, web.locale_of(ws), app.settings.ws_queue_size)
            user = None
            if token is None:
                uid = await web.session_uid(ws)  # read here, in the slot
                if uid is None:
                    raise Rejected(4401)
                # What changes this user's rights arrives on their own topic:
                # followed before the user is read, a change committed after
                # the read arrives as an event, one committed before is in it.
                # The page may name it with the seq it shows (its bell), to
                # get what it missed; another user's topic is refused below.
                own = user_topic(uid)
                await hub.subscribe(own, conn, topics.pop(own, None))
                subscribed.append(own)
                user = await web.current_user(ws)
                if user is None:
                    raise Rejected(4401)
                conn.user = user
            await _authorize(ws, topics)
            writer = asyncio.create_task(conn.write(ws.scope.get("collab.send", ws.send)))
            tasks = [writer]
            # From here a user.changed event has the socket checked at once.
            check = _checker(ws, topics)
            beating = Beating(conn, Here(ws, conn, []), check, public=token is not None)
            conn.on_recheck = beating.check_soon
            if conn.recheck_missed:
                # The user changed while the socket was being set up, after
                # the read above: the event came before there was a check.
                beating.check_soon()
            for topic, after in topics.items():
                await hub.subscribe(topic, conn, after)
                subscribed.append(topic)
            here = beating.here
            here.topics = [t for t in subscribed if _shows_presence(ws, t)]
            await here.join()
        # No task of its own for the heartbeat: the process's schedule beats it.
        app.beats.add(beating)
        await _until_ended(ws, conn, writer)
        if conn.ended.done():
            code = conn.ended.result()  # raises the failure of a check
        if writer.done() and not writer.cancelled():
            failure = writer.exception()
            if failure is not None and not isinstance(failure, WebSocketDisconnect):
                raise failure
    except Rejected as exc:
        code = exc.code
    except (WebSocketDisconnect, TimeoutError):
        pass
    except Exception as exc:
        if is_unavailable(exc):
            # The database is out of reach: "try again later", which the
            # page's htmx ws extension retries; the reconnect replays.
            logger.warning("database unavailable: socket closed with 1013 (%s)", exc)
            code = 1013
        else:
            # Something else failed under us (Redis): 1011, retried too.
            code = 1011
            raise
    finally:
        if beating is not None:
            app.beats.remove(beating)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        for topic in subscribed:
            try:
                assert conn is not None
                await hub.unsubscribe(topic, conn)
            except Exception:
                logger.warning("unsubscribing from %s failed", topic, exc_info=True)
        if here is not None:
            with contextlib.suppress(Exception):
                await here.leave()
        with contextlib.suppress(Exception):
            await ws.close(code=code)


def _forget_handshake(send: Send | None) -> None:
    """Let go of the handshake uvicorn's protocol keeps for the socket's life.

    Its ``websockets`` request and response (their headers, about 3 KiB a
    socket) are read by nothing once the socket is accepted; the request is
    also held by the parser's generator, hence emptied rather than dropped.
    The ASGI scope keeps its own copy of the headers (the session cookie is
    read again at every check). Only uvicorn's sans-I/O protocol (the one
    :mod:`collab.realtime.wire` writes to); any other server keeps its own.
    """
    protocol = uvicorn_protocol(send) if send is not None else None
    if protocol is None or not protocol.handshake_complete:
        return
    for message in (protocol.request, protocol.response):
        if message is not None:
            message.headers.clear()
    protocol.request = protocol.response = None


class Parking:
    """Runs each socket's life outside the middleware chain (outermost middleware).

    A socket's handler would otherwise wait, for hours, under every layer
    between uvicorn and the route: a dozen suspended coroutines and their
    closures per idle socket (about 6 KiB). None of them has anything to do
    once the socket is accepted: the session middleware has put the session
    in the scope, CSRF and security headers are for HTTP, and the endpoint
    handles its own failures. So the endpoint (:func:`live`) only hands its
    coroutine over and returns; the layers unwind and this one awaits it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        parked: list[Coroutine[Any, Any, None]] = []
        scope[PARKED] = parked
        try:
            await self.app(scope, receive, send)
        except BaseException:
            for session in parked:
                session.close()  # never started: nothing to clean up
            raise
        for session in parked:
            await session


def routes() -> list[BaseRoute]:
    """This module's URL map (built by ``create_app``, after the ``id`` convertor)."""
    return [WebSocketRoute("/ws", live)]
