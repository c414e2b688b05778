"""Real clients of the multi-process tests: a logged-in user over HTTP (httpx,
the CSRF token read from the page) and a page's socket that reconnects as
``static/js/live.js`` does (the ``websockets`` library, the session cookie
in the handshake)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
from bs4 import BeautifulSoup
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

if TYPE_CHECKING:
    from tests.multiprocess.conftest import Worker

from collab.demo import DEMO_PASSWORD

__all__ = [
    "MAYOR",
    "RECONNECT_CODES",
    "TECH5",
    "THEME",
    "Listener",
    "User",
    "frame_head",
]

MAYOR = "sindaco.pinerolo@demo.collab.it"  # zone 5
TECH5 = "tecnico.luserna@demo.collab.it"  # zone 5, another user
THEME = "/zones/5/trasporti-mobilita"


def _csrf(html: str) -> str:
    node = BeautifulSoup(html, "html.parser").select_one('input[name="csrf_token"]')
    assert node is not None, "no csrf_token in the page"
    return str(node["value"])


class User:
    """A logged-in HTTP client on one worker (its cookie works on both: same secret)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.token = ""

    @classmethod
    async def login(cls, worker: Worker, email: str) -> User:
        http = httpx.AsyncClient(base_url=worker.url, timeout=15, trust_env=False)
        token = _csrf((await http.get("/login")).text)
        response = await http.post(
            "/login",
            data={"email": email, "password": DEMO_PASSWORD, "csrf_token": token, "next": "/"},
        )
        assert response.status_code == 303, response.text
        user = cls(http)
        user.token = _csrf((await http.get("/")).text)  # the new session's token
        return user

    @property
    def cookie(self) -> str:
        value = self.http.cookies.get("collab_session")
        assert value, "no session cookie after login"
        return value

    async def post(self, url: str, data: dict[str, str]) -> httpx.Response:
        return await self.http.post(url, data={**data, "csrf_token": self.token})

    async def new_thread(self, title: str) -> int:
        response = await self.post(f"{THEME}/new", {"title": title, "body": "Apriamo il tema."})
        assert response.status_code == 303, response.text
        return int(response.headers["location"].rsplit("/", 1)[1])

    async def reply(self, thread: int, body: str) -> httpx.Response:
        return await self.post(f"/threads/{thread}/reply", {"body": body})


# The envelope every frame starts with (collab.realtime.frames): a regex, not
# an HTML parser, so that hundreds of sockets cost the test little.
_ENVELOPE = re.compile(r'<template data-topic="([^"]+)" data-seq="(\d+)"')


def frame_head(text: str) -> tuple[str, int] | None:
    """(topic, seq) of an event frame; None for the others (heartbeat, presence).

    A reset (the server asking the page to reload) fails the test: the log
    keeps everything here, so nothing may be too old to replay.
    """
    assert text.startswith("<template "), f"not a frame: {text[:200]!r}"
    assert not text.startswith("<template data-reset"), f"the server asked for a reload: {text!r}"
    match = _ENVELOPE.match(text)
    if match is None:
        return None
    return match.group(1), int(match.group(2))


# The close codes after which the htmx ws extension (static/vendor/htmx/ext/ws.js)
# reconnects: abnormal closure (no close frame, or the connection failed), internal
# error, service restart, try again later. After any other code a page stays
# disconnected: it would show no more changes until reloaded.
RECONNECT_CODES = (1006, 1011, 1012, 1013)


@dataclass
class Listener:
    """A page's socket on one topic: collects the seqs it gets, reconnects like the page.

    On every (re)connect it subscribes with the last seq it has (``after`` at
    first), as ``static/js/live.js`` does, so the server replays exactly what
    it missed. Like the htmx ws extension, it reconnects only after a close
    code in ``RECONNECT_CODES``; after any other it stops (``gave_up``).
    """

    ws_url: str
    cookie: str
    topic: str
    after: int = 0
    seqs: list[int] = field(default_factory=list)
    arrivals: dict[int, float] = field(default_factory=dict)  # seq -> first arrival
    connects: int = 0
    opened: list[float] = field(default_factory=list)  # when each connection opened
    closes: list[int] = field(default_factory=list)  # the close code of each connection
    gave_up: int | None = None  # a close code the page would not reconnect after
    error: BaseException | None = None  # what broke the listener itself, if anything
    # Seconds the page waits before reconnecting: htmx's ws extension draws a
    # jitter; a fixed 0.2 s keeps the single-socket tests quick.
    backoff: Callable[[], float] = lambda: 0.2
    max_closes: int = 600  # about two minutes of a server that is down, at 0.2 s

    async def run(self) -> None:
        try:
            await self._run()
        except Exception as exc:
            self.error = exc
            raise

    async def _run(self) -> None:
        while len(self.closes) < self.max_closes:
            code = 1006
            try:
                async with connect(
                    self.ws_url,
                    additional_headers={"Cookie": f"collab_session={self.cookie}"},
                    proxy=None,
                    open_timeout=5,
                    ping_interval=None,
                ) as ws:
                    self.connects += 1
                    self.opened.append(time.monotonic())
                    last = self.seqs[-1] if self.seqs else self.after
                    await ws.send(json.dumps({"type": "subscribe", "topics": {self.topic: last}}))
                    async for text in ws:
                        assert isinstance(text, str)
                        head = frame_head(text)
                        if head is not None and head[0] == self.topic:
                            self.seqs.append(head[1])
                            self.arrivals.setdefault(head[1], time.monotonic())
                    code = ws.close_code or 1006
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else 1006
            except (OSError, TimeoutError, InvalidHandshake):
                code = 1006  # what a browser reports when the connection fails
            self.closes.append(code)
            if code not in RECONNECT_CODES:
                self.gave_up = code
                return
            await asyncio.sleep(self.backoff())  # the page waits before reconnecting

    async def wait_for(self, seq: int, within: float) -> float:
        """Seconds until ``seq`` has arrived; fails after ``within`` seconds."""
        started = time.monotonic()
        while seq not in self.arrivals:
            assert self.error is None, f"{self.ws_url}: the listener failed: {self.error!r}"
            assert self.gave_up is None, (
                f"{self.ws_url}: the server closed the socket with code {self.gave_up}, after "
                f"which a page does not reconnect (close codes: {self.closes}, got {self.seqs})"
            )
            assert time.monotonic() - started < within, (
                f"{self.ws_url} {self.topic}: seq {seq} not received within {within}s "
                f"(got {self.seqs}, close codes: {self.closes})"
            )
            await asyncio.sleep(0.005)
        return self.arrivals[seq] - started
