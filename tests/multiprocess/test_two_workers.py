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
import time
from collections.abc import Callable

import httpx
import pytest

from tests.multiprocess.clients import Listener, User
from tests.multiprocess.conftest import Cluster

pytestmark = [pytest.mark.slow, pytest.mark.alone]

# Live delivery must beat this; the hub's log poll (every 2 s) cannot, for
# probes spaced further apart than the poll leaves between two of its runs.
LIVE_WITHIN = 1.0
PROBE_SPACING = 1.1


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
