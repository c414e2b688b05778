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

Failure is a path, not an exception (docs/architecture.md, "Event flow"):

- Order is kept per topic (one lock each), so a slow query for one topic
  never holds up the others.
- A topic's cursor (``_Topic.last``) advances only after its event was
  prepared and rendered. An event that fails is retried (the next event of
  its topic reveals the gap, or the poll finds it); after
  ``MAX_ATTEMPTS`` failures its subscribers are told to reload the topic's
  region (``reset``) and the topic moves on. The receive loop survives
  whatever one message does.
- The layer forgets group members after its ``group_expiry``; the hub joins
  its groups again well before that.
- Replays after a reconnect go through :class:`~collab.realtime.replay.Replays`:
  one pooled connection at a time, bounded concurrency, shared reads and
  renders.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select

from collab.db import Database
from collab.models import TopicSeq
from collab.realtime import log as event_log
from collab.realtime.layers import ChannelLayer
from collab.realtime.log import LoggedEvent
from collab.realtime.publisher import group_name
from collab.realtime.replay import Prepared, Replays

__all__ = ["MAX_ATTEMPTS", "Hub", "PassThrough", "Renderer", "Subscriber"]

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
    # While its replay runs, live events wait here (then only newer ones pass);
    # a payload of _RESET stands for "reload the region".
    pending: list[tuple[int, Any]] | None = field(default_factory=list)
    replayed_to: int = 0


_RESET = object()

# Sorts kept per topic (one per basis: a thread's posts have a few authors).
MAX_SORTS = 16
# Failed preparations of one event before its subscribers reload instead.
MAX_ATTEMPTS = 3
# Events a topic may have waiting; past it only the newest is kept (it reveals
# the gap, which is then read from the log).
MAX_INBOX = 1000


@dataclass
class _Topic:
    name: str
    # The last seq delivered (or given up on); -1 until the group is joined.
    last: int = -1
    members: dict[int, _Member] = field(default_factory=dict)
    # basis -> the members sorted by variant; cleared when members change.
    sorts: dict[Hashable, list[tuple[Hashable, list[_Member]]]] = field(default_factory=dict)
    # Serializes this topic's delivery: events reach its members in order.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # seq -> failed attempts to prepare or render it.
    failures: dict[int, int] = field(default_factory=dict)
    # Events received from the layer, waiting for this topic's drain task.
    inbox: deque[LoggedEvent] = field(default_factory=deque)
    drainer: asyncio.Task[None] | None = None

    @property
    def joined(self) -> bool:
        return self.last >= 0

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


def _deliver(topic: str, member: _Member, seq: int, payload: Any) -> None:
    """Hand one payload to one member; a subscriber that raises harms no other."""
    if member.pending is not None:
        member.pending.append((seq, payload))
        return
    try:
        if payload is _RESET:
            member.subscriber.reset(topic)
        else:
            member.subscriber.deliver(topic, seq, payload)
    except Exception:
        logger.exception("a subscriber of %s failed to take event %d", topic, seq)


