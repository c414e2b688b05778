"""The session cookie: the middleware that finds a request's server-side
session (:mod:`collab.sessions`) and saves it, and the helpers a login or a
logout calls.

For each request the middleware reads the row the cookie names (one query
on the primary key, the user joined) and exposes its data as
``request.session`` (the CSRF token, a notice for the next page) and itself
as ``scope["collab.session"]`` (a :class:`collab.sessions.Current`). When
the response starts it writes back only what changed, and moves
``last_seen`` (and the cookie's Max-Age) forward at most every
:data:`collab.sessions.TOUCH_EVERY`. A visitor without a session gets a row
only when something must be kept for them (a form's CSRF token). Static
files skip all this.

A socket's session is not read here: the middleware only names the row
(``Current.key``), and the socket reads it in its setup slot and again at
each of its checks (:func:`collab.web.session_uid`,
:func:`collab.web.current_user`), since it may end while the socket is
open. After a worker restart hundreds of sockets rejoin within a second;
read here, their sessions would take the pool ahead of the page requests
arriving meanwhile.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collab import sessions, web
from collab.db import is_unavailable
from collab.models import User, utcnow
from collab.sessions import SCOPE_KEY, Current
from collab.tokens import digest, new_token, well_formed

__all__ = ["SCOPE_KEY", "SessionMiddleware", "current", "end", "start"]

logger = logging.getLogger(__name__)
SKIPPED_PREFIXES = ("/static/",)


def current(conn: HTTPConnection) -> Current:
    """This connection's session (an empty one outside the middleware)."""
    found = conn.scope.get(SCOPE_KEY)
    return found if isinstance(found, Current) else Current()


def client_ip(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown"


async def start(conn: HTTPConnection, user: User) -> None:
    """Log ``user`` in on this browser: a new session with a new id and a new
    CSRF token (the visitor's session before it is deleted: no fixation)."""
    state = current(conn)
    data = {web.CSRF_SESSION_KEY: new_token()}
    async with web.db(conn).transaction() as uow:
        token = await sessions.do_start(
            uow,
            user.id,
            user_agent=conn.headers.get("user-agent", ""),
            ip=client_ip(conn),
            data=data,
            replaces=state.key,
        )
    state.key, state.user_id, state.user = digest(token), user.id, user
    state.saved, state.last_seen, state.token, state.ended = dict(data), utcnow(), token, False
    conn.scope[SCOPE_KEY] = state
    conn.scope["session"] = dict(data)
    conn.state.user = user


async def end(conn: HTTPConnection) -> None:
    """End this browser's session (logout): its row goes, the cookie is
    cleared, and its sockets close."""
    state = current(conn)
    if state.key is not None:
        async with web.db(conn).transaction() as uow:
            await sessions.do_end(uow, state.key)
    conn.scope[SCOPE_KEY] = Current(ended=True)
    conn.scope["session"] = {}
    conn.state.user = None


class SessionMiddleware:
    """Loads and saves server-side sessions (see the module's docstring)."""

    def __init__(
        self, app: ASGIApp, *, session_cookie: str, max_age: int, https_only: bool = False
    ) -> None:
        self.app = app
        self.cookie = session_cookie
        self.max_age = max_age
        self.flags = "; HttpOnly; SameSite=lax" + ("; Secure" if https_only else "")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"].startswith(SKIPPED_PREFIXES):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        token = conn.cookies.get(self.cookie)
        state = Current()
        if token and scope["type"] == "websocket":
            if well_formed(token):
                state = Current(key=digest(token))
        elif token:
            try:
                state = await sessions.load(web.db(conn), token, self.max_age) or Current()
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
                await self._unavailable(scope, receive, send)
                return
        scope[SCOPE_KEY] = state
        scope["session"] = dict(state.saved)
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_saving(message: Message) -> None:
            if message["type"] == "http.response.start":
                await self._save(conn, token, MutableHeaders(scope=message))
            await send(message)

        await self.app(scope, receive, send_saving)

    async def _save(self, conn: HTTPConnection, sent: str | None, headers: MutableHeaders) -> None:
        state = current(conn)
        data: dict[str, Any] = conn.scope.get("session", {})
        now = utcnow()
        try:
            if state.key is None and data and not state.ended:
                # A visitor's first session: only now is there anything to keep.
                async with web.db(conn).transaction() as uow:
                    state.token = await sessions.do_start(
                        uow,
                        None,
                        user_agent=conn.headers.get("user-agent", ""),
                        ip=client_ip(conn),
                        data=data,
                    )
            elif state.key is not None:
                assert state.last_seen is not None
                touch = now - state.last_seen >= sessions.TOUCH_EVERY
                if data != state.saved or touch:
                    async with web.db(conn).transaction() as uow:
                        await sessions.do_save(uow, state.key, data, now if touch else None)
                if touch and state.token is None:
                    state.token = sent  # the browser's copy slides too
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            # The database is out of reach: the answer is a 503 already, or
            # a page whose form will ask to be reloaded. Nothing to undo.
            logger.warning("session not saved: %s", exc)
            return
        if state.token is not None:
            headers.append("Set-Cookie", self._cookie(state.token, self.max_age))
        elif sent and state.key is None:
            # The cookie names no live session (ended, expired, never was).
            headers.append("Set-Cookie", self._cookie("", 0))

    def _cookie(self, value: str, max_age: int) -> str:
        expires = "" if max_age else "; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        return f"{self.cookie}={value}; Path=/; Max-Age={max_age}{expires}{self.flags}"

    async def _unavailable(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Who is logged in cannot be known: the 503 page, or the socket
        # closed with "try again later" (its page reconnects).
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1013})
            return
        response = await web.unavailable_response(Request(scope, receive))
        await response(scope, receive, send)
