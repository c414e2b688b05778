"""Presence in memory and in a real Redis: distinct users, leave, and expiry."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from collab.realtime.presence import MemoryPresence, Presence, Present, RedisPresence

TTL = 1.0  # seconds an entry lives without a heartbeat


async def _store(kind: str, redis_url: str, ttl: float) -> Presence:
    if kind == "memory":
        return MemoryPresence(ttl=ttl)
    store = RedisPresence(redis_url, ttl=ttl)
    await store.redis.flushdb()
    return store


@pytest.fixture(params=["memory", "redis"])
async def presence(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[Presence]:
    store = await _store(request.param, redis_url, TTL)
    yield store
    await store.close()


@pytest.fixture(params=["memory", "redis"])
async def lasting(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[Presence]:
    """A store whose entries outlive a slow test (a busy machine)."""
    store = await _store(request.param, redis_url, 300)
    yield store
    await store.close()


async def test_two_tabs_of_one_user_count_once(presence: Presence) -> None:
    await presence.touch("thread:1", "w1#a", 7, "Ada")
    await presence.touch("thread:1", "w2#b", 7, "Ada")
    await presence.touch("thread:1", "w1#c", 9, "Bruno")
    assert await presence.who("thread:1") == [Present("Ada", 7), Present("Bruno", 9)]
    await presence.leave("thread:1", "w1#a", 7, "Ada")
    assert await presence.who("thread:1") == [Present("Ada", 7), Present("Bruno", 9)]
    await presence.leave("thread:1", "w2#b", 7, "Ada")
    assert await presence.who("thread:1") == [Present("Bruno", 9)]
    assert await presence.who("thread:2") == []


async def test_entries_of_a_dead_worker_expire(presence: Presence) -> None:
    await presence.touch("thread:1", "dead#a", 7, "Ada")
    await presence.touch("thread:1", "alive#b", 9, "Bruno")
    assert await presence.who("thread:1") == [Present("Ada", 7), Present("Bruno", 9)]
    await asyncio.sleep(TTL + 0.1)  # the worker of "dead#a" died: no more heartbeats
    await presence.touch("thread:1", "alive#b", 9, "Bruno")  # refreshed by its heartbeat
    assert await presence.who("thread:1") == [Present("Bruno", 9)]


async def test_a_burst_of_sockets_all_get_their_entry(lasting: Presence) -> None:
    # After a worker restarts, hundreds of pages rejoin within a second and
    # each touches its entry at once: none may fail for want of a connection
    # (redis-py's default pool raises past 100 connections in use).
    await asyncio.gather(
        *(lasting.touch(f"thread:{n % 3}", f"w#{n}", n, f"U{n:03}") for n in range(400))
    )
    counts = [len(await lasting.who(f"thread:{t}")) for t in range(3)]
    assert counts == [134, 133, 133]


async def test_touching_many_entries_at_once_refreshes_each(presence: Presence) -> None:
    await presence.touch("thread:1", "dead#a", 7, "Ada")
    await asyncio.sleep(TTL / 2)
    # The heartbeats of one tick: two topics, one user with two tabs.
    await presence.touch_many(
        [
            ("thread:1", "w#b", 9, "Bruno"),
            ("thread:1", "w#c", 9, "Bruno"),
            ("thread:2", "w#d", 11, "Carla"),
        ]
    )
    await asyncio.sleep(TTL / 2 + 0.1)  # "dead#a" was not touched again
    assert await presence.who("thread:1") == [Present("Bruno", 9)]
    assert await presence.who("thread:2") == [Present("Carla", 11)]


async def test_a_socket_whose_user_is_renamed_shows_the_new_name() -> None:
    # In memory only: Redis keeps the old name's member until it expires.
    lasting = MemoryPresence(ttl=300)
    await lasting.touch("thread:1", "w#a", 7, "Ada")
    await lasting.touch("thread:1", "w#b", 9, "Bruno")
    assert await lasting.who("thread:1") == [Present("Ada", 7), Present("Bruno", 9)]
    await lasting.touch_many([("thread:1", "w#a", 7, "Ada Rossi")])  # its next heartbeat
    assert await lasting.who("thread:1") == [Present("Ada Rossi", 7), Present("Bruno", 9)]


async def test_a_reading_is_the_callers_to_keep(lasting: Presence) -> None:
    await lasting.touch("thread:1", "w#a", 7, "Ada")
    first = await lasting.who("thread:1")
    first.append(Present("Intruso", 1))
    await lasting.touch("thread:1", "w#b", 9, "Bruno")
    await lasting.leave("thread:1", "w#a", 7, "Ada")
    assert await lasting.who("thread:1") == [Present("Bruno", 9)]
    assert first[0] == Present("Ada", 7)


async def test_readings_follow_many_tabs_coming_and_going(lasting: Presence) -> None:
    # Ten people with thirty tabs each; the readings between the changes
    # must be those of a fresh count of the live entries.
    tabs = [(f"w#{n}", n % 10, f"U{n % 10}") for n in range(300)]
    await lasting.touch_many([("thread:1", key, uid, name) for key, uid, name in tabs])
    assert [p.user_id for p in await lasting.who("thread:1")] == list(range(10))
    for key, uid, name in tabs:
        if uid in (3, 4) or key.endswith("5"):
            await lasting.leave("thread:1", key, uid, name)
    expected = sorted(
        {
            Present(name, uid)
            for key, uid, name in tabs
            if uid not in (3, 4) and not key.endswith("5")
        }
    )
    assert await lasting.who("thread:1") == expected
    for key, uid, name in tabs:
        await lasting.leave("thread:1", key, uid, name)
    assert await lasting.who("thread:1") == []


async def test_workers_sharing_redis_see_each_others_changes(redis_url: str) -> None:
    first = await _store("redis", redis_url, TTL)
    second = RedisPresence(redis_url, ttl=TTL)
    try:
        await first.touch("thread:1", "w1#a", 7, "Ada")
        assert await second.who("thread:1") == [Present("Ada", 7)]  # read and kept
        await first.touch_many([("thread:1", "w1#b", 9, "Bruno")])  # someone new
        assert await second.who("thread:1") == [Present("Ada", 7), Present("Bruno", 9)]
        await first.leave("thread:1", "w1#a", 7, "Ada")
        assert await second.who("thread:1") == [Present("Bruno", 9)]
        await asyncio.sleep(TTL + 0.1)  # the first worker died: its entries expire
        assert await second.who("thread:1") == []
    finally:
        await first.close()
        await second.close()


async def test_a_heartbeat_reading_with_nothing_changed_parses_no_entry(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await _store("redis", redis_url, 300)
    try:
        await store.touch_many([("thread:1", f"w#{n}", n % 3, f"U{n % 3}") for n in range(500)])
        assert len(await store.who("thread:1")) == 3
        parsed: list[object] = []
        real = json.loads

        def loads(raw: object) -> object:
            parsed.append(raw)
            return real(raw)  # type: ignore[arg-type]

        monkeypatch.setattr(json, "loads", loads)
        # Their next heartbeats: the same people, later expiries.
        await store.touch_many([("thread:1", f"w#{n}", n % 3, f"U{n % 3}") for n in range(500)])
        assert len(await store.who("thread:1")) == 3
        assert parsed == []
        await store.touch("thread:1", "w#new", 3, "U3")  # a new socket: read again
        assert len(await store.who("thread:1")) == 4
        assert len(parsed) == 501
    finally:
        await store.close()
