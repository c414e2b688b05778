"""What many sockets that reconnect at once need, read and rendered once.

After a worker restarts, hundreds of pages rejoin within a second, most of
them behind by the same events of the same topics. :class:`Replays` gives
them those events without letting them take the process down:

- a log read holds one pooled connection and releases it before anything is
  rendered (``Renderer.prepare`` opens its own session);
- at most ``concurrency`` reads or preparations run at once, so page
  requests still find a free connection in the pool;
- identical reads are shared (the same topic, from the same last id, up to
  the same end: what the log holds there never changes), and each event is
  prepared once and rendered once per variant; both are kept in small LRUs
  for the next socket that asks.

A socket's replay takes the events in order; if one cannot be prepared or
rendered, that socket is told to reload the topic's region (``reset``)
rather than be handed a hole.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from collab.db import Database
from collab.realtime import log as event_log
from collab.realtime.log import LoggedEvent

__all__ = ["Prepared", "Replays", "Window"]

T = TypeVar("T")

# Windows kept for the next asker, and the largest one kept.
MAX_WINDOWS = 64
MAX_WINDOW_ITEMS = 500


@dataclass
class Prepared:
    """One event, prepared once, with its renders by variant."""

    item: LoggedEvent
    value: Any
    renders: dict[Hashable, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Window:
    """What a socket missed on a topic: ``items``, or ``reset`` if the log no
    longer holds all of them."""

    items: tuple[LoggedEvent, ...] = ()
    reset: bool = False


class Replays:
    """Shared, bounded reads of the log and a cache of prepared events."""

    def __init__(
        self,
        database: Database,
        prepare: Callable[[LoggedEvent], Awaitable[Any]],
        concurrency: int = 4,
        cache_size: int = 1024,
    ) -> None:
        self.db = database
        self._prepare = prepare
        self._slots = asyncio.Semaphore(concurrency)
        self._cache: OrderedDict[tuple[str, int], Prepared] = OrderedDict()
        self._cache_size = cache_size
        self._windows: OrderedDict[tuple[str, int, int], Window] = OrderedDict()
        self._flight: dict[Hashable, asyncio.Future[Any]] = {}
        self.reads = 0  # log reads done (for tests)
        self.prepares = 0  # preparations done (for tests)

    async def _shared(self, key: Hashable, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` once for everyone asking for ``key`` at the same time."""
        flying = self._flight.get(key)
        if flying is not None:
            result: T = await asyncio.shield(flying)
            return result
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._flight[key] = future
        try:
            value = await work()
        except BaseException as exc:
            future.set_exception(exc)
            # Retrieved by nobody when no one else waited: mark it seen.
            future.exception()
            raise
        else:
            future.set_result(value)
            return value
        finally:
            del self._flight[key]

    async def window(self, topic: str, after: int, upto: int) -> Window:
        """The events of ``topic`` in (``after``, ``upto``], read once for all askers."""
        key = (topic, after, upto)
        hit = self._windows.get(key)
        if hit is not None:
            self._windows.move_to_end(key)
            return hit

        async def read() -> Window:
            async with self._slots, self.db.session() as session:
                self.reads += 1
                first, _ = await event_log.bounds(session, topic)
                if after < first - 1:
                    return Window(reset=True)
                items = await event_log.since(session, topic, after, limit=upto - after)
            window = Window(items=tuple(items))
            if len(items) <= MAX_WINDOW_ITEMS:
                self._windows[key] = window
                while len(self._windows) > MAX_WINDOWS:
                    self._windows.popitem(last=False)
            return window

        return await self._shared(("read", *key), read)

    def remember(self, prepared: Prepared) -> None:
        """Keep a prepared event (the live path's too) for the next replay."""
        key = (prepared.item.topic, prepared.item.seq)
        self._cache[key] = prepared
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def prepared(self, item: LoggedEvent) -> Prepared:
        """``item`` prepared, from the cache or once for everyone asking."""
        key = (item.topic, item.seq)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit

        async def prepare() -> Prepared:
            async with self._slots:
                self.prepares += 1
                value = await self._prepare(item)
            done = Prepared(item, value)
            self.remember(done)
            return done

        return await self._shared(("prepare", *key), prepare)
