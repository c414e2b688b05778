"""Two real uvicorn workers, one database, a real Redis: the event path across processes.

A write through worker A must reach a websocket on worker B through the Redis
channel layer; and when Redis is SIGKILLed and restarted empty mid-stream
(what was published meanwhile is lost, every connection to it is cut), the
sockets still end up with every event of the topic exactly once, in order:
the hubs fill gaps from the durable log, the pub/sub connections resubscribe,
and a socket the server closed is reopened with the last seq it has, as
``static/js/live.js`` does (only after the close codes the htmx ws extension
retries: a page does not reconnect after any other).

The clients are real too: httpx for the forms (CSRF token from the page),
the ``websockets`` library for the sockets, with the ``collab_session``
cookie in the handshake.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx
import pytest
from bs4 import BeautifulSoup
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from collab.demo import DEMO_PASSWORD
from tests.multiprocess.conftest import Cluster, Worker

pytestmark = pytest.mark.slow

MAYOR = "sindaco.pinerolo@demo.collab.it"  # zone 5
TECH5 = "tecnico.luserna@demo.collab.it"  # zone 5, another user
THEME = "/zones/5/trasporti-mobilita"
# Live delivery must beat this; the hub's log poll (every 2 s) cannot, for
# probes spaced further apart than the poll leaves between two of its runs.
LIVE_WITHIN = 1.0
PROBE_SPACING = 1.1


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


@pytest.fixture
async def users(cluster: Cluster) -> AsyncIterator[tuple[User, User]]:
    """The mayor, logged in on worker A; a technician of the same zone, on worker B."""
    mayor = await User.login(cluster.a, MAYOR)
    tech = await User.login(cluster.b, TECH5)
    yield mayor, tech
    await mayor.http.aclose()
    await tech.http.aclose()


def _frame_head(text: str) -> tuple[str, int] | None:
    """(topic, seq) of an event frame; None for the others (heartbeat, presence).

    A reset (the server asking the page to reload) fails the test: the log
    keeps everything here, so nothing may be too old to replay.
    """
    first = BeautifulSoup(text, "html.parser").find("template")
    assert first is not None, f"not a frame: {text[:200]!r}"
    assert not first.has_attr("data-reset"), f"the server asked for a reload: {text!r}"
    if not first.has_attr("data-topic"):
        return None
    return str(first["data-topic"]), int(str(first["data-seq"]))


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
    closes: list[int] = field(default_factory=list)  # the close code of each connection
    gave_up: int | None = None  # a close code the page would not reconnect after
    error: BaseException | None = None  # what broke the listener itself, if anything

    async def run(self) -> None:
        try:
            await self._run()
        except Exception as exc:
            self.error = exc
            raise

    async def _run(self) -> None:
        while len(self.closes) < 50:
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
                    last = self.seqs[-1] if self.seqs else self.after
                    await ws.send(json.dumps({"type": "subscribe", "topics": {self.topic: last}}))
                    async for text in ws:
                        assert isinstance(text, str)
                        head = _frame_head(text)
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
            await asyncio.sleep(0.2)  # the page waits too (htmx: a backoff) before reconnecting

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


@pytest.fixture
async def listen() -> AsyncIterator[Callable[..., Listener]]:
    """Start listeners (each a task); they are cancelled after the test."""
    tasks: list[asyncio.Task[None]] = []

    def start(worker: Worker, cookie: str, topic: str, after: int = 0) -> Listener:
        listener = Listener(worker.ws_url, cookie, topic, after)
        tasks.append(asyncio.create_task(listener.run()))
        return listener

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _until_live(
    mayor: User, thread: int, listeners: list[Listener], first_seq: int, within: float = 6.0
) -> int:
    """Post replies ``PROBE_SPACING`` apart until one reaches every listener within
    ``LIVE_WITHIN``; fails after ``within`` seconds. Returns the next seq."""
    started, seq = time.monotonic(), first_seq
    while True:
        sent = time.monotonic()
        assert (await mayor.reply(thread, f"attesa {seq}")).status_code == 303
        for lis in listeners:
            await lis.wait_for(seq, within=10)
        seq += 1
        if max(lis.arrivals[seq - 1] for lis in listeners) - sent < LIVE_WITHIN:
            return seq
        assert time.monotonic() - started < within, "the layer is not live again after Redis"
        await asyncio.sleep(max(0.0, PROBE_SPACING - (time.monotonic() - sent)))


async def _live_probes(
    mayor: User, thread: int, listeners: list[Listener], first_seq: int, count: int = 3
) -> list[float]:
    """Post ``count`` replies, ``PROBE_SPACING`` apart; each must reach every listener
    within ``LIVE_WITHIN`` of the request. Returns the worst latency of each."""
    worst = []
    for n in range(count):
        sent = time.monotonic()
        assert (await mayor.reply(thread, f"sonda {n}")).status_code == 303
        for lis in listeners:
            await lis.wait_for(first_seq + n, within=10)
        latency = max(lis.arrivals[first_seq + n] for lis in listeners) - sent
        assert latency < LIVE_WITHIN, (
            f"probe {n} took {latency:.3f}s: not live, the layer did not carry it"
        )
        worst.append(latency)
        await asyncio.sleep(max(0.0, PROBE_SPACING - (time.monotonic() - sent)))
    return worst


async def test_a_reply_through_worker_a_reaches_a_socket_on_worker_b(
    cluster: Cluster, users: tuple[User, User], listen: Callable[..., Listener]
) -> None:
    mayor, tech = users
    thread = await mayor.new_thread("Navetta tra i due worker")
    topic = f"thread:{thread}"
    # Reply 1 exists before the socket opens: its replay proves the subscription is in place.
    assert (await mayor.reply(thread, "Prima risposta")).status_code == 303
    on_b = listen(cluster.b, tech.cookie, topic, after=0)
    await on_b.wait_for(1, within=10)

    latencies = await _live_probes(mayor, thread, [on_b], first_seq=2)

    assert on_b.seqs == [1, 2, 3, 4]
    assert on_b.closes == [] and on_b.connects == 1
    print(f"A->B live latencies: {[f'{x * 1000:.0f} ms' for x in latencies]}")


async def _get_json(url: str) -> tuple[int, dict[str, str]]:
    async with httpx.AsyncClient(timeout=10, trust_env=False) as http:
        response = await http.get(url)
        return response.status_code, response.json()


async def test_redis_killed_and_restarted_mid_stream_loses_nothing(
    cluster: Cluster, users: tuple[User, User], listen: Callable[..., Listener]
) -> None:
    total = 30  # replies in the stream (seq 1..total on the thread's topic)
    kill_after = 10  # Redis dies once this many replies are posted
    outage = 1.0  # seconds before it is started again, empty, on the same port
    mayor, tech = users
    thread = await mayor.new_thread("Riavvio di Redis")
    topic = f"thread:{thread}"
    assert (await mayor.reply(thread, "risposta 1")).status_code == 303
    sockets = [listen(cluster.a, tech.cookie, topic), listen(cluster.b, tech.cookie, topic)]
    for lis in sockets:
        await lis.wait_for(1, within=10)  # subscribed (seq 1 came by replay or live)

    down = asyncio.Event()
    timeline: dict[str, float] = {}
    readyz_down: list[tuple[str, int, dict[str, str]]] = []

    async def chaos() -> None:
        await down.wait()
        timeline["killed"] = time.monotonic()
        cluster.redis.kill()
        for worker in (cluster.a, cluster.b):
            status, body = await _get_json(f"{worker.url}/readyz")
            readyz_down.append((worker.name, status, body))
        # A page opened on B while Redis is down: its topic is already followed
        # there, so it needs nothing from Redis to get the replay and what follows.
        sockets.append(listen(cluster.b, tech.cookie, topic))
        await asyncio.sleep(max(0.0, outage - (time.monotonic() - timeline["killed"])))
        await asyncio.to_thread(cluster.redis.start)
        timeline["restarted"] = time.monotonic()

    chaos_task = asyncio.create_task(chaos())
    posts: list[tuple[int, float, float, int]] = []  # (seq, sent, answered, status)
    try:
        for seq in range(2, total + 1):
            if seq == kill_after + 1:
                down.set()
                await asyncio.sleep(0.05)  # let the kill happen before this post
            sent = time.monotonic()
            response = await mayor.reply(thread, f"risposta {seq}")
            posts.append((seq, sent, time.monotonic(), response.status_code))
            await asyncio.sleep(0.03)
        timeline["last_post"] = time.monotonic()
    finally:
        await chaos_task

    # Every write succeeded, including those made while Redis was down.
    assert [status for *_, status in posts] == [303] * (total - 1)
    during = [seq for seq, sent, _, _ in posts if timeline["killed"] < sent < timeline["restarted"]]
    assert len(during) >= 3, f"only {during} were posted during the outage: {timeline}"
    slowest_during = max(answered - sent for seq, sent, answered, _ in posts if seq in during)

    # While Redis was down both workers said so on /readyz (the database was fine).
    for name, status, body in readyz_down:
        assert status == 503, (name, status, body)
        assert body["database"] == "ok" and body["channel_layer"].startswith("error"), body
    # ... and say ready again once it is back.
    for worker in (cluster.a, cluster.b):
        deadline = time.monotonic() + 10
        while (status := (await _get_json(f"{worker.url}/readyz"))[0]) != 200:
            assert time.monotonic() < deadline, f"worker {worker.name} /readyz stays {status}"
            await asyncio.sleep(0.1)

    # Every socket ends with every event exactly once, in order (the hubs fill
    # the gaps from the log; a reopened socket resumes from its last seq).
    for lis in sockets:
        await lis.wait_for(total, within=20)
    complete = max(lis.arrivals[total] for lis in sockets) - timeline["last_post"]
    await asyncio.sleep(0.3)  # room for a late duplicate to show up
    for lis in sockets:
        assert lis.seqs == list(range(1, total + 1)), (lis.ws_url, lis.seqs, lis.closes)

    # After the restart the layer carries events live again: the pub/sub
    # connections resubscribed (not just the 2 s log poll catching up).
    # channels_redis retries a failed subscriber a second after each error,
    # so its resubscription may trail /readyz (a publish) by that long: wait
    # for it, a few seconds at most, then every probe must be live.
    first = await _until_live(mayor, thread, sockets, first_seq=total + 1)
    latencies = await _live_probes(mayor, thread, sockets, first_seq=first)
    for lis in sockets:
        assert lis.seqs == list(range(1, first + 3)), (lis.ws_url, lis.seqs, lis.closes)

    print(
        f"posts during the outage: {len(during)} (slowest {slowest_during * 1000:.0f} ms); "
        f"all {total} events on every socket {complete:.2f}s after the last post; "
        f"close codes (A, B, B opened during the outage): {[lis.closes for lis in sockets]}; "
        f"live after restart: {[f'{x * 1000:.0f} ms' for x in latencies]}"
    )