class Hub:
    """Local fan-out of one process. ``start`` in the lifespan, ``stop`` at shutdown."""

    def __init__(
        self,
        layer: ChannelLayer,
        database: Database,
        renderer: Renderer | None = None,
        poll_interval: float = 2.0,
        replay_concurrency: int = 4,
    ) -> None:
        self.layer = layer
        self.db = database
        self.renderer: Renderer = renderer or PassThrough()
        self.poll_interval = poll_interval
        self.channel = ""
        self.topics: dict[str, _Topic] = {}
        self.replays = Replays(database, self.renderer.prepare, replay_concurrency)
        self._tasks: list[asyncio.Task[None]] = []
        self.received = 0  # layer messages received (for tests and benchmarks)

    async def start(self) -> None:
        self.channel = await self.layer.new_channel("collab.hub.")
        self._tasks = [
            asyncio.create_task(self._receive_loop(), name="hub-receive"),
            asyncio.create_task(self._poll_loop(), name="hub-poll"),
        ]
        # Layers that forget group members after a while (both shipped ones
        # with groups in memory or in Redis keys) say so in group_expiry.
        expiry = getattr(self.layer, "group_expiry", None)
        if isinstance(expiry, int | float) and expiry > 0:
            self._tasks.append(
                asyncio.create_task(self._rejoin_loop(expiry / 4), name="hub-rejoin")
            )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        drainers = [s.drainer for s in self.topics.values() if s.drainer is not None]
        for task in drainers:
            task.cancel()
        for task in drainers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for topic in list(self.topics):
            with contextlib.suppress(Exception):
                await self.layer.group_discard(group_name(topic), self.channel)
        self.topics.clear()

    async def subscribe(self, topic: str, subscriber: Subscriber, after: int | None) -> None:
        """Add ``subscriber`` to ``topic``; replay what it missed after seq ``after``.

        ``after`` None means "from now on" (nothing to replay).
        """
        member = _Member(subscriber)
        while True:
            state = self.topics.setdefault(topic, _Topic(topic))
            async with state.lock:
                if self.topics.get(topic) is not state:
                    continue  # the last member left while we waited: start again
                try:
                    if not state.joined:
                        await self._join(topic, state)
                except BaseException:
                    if not state.members:
                        del self.topics[topic]
                    raise
                state.members[id(subscriber)] = member
                state.sorts.clear()
                upto = state.last
                break
        await self._replay(topic, state, member, after, upto)

    async def _join(self, topic: str, state: _Topic) -> None:
        # Join the group first, then read the log's end: an event committed in
        # between is either at or below ``last`` (replayed) or arrives through
        # the group (delivered live).
        await self.layer.group_add(group_name(topic), self.channel)
        async with self.db.session() as session:
            _, state.last = await event_log.bounds(session, topic)

    async def _replay(
        self, topic: str, state: _Topic, member: _Member, after: int | None, upto: int
    ) -> None:
        try:
            if after is not None and after < upto:
                await self._replay_window(topic, member, after, upto)
            member.replayed_to = upto
        finally:
            async with state.lock:
                pending, member.pending = member.pending or [], None
                for seq, payload in pending:
                    if seq > member.replayed_to:
                        _deliver(topic, member, seq, payload)

    async def _replay_window(self, topic: str, member: _Member, after: int, upto: int) -> None:
        sub = member.subscriber
        window = await self.replays.window(topic, after, upto)
        if window.reset:
            sub.reset(topic)
            return
        for item in window.items:
            try:
                prepared = await self.replays.prepared(item)
                variant = self.renderer.variant(prepared.value, sub)
                payload = self._rendered(prepared, variant)
            except Exception:
                logger.warning(
                    "replaying %s#%d failed; the page reloads the region", topic, item.seq,
                    exc_info=True,
                )  # fmt: skip
                sub.reset(topic)
                return
            sub.deliver(topic, item.seq, payload)

    def _rendered(self, prepared: Prepared, variant: Hashable) -> Any:
        if variant not in prepared.renders:
            prepared.renders[variant] = self.renderer.render(prepared.value, variant)
        return prepared.renders[variant]

    async def unsubscribe(self, topic: str, subscriber: Subscriber) -> None:
        state = self.topics.get(topic)
        if state is None:
            return
        async with state.lock:
            state.members.pop(id(subscriber), None)
            state.sorts.clear()
            if not state.members and self.topics.get(topic) is state:
                del self.topics[topic]
                if state.joined:
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
            try:
                if message.get("type") == "collab.event":
                    self._enqueue(LoggedEvent.from_message(message))
                elif message.get("type") == "collab.presence":
                    self.handle_presence(message["topic"], message["users"])
            except Exception:
                # Whatever one message does, the next one is received: what it
                # carried is in the log, and the poll or the next event of its
                # topic brings it.
                logger.exception("handling a layer message failed: %.200r", message)

    def _enqueue(self, item: LoggedEvent) -> None:
        """Queue ``item`` for its topic's drain task: a topic waiting on a slow
        query holds up only itself, never the receive loop."""
        state = self.topics.get(item.topic)
        if state is None:
            return  # nobody here listens
        state.inbox.append(item)
        if len(state.inbox) > MAX_INBOX:
            newest = state.inbox.pop()
            state.inbox.clear()
            state.inbox.append(newest)
        if state.drainer is None or state.drainer.done():
            state.drainer = asyncio.create_task(self._drain(state), name=f"hub-{state.name}")

    async def _drain(self, state: _Topic) -> None:
        while state.inbox:
            item = state.inbox.popleft()
            try:
                await self.handle(item)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("delivering %s#%d failed; the poll retries", item.topic, item.seq)

    async def handle(self, item: LoggedEvent) -> None:
        """Deliver ``item`` in order, after any events of its topic it reveals missing."""
        state = self.topics.get(item.topic)
        if state is None:
            return  # nobody here listens
        async with state.lock:
            if not state.joined or item.seq <= state.last:
                return  # already delivered (or covered by the join's replay)
            missing: Sequence[LoggedEvent] = ()
            if item.seq > state.last + 1:
                async with self.db.session() as session:
                    missing = await event_log.since(
                        session, item.topic, state.last, limit=item.seq - state.last - 1
                    )
            for gap_item in [*missing, item]:
                if gap_item.seq > state.last + 1:
                    # The log no longer has what came between (pruned while
                    # this process lagged): the pages reload the region.
                    self._give_up(state, gap_item.seq - 1, "missing from the log")
                if not await self._fan_out(state, gap_item):
                    return  # retried later: the next event or the poll

    async def _fan_out(self, state: _Topic, item: LoggedEvent) -> bool:
        """Deliver ``item`` (the next seq of its topic); False if it must be retried."""
        if item.seq <= state.last:
            return True
        if not state.members:
            state.last = item.seq
            return True
        topic, seq = item.topic, item.seq
        try:
            prepared = Prepared(item, await self.renderer.prepare(item))  # once per process
            groups = [
                (self._rendered(prepared, variant), members)  # once per variant
                for variant, members in state.sort(self.renderer, prepared.value)
            ]
        except Exception:
            attempts = state.failures[seq] = state.failures.get(seq, 0) + 1
            if attempts == 1:
                logger.warning("rendering %s#%d failed; will retry", topic, seq, exc_info=True)
            if attempts < MAX_ATTEMPTS:
                return False
            self._give_up(state, seq, f"still failing after {attempts} attempts")
            return True
        state.failures.pop(seq, None)
        state.last = seq
        self.replays.remember(prepared)
        for payload, members in groups:
            for member in members:
                _deliver(topic, member, seq, payload)
        return True

    def _give_up(self, state: _Topic, seq: int, why: str) -> None:
        """Skip to ``seq``: every member reloads the topic's region instead."""
        topic = state.name
        logger.error("event %s#%d: %s; its pages reload the region", topic, seq, why)
        state.failures.pop(seq, None)
        state.last = seq
        for member in state.members.values():
            _deliver(topic, member, seq, _RESET)

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
                (topic, state.last)
                for topic, last in rows
                if (state := self.topics.get(topic)) is not None
                and state.joined
                and last > state.last
            ]
            fetched = [await event_log.since(session, topic, since) for topic, since in behind]
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

    async def rejoin(self) -> None:
        """Join every group this process follows again (the layer forgets members
        after its ``group_expiry``; joining again restarts that clock)."""
        for topic, state in list(self.topics.items()):
            if state.joined:
                await self.layer.group_add(group_name(topic), self.channel)

    async def _rejoin_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.rejoin()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("joining the layer's groups again failed", exc_info=True)
