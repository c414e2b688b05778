"""The per-process hub: one layer channel, local fan-out, gap filling from the log.

A worker process holds one :class:`Hub`. The hub adds its single layer channel
to a topic's group when the first local subscriber arrives and leaves it when
the last one goes, so the layer carries one message per process per event.
Received events are checked against the last sequence number delivered on
their topic: duplicates are dropped, and a gap (a message lost by the layer,
say during a Redis restart) is filled from the durable log before the event
is delivered. A periodic check of the log catches losses that no later event
reveals. Each event is rendered once per view variant, then handed to every
local subscriber of that variant.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select

from collab.db import Database
from collab.models import TopicSeq
from collab.realtime import log as event_log
from collab.realtime.log import LoggedEvent
from collab.realtime.publisher import group_name

__all__ = ["Hub", "PassThrough", "Renderer", "Subscriber"]

logger = logging.getLogger(__name__)


class Subscriber(Protocol):
    """A local listener (a websocket). Its methods must not block."""

    def deliver(self, topic: str, seq: int, payload: Any) -> None: ...

    def reset(self, topic: str) -> None:
        """The events it missed are older than the log keeps: reload the region."""


class Renderer(Protocol):
    """Turns an event into what subscribers get, once per view variant.

    ``prepare`` runs once per event per process (it may query the database);
    ``variant`` sorts subscribers (by locale, role, authorship...); ``render``
    runs once per variant present among the event's subscribers.

    ``basis`` says what of a prepared event the variants depend on (the
    thread's zone, the post's author...): the hub sorts a topic's subscribers
    once per basis and reuses the sort for every later event with the same
    basis until someone joins or leaves, so the hot path does not ask
    ``variant`` per socket per event.
    """

    async def prepare(self, item: LoggedEvent) -> Any: ...

    def basis(self, prepared: Any) -> Hashable: ...

    def variant(self, prepared: Any, subscriber: Subscriber) -> Hashable: ...

    def render(self, prepared: Any, variant: Hashable) -> Any: ...


class PassThrough:
    """The default renderer: every subscriber gets the logged event itself."""

    async def prepare(self, item: LoggedEvent) -> Any:
        return item

    def basis(self, prepared: Any) -> Hashable:
        return None

    def variant(self, prepared: Any, subscriber: Subscriber) -> Hashable:
        return None

    def render(self, prepared: Any, variant: Hashable) -> Any:
        return prepared


@dataclass
class _Member:
    subscriber: Subscriber
    # While its replay runs, live events wait here (then only newer ones pass).
    pending: list[tuple[int, Any]] | None = field(default_factory=list)
    replayed_to: int = 0


# Sorts kept per topic (one per basis: a thread's posts have a few authors).
MAX_SORTS = 16


@dataclass
class _Topic:
    last: int
    members: dict[int, _Member] = field(default_factory=dict)
    # basis -> the members sorted by variant; cleared when members change.
    sorts: dict[Hashable, list[tuple[Hashable, list[_Member]]]] = field(default_factory=dict)

    def sort(self, renderer: Renderer, prepared: Any) -> list[tuple[Hashable, list[_Member]]]:
        basis = renderer.basis(prepared)
        groups = self.sorts.get(basis)
        if groups is None:
            by_variant: dict[Hashable, list[_Member]] = {}
            for member in self.members.values():
                variant = renderer.variant(prepared, member.subscriber)
                by_variant.setdefault(variant, []).append(member)
            if len(self.sorts) >= MAX_SORTS:
                del self.sorts[next(iter(self.sorts))]
            groups = self.sorts[basis] = list(by_variant.items())
        return groups


class Hub:
    """Local fan-out of one process. ``start`` in the lifespan, ``stop`` at shutdown."""

    def __init__(
        self,
        layer: Any,
        database: Database,
        renderer: Renderer | None = None,
        poll_interval: float = 2.0,
    ) -> None:
        self.layer = layer
        self.db = database
        self.renderer: Renderer = renderer or PassThrough()
        self.poll_interval = poll_interval
        self.channel = ""
        self.topics: dict[str, _Topic] = {}
        self._lock = asyncio.Lock()  # serializes delivery: order per topic
        self._tasks: list[asyncio.Task[None]] = []
        self.received = 0  # layer messages received (for tests and benchmarks)

    async def start(self) -> None:
        self.channel = await self.layer.new_channel("collab.hub.")
        self._tasks = [
            asyncio.create_task(self._receive_loop(), name="hub-receive"),
            asyncio.create_task(self._poll_loop(), name="hub-poll"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for topic in list(self.topics):
            with contextlib.suppress(Exception):
                await self.layer.group_discard(group_name(topic), self.channel)
        self.topics.clear()

    async def subscribe(self, topic: str, subscriber: Subscriber, after: int | None) -> None:
        """Add ``subscriber`` to ``topic``; replay what it missed after seq ``after``.

        ``after`` None means "from now on" (nothing to replay).
        """
        async with self._lock:
            state = self.topics.get(topic)
            if state is None:
                # Join the group first, then read the log's end: an event
                # committed in between is either at or below ``last`` (replayed)
                # or arrives through the group (delivered live).
                await self.layer.group_add(group_name(topic), self.channel)
                async with self.db.session() as session:
                    _, last = await event_log.bounds(session, topic)
                state = self.topics[topic] = _Topic(last=last)
            member = _Member(subscriber)
            state.members[id(subscriber)] = member
            state.sorts.clear()
            upto = state.last
        await self._replay(topic, member, after, upto)

    async def _replay(self, topic: str, member: _Member, after: int | None, upto: int) -> None:
        try:
            if after is not None and after < upto:
                async with self.db.session() as session:
                    first, _ = await event_log.bounds(session, topic)
                    if after < first - 1:
                        member.subscriber.reset(topic)
                    else:
                        items = await event_log.since(session, topic, after, limit=upto - after)
                        sub = member.subscriber
                        for item in items:
                            prepared = await self.renderer.prepare(item)
                            variant = self.renderer.variant(prepared, sub)
                            sub.deliver(topic, item.seq, self.renderer.render(prepared, variant))
            member.replayed_to = upto
        finally:
            async with self._lock:
                pending, member.pending = member.pending or [], None
                for seq, payload in pending:
                    if seq > member.replayed_to:
                        member.subscriber.deliver(topic, seq, payload)

    async def unsubscribe(self, topic: str, subscriber: Subscriber) -> None:
        async with self._lock:
            state = self.topics.get(topic)
            if state is None:
                return
            state.members.pop(id(subscriber), None)
            state.sorts.clear()
            if not state.members:
                del self.topics[topic]
                await self.layer.group_discard(group_name(topic), self.channel)

    async def _receive_loop(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The layer is down (Redis restarting): wait, the poll fills the gap.
                logger.warning("channel layer receive failed; retrying", exc_info=True)
                await asyncio.sleep(0.5)
                continue
            self.received += 1
            if message.get("type") == "collab.event":
                await self.handle(LoggedEvent.from_message(message))
            elif message.get("type") == "collab.presence":
                self.handle_presence(message["topic"], message["users"])

    async def handle(self, item: LoggedEvent) -> None:
        """Deliver ``item`` in order, after any events of its topic it reveals missing."""
        async with self._lock:
            state = self.topics.get(item.topic)
            if state is None or item.seq <= state.last:
                return  # nobody here listens, or already delivered
            if item.seq > state.last + 1:
                async with self.db.session() as session:
                    missing = await event_log.since(
                        session, item.topic, state.last, limit=item.seq - state.last - 1
                    )
                for gap_item in missing:
                    await self._fan_out(state, gap_item)
            await self._fan_out(state, item)

    async def _fan_out(self, state: _Topic, item: LoggedEvent) -> None:
        if item.seq <= state.last:
            return
        state.last = item.seq
        if not state.members:
            return
        topic, seq = item.topic, item.seq
        prepared = await self.renderer.prepare(item)  # once per event in this process
        for variant, members in state.sort(self.renderer, prepared):
            payload = self.renderer.render(prepared, variant)  # once per variant
            for member in members:
                if member.pending is None:
                    member.subscriber.deliver(topic, seq, payload)
                else:
                    member.pending.append((seq, payload))

    def handle_presence(self, topic: str, users: list[list[Any]]) -> None:
        """Hand who is on ``topic`` to its local subscribers that show presence."""
        state = self.topics.get(topic)
        if state is None:
            return
        for member in state.members.values():
            show = getattr(member.subscriber, "presence", None)
            if show is not None:
                show(topic, users)

    async def catch_up(self, topics: Iterable[str] | None = None) -> None:
        """Deliver whatever the log has beyond what was delivered (lost messages)."""
        names = list(topics if topics is not None else self.topics)
        if not names:
            return
        async with self.db.session() as session:
            rows = await session.execute(
                select(TopicSeq.topic, TopicSeq.last_seq).where(TopicSeq.topic.in_(names))
            )
            behind = [
                (topic, last)
                for topic, last in rows
                if topic in self.topics and last > self.topics[topic].last
            ]
            fetched = [
                await event_log.since(session, topic, self.topics[topic].last)
                for topic, _ in behind
            ]
        for items in fetched:
            for item in items:
                await self.handle(item)

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                await self.catch_up()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("event log poll failed", exc_info=True)
