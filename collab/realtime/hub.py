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
- A topic's cursor (``TopicState.last``) advances only after its event was
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
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

from sqlalchemy import select

from collab.cancelling import checkpoint
from collab.db import Database
from collab.models import TopicSeq
from collab.realtime import log as event_log
from collab.realtime.layers import ChannelLayer
from collab.realtime.log import LoggedEvent
from collab.realtime.publisher import group_name
from collab.realtime.replay import Prepared, Replays
from collab.realtime.topics import (
    MAX_ATTEMPTS,
    MAX_INBOX,
    RESET,
    Member,
    PassThrough,
    Renderer,
    Subscriber,
    TopicState,
    deliver,
)

__all__ = ["MAX_ATTEMPTS", "Hub", "PassThrough", "Renderer", "Subscriber"]

logger = logging.getLogger(__name__)


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
        self.topics: dict[str, TopicState] = {}
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
        member = Member(subscriber)
        while True:
            state = self.topics.setdefault(topic, TopicState(topic))
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

    async def _join(self, topic: str, state: TopicState) -> None:
        # Join the group first, then read the log's end: an event committed in
        # between is either at or below ``last`` (replayed) or arrives through
        # the group (delivered live).
        await self.layer.group_add(group_name(topic), self.channel)
        async with self.db.session() as session:
            _, state.last = await event_log.bounds(session, topic)

    async def _replay(
        self, topic: str, state: TopicState, member: Member, after: int | None, upto: int
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
                        deliver(topic, member, seq, payload)

    async def _replay_window(self, topic: str, member: Member, after: int, upto: int) -> None:
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
            checkpoint()  # the layer may have swallowed the cancel (collab.cancelling)
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

    async def _drain(self, state: TopicState) -> None:
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

    async def _fan_out(self, state: TopicState, item: LoggedEvent) -> bool:
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
                deliver(topic, member, seq, payload)
        return True

    def _give_up(self, state: TopicState, seq: int, why: str) -> None:
        """Skip to ``seq``: every member reloads the topic's region instead."""
        topic = state.name
        logger.error("event %s#%d: %s; its pages reload the region", topic, seq, why)
        state.failures.pop(seq, None)
        state.last = seq
        for member in state.members.values():
            deliver(topic, member, seq, RESET)

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
            checkpoint()
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
            checkpoint()
            await asyncio.sleep(interval)
            try:
                await self.rejoin()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("joining the layer's groups again failed", exc_info=True)
