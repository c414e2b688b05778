"""Who is looking at a topic right now, across worker processes.

Entries expire: each socket refreshes its own at every heartbeat (those of
the sockets due together in one round, :meth:`Presence.touch_many`), so the
users of a worker that died vanish after ``ttl`` seconds without anyone
cleaning up. In memory for the embedded default (one process); in Redis, one
sorted set per topic scored by expiry time, when ``REDIS_URL`` is set.
Presence is not an event: it is not logged and has no sequence number.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Entry", "MemoryPresence", "Presence", "Present", "RedisPresence", "make_presence"]


Entry = tuple[str, str, int, str]  # topic, socket key, user id, name


@dataclass(frozen=True, order=True)
class Present:
    name: str
    user_id: int


class Presence(Protocol):
    async def touch(self, topic: str, key: str, user_id: int, name: str) -> None: ...

    async def touch_many(self, entries: list[Entry]) -> None:
        """:meth:`touch` each ``(topic, key, user_id, name)``, in one round."""
        ...

    async def leave(self, topic: str, key: str, user_id: int, name: str) -> None: ...

    async def who(self, topic: str) -> list[Present]: ...

    async def close(self) -> None: ...


def _unique(entries: list[tuple[int, str]]) -> list[Present]:
    # A user with two tabs open is one person here. Unique as plain tuples
    # first: a thread's reading has an entry per socket (thousands), the
    # people are far fewer, and a frozen dataclass is slow to build and hash.
    people = {(name, user_id) for user_id, name in entries}
    return [Present(name, user_id) for name, user_id in sorted(people)]


class _Topic:
    """One topic's entries, and the people they add up to (kept as they change)."""

    __slots__ = ("entries", "listing", "people", "sweep_at")

    def __init__(self) -> None:
        self.entries: dict[str, tuple[float, int, str]] = {}  # key: expires, user id, name
        self.people: dict[tuple[str, int], int] = {}  # (name, user id): their sockets
        self.listing: list[Present] | None = []  # sorted people; None: to sort again
        # No entry expires before this (a lower bound: touching only delays
        # expiries), so a reading sweeps the entries only once it has passed.
        self.sweep_at = math.inf

    def put(self, key: str, expires: float, user_id: int, name: str) -> None:
        old = self.entries.get(key)
        self.entries[key] = (expires, user_id, name)
        if expires < self.sweep_at:
            self.sweep_at = expires
        if old is not None:
            if old[1] == user_id and old[2] == name:
                return  # a heartbeat: the same person, a later expiry
            self._drop((old[2], old[1]))
        person = (name, user_id)
        count = self.people.get(person, 0)
        self.people[person] = count + 1
        if count == 0:
            self.listing = None

    def pop(self, key: str) -> None:
        old = self.entries.pop(key, None)
        if old is not None:
            self._drop((old[2], old[1]))

    def _drop(self, person: tuple[str, int]) -> None:
        count = self.people[person] - 1
        if count:
            self.people[person] = count
        else:
            del self.people[person]
            self.listing = None

    def who(self, now: float) -> list[Present]:
        if now > self.sweep_at:
            expired = [key for key, (expires, _, _) in self.entries.items() if expires < now]
            for key in expired:
                self.pop(key)
            self.sweep_at = min((e[0] for e in self.entries.values()), default=math.inf)
        if self.listing is None:
            self.listing = [Present(name, user_id) for name, user_id in sorted(self.people)]
        return list(self.listing)


class MemoryPresence:
    """Presence for one process. A reading costs what changed since the last one:
    the people of a topic are counted as entries come and go, and the entries
    are swept for expiry only when one may have expired (with 10,000 sockets on
    a meeting, listing them at every heartbeat tick was most of an idle
    process's CPU)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._topics: dict[str, _Topic] = {}

    def _topic(self, topic: str) -> _Topic:
        found = self._topics.get(topic)
        if found is None:
            found = self._topics[topic] = _Topic()
        return found

    async def touch(self, topic: str, key: str, user_id: int, name: str) -> None:
        self._topic(topic).put(key, time.monotonic() + self.ttl, user_id, name)

    async def touch_many(self, entries: list[Entry]) -> None:
        expires = time.monotonic() + self.ttl
        for topic, key, user_id, name in entries:
            self._topic(topic).put(key, expires, user_id, name)

    async def leave(self, topic: str, key: str, user_id: int, name: str) -> None:
        found = self._topics.get(topic)
        if found is None:
            return
        found.pop(key)
        if not found.entries:
            del self._topics[topic]

    async def who(self, topic: str) -> list[Present]:
        found = self._topics.get(topic)
        if found is None:
            return []
        people = found.who(time.monotonic())
        if not found.entries:
            del self._topics[topic]
        return people

    async def close(self) -> None:
        self._topics.clear()


# Redis commands a worker's presence has in flight at most. Every socket
# touches its entry at setup and at each heartbeat: after a restart hundreds
# do so within a second. They wait their turn here rather than fail, as
# redis-py's pool does past 100 connections. (Not redis-py's blocking pool:
# on Python 3.11 it can swallow the cancellation of the task waiting in it.)
IN_FLIGHT = 16


class RedisPresence:
    def __init__(self, url: str, ttl: float) -> None:
        from redis.asyncio import from_url

        self.ttl = ttl
        self.redis: Any = from_url(url)
        self._turns = asyncio.Semaphore(IN_FLIGHT)

    @staticmethod
    def _key(topic: str) -> str:
        return f"collab:presence:{topic}"

    @staticmethod
    def _member(key: str, user_id: int, name: str) -> str:
        return json.dumps([key, user_id, name], separators=(",", ":"))

    async def touch(self, topic: str, key: str, user_id: int, name: str) -> None:
        rkey = self._key(topic)
        async with self._turns, self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(rkey, {self._member(key, user_id, name): time.time() + self.ttl})
            pipe.expire(rkey, int(self.ttl * 2) + 1)
            await pipe.execute()

    async def touch_many(self, entries: list[Entry]) -> None:
        # The heartbeats due together: one pipeline, one ZADD and one EXPIRE
        # per topic, instead of a round trip per socket.
        expires = time.time() + self.ttl
        by_topic: dict[str, dict[str, float]] = {}
        for topic, key, user_id, name in entries:
            by_topic.setdefault(topic, {})[self._member(key, user_id, name)] = expires
        async with self._turns, self.redis.pipeline(transaction=False) as pipe:
            for topic, members in by_topic.items():
                rkey = self._key(topic)
                pipe.zadd(rkey, members)
                pipe.expire(rkey, int(self.ttl * 2) + 1)
            await pipe.execute()

    async def leave(self, topic: str, key: str, user_id: int, name: str) -> None:
        async with self._turns:
            await self.redis.zrem(self._key(topic), self._member(key, user_id, name))

    async def who(self, topic: str) -> list[Present]:
        rkey = self._key(topic)
        async with self._turns, self.redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(rkey, "-inf", time.time())
            pipe.zrange(rkey, 0, -1)
            _, members = await pipe.execute()
        entries = []
        for raw in members:
            _, user_id, name = json.loads(raw)
            entries.append((int(user_id), str(name)))
        return _unique(entries)

    async def close(self) -> None:
        await self.redis.aclose()


def make_presence(redis_url: str, ttl: float) -> Presence:
    return RedisPresence(redis_url, ttl) if redis_url else MemoryPresence(ttl)
