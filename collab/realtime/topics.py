"""The hub's state of one topic in one process: its members and its cursor.

Kept apart from :mod:`collab.realtime.hub` (which moves events through it)
with the protocols both sides speak: :class:`Subscriber` (a socket) and
:class:`Renderer` (what turns an event into frames).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Protocol

from collab.realtime.log import LoggedEvent

__all__ = [
    "MAX_ATTEMPTS",
    "MAX_INBOX",
    "MAX_SORTS",
    "RESET",
    "Member",
    "PassThrough",
    "Renderer",
    "Subscriber",
    "TopicState",
    "deliver",
]

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
class Member:
    subscriber: Subscriber
    # While its replay runs, live events wait here (then only newer ones pass);
    # a payload of RESET stands for "reload the region".
    pending: list[tuple[int, Any]] | None = field(default_factory=list)
    replayed_to: int = 0


RESET = object()

# Sorts kept per topic (one per basis: a thread's posts have a few authors).
MAX_SORTS = 16
# Failed preparations of one event before its subscribers reload instead.
MAX_ATTEMPTS = 3
# Events a topic may have waiting; past it only the newest is kept (it reveals
# the gap, which is then read from the log).
MAX_INBOX = 1000


@dataclass
class TopicState:
    name: str
    # The last seq delivered (or given up on); -1 until the group is joined.
    last: int = -1
    members: dict[int, Member] = field(default_factory=dict)
    # basis -> the members sorted by variant; cleared when members change.
    sorts: dict[Hashable, list[tuple[Hashable, list[Member]]]] = field(default_factory=dict)
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

    def sort(self, renderer: Renderer, prepared: Any) -> list[tuple[Hashable, list[Member]]]:
        basis = renderer.basis(prepared)
        groups = self.sorts.get(basis)
        if groups is None:
            by_variant: dict[Hashable, list[Member]] = {}
            for member in self.members.values():
                variant = renderer.variant(prepared, member.subscriber)
                by_variant.setdefault(variant, []).append(member)
            if len(self.sorts) >= MAX_SORTS:
                del self.sorts[next(iter(self.sorts))]
            groups = self.sorts[basis] = list(by_variant.items())
        return groups


def deliver(topic: str, member: Member, seq: int, payload: Any) -> None:
    """Hand one payload to one member; a subscriber that raises harms no other."""
    if member.pending is not None:
        member.pending.append((seq, payload))
        return
    try:
        if payload is RESET:
            member.subscriber.reset(topic)
        else:
            member.subscriber.deliver(topic, seq, payload)
    except Exception:
        logger.exception("a subscriber of %s failed to take event %d", topic, seq)
