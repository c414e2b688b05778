"""The per-process hub: one layer message per process per event, one render per
variant, order kept, gaps filled from the log, replay after reconnect."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import pytest
from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer
from sqlalchemy import select

from collab.db import Database
from collab.forums import actions
from collab.models import Theme, Thread, User, utcnow
from collab.realtime import log
from collab.realtime.hub import Hub
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
