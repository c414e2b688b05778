"""The per-process hub: one layer message per process per event, one render per
variant, order kept, gaps filled from the log, replay after reconnect."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import pytest
from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer
from sqlalchemy import select

from collab.db import Database
from collab.forums import actions
from collab.forums.models import Thread
from collab.models import Theme, User, utcnow
from collab.realtime import log
from collab.realtime.hub import MAX_ATTEMPTS, Hub
from collab.realtime.log import LoggedEvent
from collab.realtime.publisher import Publisher
from tests.conftest import World


@dataclass(eq=False)
class Socket:
    """A stand-in for a websocket: records what the hub hands it."""

    variant: Hashable = "viewer"
    got: list[tuple[str, int, Any]] = field(default_factory=list)
    resets: list[str] = field(default_factory=list)

    def deliver(self, topic: str, seq: int, payload: Any) -> None:
        self.got.append((topic, seq, payload))

    def reset(self, topic: str) -> None:
        self.resets.append(topic)

    def seqs(self, topic: str) -> list[int]:
        return [seq for t, seq, _ in self.got if t == topic]


class CountingRender:
    """Renders ``topic#seq@variant`` and counts prepares and renders."""

    def __init__(self) -> None:
        self.prepared: list[int] = []
        self.calls: list[tuple[int, Hashable]] = []
        self.sorted = 0  # variant() calls

    def basis(self, prepared: LoggedEvent) -> Hashable:
        return prepared.event["type"]

    async def prepare(self, item: LoggedEvent) -> LoggedEvent:
        self.prepared.append(item.seq)
        return item

    def variant(self, prepared: LoggedEvent, subscriber: Any) -> Hashable:
        self.sorted += 1
        return subscriber.variant  # type: ignore[no-any-return]

    def render(self, prepared: LoggedEvent, variant: Hashable) -> str:
        self.calls.append((prepared.seq, variant))
        return f"{prepared.topic}#{prepared.seq}@{variant}"


async def _thread(db: Database, user: User) -> Thread:
    async with db.session() as session:
        theme = await session.scalar(select(Theme).where(Theme.slug == "turismo"))
    assert theme is not None
    async with db.transaction() as uow:
        return await actions.do_start_thread(uow, user, user.zone_id, theme, "Titolo", "Testo")


async def _reply(db: Database, user: User, thread_id: int, text: str = "ciao") -> None:
    async with db.transaction() as uow:
        await actions.do_reply(uow, user, thread_id, text)


async def _follow(db: Database, world: World, hub: Hub) -> tuple[Thread, str, Socket]:
    """A new thread in zone 5, and a socket on ``hub`` following it from now on."""
    thread = await _thread(db, world["sindaco5"])
    topic = f"thread:{thread.id}"
    sock = Socket()
    await hub.subscribe(topic, sock, after=None)
    return thread, topic, sock


