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
import secrets
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


# The topic's version changes whenever its people may have: a member added
# (a new socket, or a renamed user), removed or expired. A reading that knows
# the current version gets no members back: a worker reads a meeting's
# 10,000 entries only after a change, not at every heartbeat tick.
_TOUCH = """
local added = 0
for i = 3, #ARGV, 2 do
  added = added + redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
if added > 0 or redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[1])
else
  redis.call('EXPIRE', KEYS[2], ARGV[1])
end
return added
"""
_LEAVE = """
if redis.call('ZREM', KEYS[1], ARGV[1]) > 0 then
  redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
end
return 0
"""
_WHO = """
local version = redis.call('GET', KEYS[2])
if redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1]) > 0 or not version then
  version = ARGV[2]
  redis.call('SET', KEYS[2], version, 'EX', ARGV[4])
end
if version == ARGV[3] then
  return {version}
end
return {version, redis.call('ZRANGE', KEYS[1], 0, -1)}
"""


class RedisPresence:
    """Presence shared by the workers: per topic, a sorted set of entries
    scored by expiry and a version (see ``_WHO``); each worker keeps the
    people of the version it read last."""

    def __init__(self, url: str, ttl: float) -> None:
        from redis.asyncio import from_url

        self.ttl = ttl
        self.redis: Any = from_url(url)
        self._turns = asyncio.Semaphore(IN_FLIGHT)
        self._touch = self.redis.register_script(_TOUCH)
        self._leave = self.redis.register_script(_LEAVE)
        self._who = self.redis.register_script(_WHO)
        self._read: dict[str, tuple[bytes, list[Present]]] = {}  # topic: version, people

    @staticmethod
    def _key(topic: str) -> str:
        return f"collab:presence:{topic}"

    @staticmethod
    def _member(key: str, user_id: int, name: str) -> str:
        return json.dumps([key, user_id, name], separators=(",", ":"))

    def _keys(self, topic: str) -> list[str]:
        rkey = self._key(topic)
        return [rkey, f"{rkey}:v"]

    def _expire(self) -> int:
        return int(self.ttl * 2) + 1

    async def touch(self, topic: str, key: str, user_id: int, name: str) -> None:
        await self.touch_many([(topic, key, user_id, name)])

    async def touch_many(self, entries: list[Entry]) -> None:
        # The heartbeats due together: one pipeline, one script per topic,
        # instead of a round trip per socket.
        expires = time.time() + self.ttl
        by_topic: dict[str, dict[str, float]] = {}
        for topic, key, user_id, name in entries:
            by_topic.setdefault(topic, {})[self._member(key, user_id, name)] = expires
        async with self._turns, self.redis.pipeline(transaction=False) as pipe:
            for topic, members in by_topic.items():
                args: list[Any] = [self._expire(), secrets.token_hex(8)]
                for member, score in members.items():
                    args += [score, member]
                await self._touch(keys=self._keys(topic), args=args, client=pipe)
            await pipe.execute()

    async def leave(self, topic: str, key: str, user_id: int, name: str) -> None:
        args: list[Any] = [self._member(key, user_id, name), secrets.token_hex(8), self._expire()]
        async with self._turns:
            await self._leave(keys=self._keys(topic), args=args)

    async def who(self, topic: str) -> list[Present]:
        known = self._read.get(topic)
        args: list[Any] = [
            time.time(),
            secrets.token_hex(8),
            known[0] if known else b"",
            self._expire(),
        ]
        async with self._turns:
            answer = await self._who(keys=self._keys(topic), args=args)
        version = answer[0]
        if len(answer) == 1:
            return list(known[1]) if known is not None else []
        entries = []
        for raw in answer[1]:
            _, user_id, name = json.loads(raw)
            entries.append((int(user_id), str(name)))
        people = _unique(entries)
        if people:
            self._read[topic] = (version, people)
        else:
            self._read.pop(topic, None)  # nobody there: forget the topic
        return list(people)

    async def close(self) -> None:
        await self.redis.aclose()


def make_presence(redis_url: str, ttl: float) -> Presence:
    return RedisPresence(redis_url, ttl) if redis_url else MemoryPresence(ttl)
