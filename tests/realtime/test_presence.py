"""Presence in memory and in a real Redis: distinct users, leave, and expiry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from collab.realtime.presence import MemoryPresence, Presence, Present, RedisPresence


@pytest.fixture(params=["memory", "redis"])
async def presence(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[Presence]:
    store: Presence
    if request.param == "memory":
        store = MemoryPresence(ttl=0.3)
    else:
        store = RedisPresence(redis_url, ttl=0.3)
        await store.redis.flushdb()  # type: ignore[attr-defined]
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
    await asyncio.sleep(0.2)
    await presence.touch("thread:1", "alive#b", 9, "Bruno")  # refreshed by its heartbeat
    await asyncio.sleep(0.2)
    assert await presence.who("thread:1") == [Present("Bruno", 9)]