async def eventually(check: Callable[[], bool], within: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@pytest.fixture
async def two_hubs(db: Database) -> AsyncIterator[tuple[Hub, Hub, CountingRender, CountingRender]]:
    """Two hubs on one in-memory layer: two worker processes, as far as the layer knows."""
    assert isinstance(db.sink, Publisher)
    renders = CountingRender(), CountingRender()
    hubs = Hub(db.sink.layer, db, renders[0]), Hub(db.sink.layer, db, renders[1])
    for hub in hubs:
        await hub.start()
    yield hubs[0], hubs[1], renders[0], renders[1]
    for hub in hubs:
        await hub.stop()


async def test_one_layer_message_per_process_and_one_render_per_variant(
    db: Database, world: World, two_hubs: tuple[Hub, Hub, CountingRender, CountingRender]
) -> None:
    hub_a, hub_b, render_a, render_b = two_hubs
    thread = await _thread(db, world["sindaco5"])
    topic = f"thread:{thread.id}"
    # Five sockets on A in two variants, three on B in one.
    on_a = [Socket("viewer") for _ in range(3)] + [Socket("moderator") for _ in range(2)]
    on_b = [Socket("viewer") for _ in range(3)]
    for sock in on_a:
        await hub_a.subscribe(topic, sock, after=None)
    for sock in on_b:
        await hub_b.subscribe(topic, sock, after=None)
    for n in range(4):
        await _reply(db, world["tecnico5"], thread.id, f"risposta {n}")
    await eventually(lambda: all(len(s.got) == 4 for s in on_a + on_b))
    # One layer message per process per event (the hubs' channels are the only members).
    assert hub_a.received == 4
    assert hub_b.received == 4
    # One preparation per event per process, one render per event and variant.
    assert render_a.prepared == render_b.prepared == [1, 2, 3, 4]
    assert sorted(render_a.calls) == sorted(
        (seq, v) for seq in (1, 2, 3, 4) for v in ("viewer", "moderator")
    )
    assert render_b.calls == [(seq, "viewer") for seq in (1, 2, 3, 4)]
    assert on_a[0].got[0] == (topic, 1, f"{topic}#1@viewer")
    assert on_a[4].got[3] == (topic, 4, f"{topic}#4@moderator")
    assert all(s.seqs(topic) == [1, 2, 3, 4] for s in on_a + on_b)


async def test_sockets_are_sorted_by_variant_once_per_basis_until_someone_joins(
    db: Database, world: World, two_hubs: tuple[Hub, Hub, CountingRender, CountingRender]
) -> None:
    hub, _, render, _ = two_hubs
    thread, topic, first = await _follow(db, world, hub)
    others = [Socket("moderator") for _ in range(3)]
    for sock in others:
        await hub.subscribe(topic, sock, after=None)
    for n in range(5):  # five replies: one basis
        await _reply(db, world["tecnico5"], thread.id, f"risposta {n}")
    await eventually(lambda: len(first.got) == 5)
    assert render.sorted == 4  # once per socket, not once per socket per event
    # An edit is another basis: one more sort.
    async with db.transaction() as uow:
        await actions.do_set_pinned(uow, world["staff"], thread.id, True)
    await eventually(lambda: len(first.got) == 6)
    assert render.sorted == 8
    # Someone joins: the next event sorts again, the newcomer included.
    late = Socket("viewer")
    await hub.subscribe(topic, late, after=None)
    await _reply(db, world["tecnico5"], thread.id)
    await eventually(lambda: len(late.got) == 1)
    assert render.sorted == 13
    assert late.got == [(topic, 7, f"{topic}#7@viewer")]
    assert others[0].got[-1] == (topic, 7, f"{topic}#7@moderator")
    # Someone leaves: it gets nothing more.
    await hub.unsubscribe(topic, others[0])
    await _reply(db, world["tecnico5"], thread.id)
    await eventually(lambda: len(late.got) == 2)
    assert len(others[0].got) == 7
    assert [s.seqs(topic) for s in others[1:]] == [[1, 2, 3, 4, 5, 6, 7, 8]] * 2


async def test_a_lost_message_is_filled_from_the_log(
    db: Database, world: World, two_hubs: tuple[Hub, Hub, CountingRender, CountingRender]
) -> None:
    hub, _, _, _ = two_hubs
    thread, topic, sock = await _follow(db, world, hub)
    assert isinstance(db.sink, Publisher)
    publish = db.sink.publish

    async def drop(logged: Any) -> None:  # the layer loses these (a Redis restart)
        return None

    db.sink.publish = drop  # type: ignore[method-assign]
    await _reply(db, world["tecnico5"], thread.id, "persa 1")
    await _reply(db, world["tecnico5"], thread.id, "persa 2")
    db.sink.publish = publish  # type: ignore[method-assign]
    await _reply(db, world["tecnico5"], thread.id, "arriva")
    await eventually(lambda: len(sock.got) == 3)
    assert sock.seqs(topic) == [1, 2, 3]  # the gap came from the log, in order, once


async def test_the_poll_catches_losses_no_later_event_reveals(
    db: Database, world: World, two_hubs: tuple[Hub, Hub, CountingRender, CountingRender]
) -> None:
    hub, _, _, _ = two_hubs
    thread, topic, sock = await _follow(db, world, hub)
    assert isinstance(db.sink, Publisher)

    async def drop(logged: Any) -> None:
        return None

    db.sink.publish = drop  # type: ignore[method-assign]
    await _reply(db, world["tecnico5"], thread.id)
    assert sock.got == []
    await hub.catch_up()
    assert sock.seqs(topic) == [1]
    await hub.catch_up()  # nothing twice
    assert sock.seqs(topic) == [1]


async def test_duplicates_are_dropped(
    db: Database, world: World, two_hubs: tuple[Hub, Hub, CountingRender, CountingRender]
) -> None:
    hub, _, _, _ = two_hubs
    thread, topic, sock = await _follow(db, world, hub)
    await _reply(db, world["tecnico5"], thread.id)
    await eventually(lambda: len(sock.got) == 1)
    async with db.session() as session:
        (item,) = await log.since(session, topic, 0)
    await hub.handle(item)
    await hub.handle(item)
    assert sock.seqs(topic) == [1]


async def test_replay_after_reconnect_in_order_exactly_once(
    db: Database, world: World, two_hubs: tuple[Hub, Hub, CountingRender, CountingRender]
) -> None:
    hub, _, _, _ = two_hubs
    thread = await _thread(db, world["sindaco5"])
    topic = f"thread:{thread.id}"
    first = Socket()
    await hub.subscribe(topic, first, after=None)
    for n in range(3):
        await _reply(db, world["tecnico5"], thread.id, f"r{n}")
    await eventually(lambda: len(first.got) == 3)
    # The client saw seq 1, dropped, and comes back asking for what followed.
    await hub.unsubscribe(topic, first)
    for n in range(2):
        await _reply(db, world["tecnico5"], thread.id, f"offline {n}")
    again = Socket()
    await hub.subscribe(topic, again, after=1)
    await _reply(db, world["tecnico5"], thread.id, "live")
    await eventually(lambda: len(again.got) == 5)
    assert again.seqs(topic) == [2, 3, 4, 5, 6]


async def test_a_gap_older_than_the_log_asks_for_a_reload(
    db: Database, world: World, two_hubs: tuple[Hub, Hub, CountingRender, CountingRender]
) -> None:
    hub, _, _, _ = two_hubs
    thread = await _thread(db, world["sindaco5"])
    topic = f"thread:{thread.id}"
    for n in range(3):
        await _reply(db, world["tecnico5"], thread.id, f"r{n}")
    async with db.transaction() as uow:
        await log.prune(uow.session, utcnow())
    sock = Socket()
    await hub.subscribe(topic, sock, after=1)
    assert sock.resets == [topic]
    assert sock.got == []


async def test_the_last_listener_leaving_leaves_the_group(
    db: Database, world: World, two_hubs: tuple[Hub, Hub, CountingRender, CountingRender]
) -> None:
    hub, _, _, _ = two_hubs
    thread, topic, sock = await _follow(db, world, hub)
    await hub.unsubscribe(topic, sock)
    assert topic not in hub.topics
    await _reply(db, world["tecnico5"], thread.id)
    await asyncio.sleep(0.05)
    assert hub.received == 0  # the layer no longer sends this process anything


async def test_two_processes_over_a_real_redis(db: Database, world: World, redis_url: str) -> None:
    """Two hubs, each with its own connection to one real Redis: one message each per event."""
    layers = [RedisPubSubChannelLayer(hosts=[redis_url], prefix="t") for _ in range(2)]
    publisher = Publisher(layers[0])
    db.sink = publisher
    hubs = [Hub(layer, db) for layer in layers]
    socks = [Socket(), Socket()]
    try:
        for hub in hubs:
            await hub.start()
        thread = await _thread(db, world["sindaco5"])
        topic = f"thread:{thread.id}"
        for hub, sock in zip(hubs, socks, strict=True):
            await hub.subscribe(topic, sock, after=None)
        await asyncio.sleep(0.2)  # pub/sub subscriptions settle
        for n in range(5):
            await _reply(db, world["tecnico5"], thread.id, f"r{n}")
        await eventually(lambda: all(len(s.got) == 5 for s in socks))
        assert [hub.received for hub in hubs] == [5, 5]
        assert all(s.seqs(topic) == [1, 2, 3, 4, 5] for s in socks)
    finally:
        for hub in hubs:
            await hub.stop()
        for layer in layers:
            await layer.flush()


def test_in_memory_layer_is_the_embedded_default() -> None:
    from collab.realtime.layers import make_layer
    from collab.settings import Settings

    assert isinstance(make_layer(Settings()), InMemoryChannelLayer)


class FailingRender(CountingRender):
    """Fails to prepare chosen events of one topic: ``failures[seq]`` times
    each (-1: always)."""

    def __init__(self, topic: str = "", failures: dict[int, int] | None = None) -> None:
        super().__init__()
        self.topic = topic
        self.failures = failures or {}

    async def prepare(self, item: LoggedEvent) -> LoggedEvent:
        left = self.failures.get(item.seq, 0) if item.topic == self.topic else 0
        if left:
            self.failures[item.seq] = left - 1
            raise RuntimeError(f"database blip preparing {item.topic}#{item.seq}")
        return await super().prepare(item)


@pytest.fixture
async def failing_hub(db: Database) -> AsyncIterator[tuple[Hub, FailingRender]]:
    """A hub whose renderer fails as a test tells it; no poll in the way."""
    assert isinstance(db.sink, Publisher)
    render = FailingRender()
    hub = Hub(db.sink.layer, db, render, poll_interval=3600)
    await hub.start()
    yield hub, render
    await hub.stop()


def _receiving(hub: Hub) -> bool:
    return not any(t.done() for t in hub._tasks)


async def test_a_render_that_fails_once_loses_nothing(
    db: Database,
    world: World,
    failing_hub: tuple[Hub, FailingRender],
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub, render = failing_hub
    thread, topic, sock = await _follow(db, world, hub)
    other = Socket("moderator")
    await hub.subscribe(topic, other, after=None)
    render.topic, render.failures = topic, {1: 1}
    for n in range(3):
        await _reply(db, world["tecnico5"], thread.id, f"r{n}")
    await eventually(lambda: len(sock.got) == 3 and len(other.got) == 3)
    assert sock.seqs(topic) == other.seqs(topic) == [1, 2, 3]  # in order, once each
    assert sock.resets == other.resets == []
    assert _receiving(hub)  # the receive loop survived
    failed = [r for r in caplog.records if f"{topic}#1" in r.getMessage()]
    assert len(failed) == 1, [r.getMessage() for r in caplog.records]
    # Later events flow as usual.
    await _reply(db, world["tecnico5"], thread.id, "dopo")
    await eventually(lambda: sock.seqs(topic) == [1, 2, 3, 4])


async def test_a_failed_last_event_is_delivered_by_the_poll(
    db: Database, world: World, failing_hub: tuple[Hub, FailingRender]
) -> None:
    hub, render = failing_hub
    thread, topic, sock = await _follow(db, world, hub)
    render.topic, render.failures = topic, {1: 1}
    await _reply(db, world["tecnico5"], thread.id)
    await eventually(lambda: render.failures == {1: 0})
    assert sock.got == []  # no later event reveals it...
    await hub.catch_up()  # ...the poll does
    assert sock.seqs(topic) == [1]


async def test_an_event_that_never_renders_resets_its_topic_only(
    db: Database,
    world: World,
    failing_hub: tuple[Hub, FailingRender],
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub, render = failing_hub
    thread, topic, sock = await _follow(db, world, hub)
    elsewhere, other_topic, other = await _follow(db, world, hub)
    render.topic, render.failures = topic, {2: -1}
    for n in range(3):
        await _reply(db, world["tecnico5"], thread.id, f"r{n}")
        await _reply(db, world["tecnico5"], elsewhere.id, f"altrove {n}")
    for _ in range(MAX_ATTEMPTS):
        await hub.catch_up()  # the retries (the poll, every 2 s in production)
    await eventually(lambda: sock.seqs(topic) == [1, 3])
    assert sock.resets == [topic]  # the page reloads the thread's region
    assert other.seqs(other_topic) == [1, 2, 3]
    assert other.resets == []
    assert _receiving(hub)
    assert any(f"{topic}#2" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
    await _reply(db, world["tecnico5"], thread.id, "dopo")
    await eventually(lambda: sock.seqs(topic) == [1, 3, 4])


async def test_the_hub_joins_again_before_the_layer_forgets_it(db: Database, world: World) -> None:
    """The in-memory layer (and channels-redis) drop group members after
    ``group_expiry``: live push must not stop after a day."""
    layer = InMemoryChannelLayer(group_expiry=1)
    db.sink = Publisher(layer)
    hub = Hub(layer, db, CountingRender(), poll_interval=3600)  # live only: no poll
    await hub.start()
    try:
        thread, topic, sock = await _follow(db, world, hub)
        await asyncio.sleep(2.5)  # well past the expiry
        for n in range(2):
            await _reply(db, world["tecnico5"], thread.id, f"r{n}")
        await eventually(lambda: sock.seqs(topic) == [1, 2], within=3)
        assert hub.received == 2
    finally:
        await hub.stop()


async def test_a_slow_topic_does_not_hold_up_the_others(
    db: Database, world: World, failing_hub: tuple[Hub, FailingRender]
) -> None:
    hub, _ = failing_hub
    stuck, stuck_topic, _ = await _follow(db, world, hub)
    thread, topic, sock = await _follow(db, world, hub)
    release = asyncio.Event()
    prepare = hub.renderer.prepare

    async def slow(item: LoggedEvent) -> Any:
        if item.topic == stuck_topic:
            await release.wait()  # one slow query
        return await prepare(item)

    hub.renderer.prepare = slow  # type: ignore[method-assign]
    await _reply(db, world["tecnico5"], stuck.id)
    await _reply(db, world["tecnico5"], thread.id)
    await eventually(lambda: sock.seqs(topic) == [1])
    release.set()


class SessionCountingRender(CountingRender):
    """Prepares in a session of its own, as the app's renderer does, and
    records the most sessions open at once (the pool's connections)."""

    def __init__(self, db: Database) -> None:
        super().__init__()
        self.open = self.most = 0
        session = db.session

        def counted() -> Any:
            @contextlib.asynccontextmanager
            async def opened() -> AsyncIterator[Any]:
                async with session() as s:
                    self.open += 1
                    self.most = max(self.most, self.open)
                    try:
                        yield s
                    finally:
                        self.open -= 1

            return opened()

        db.session = counted  # type: ignore[method-assign]
        self.db = db

    async def prepare(self, item: LoggedEvent) -> LoggedEvent:
        async with self.db.session():
            await asyncio.sleep(0.001)
            return await super().prepare(item)


async def test_a_reconnect_storm_reads_and_renders_once_with_bounded_connections(
    db: Database, world: World
) -> None:
    """300 pages that were behind rejoin at once (a restarted worker): each gets
    every missed event in order, the log is read once per topic and each event
    prepared once, and never more than the replay bound of sessions is open."""
    assert isinstance(db.sink, Publisher)
    thread = await _thread(db, world["sindaco5"])
    topic = f"thread:{thread.id}"
    for n in range(20):
        await _reply(db, world["tecnico5"], thread.id, f"r{n}")
    render = SessionCountingRender(db)
    hub = Hub(db.sink.layer, db, render, poll_interval=3600, replay_concurrency=3)
    await hub.start()
    try:
        socks = [Socket("viewer" if i % 3 else "moderator") for i in range(300)]
        await asyncio.gather(*(hub.subscribe(topic, s, after=5) for s in socks))
        assert all(s.seqs(topic) == list(range(6, 21)) for s in socks)
        assert hub.replays.reads == 1
        assert sorted(render.prepared) == list(range(6, 21))  # once per event
        assert sorted(render.calls) == sorted(
            (seq, v) for seq in range(6, 21) for v in ("viewer", "moderator")
        )  # once per event and variant
        assert render.most <= 3 + 1, render.most  # the bound, plus the join's read
        # Live events still reach them all, after the replay, in order.
        await _reply(db, world["tecnico5"], thread.id, "live")
        await eventually(lambda: all(s.seqs(topic)[-1] == 21 for s in socks))
    finally:
        await hub.stop()


class SwallowingLayer(InMemoryChannelLayer):
    """A layer whose receive, cancelled the first time, returns as if nothing
    happened (as redis-py 8.2's commands can on Python 3.11)."""

    swallowed = False

    async def receive(self, channel: str) -> dict[str, Any]:
        try:
            return await super().receive(channel)
        except asyncio.CancelledError:
            if self.swallowed:
                raise
            self.swallowed = True
            return {"type": "collab.nothing"}


async def test_the_hub_stops_even_when_its_layer_swallows_the_cancel(db: Database) -> None:
    hub = Hub(SwallowingLayer(), db, CountingRender(), poll_interval=3600)
    await hub.start()
    await asyncio.sleep(0.05)  # the receive loop waits in the layer
    stopping = asyncio.create_task(hub.stop())
    done, _ = await asyncio.wait({stopping}, timeout=5)
    assert stopping in done, "the hub did not stop: the worker would never exit"
