"""Who may follow a topic: checked when a socket subscribes, and again at its
heartbeats (see :mod:`collab.realtime.ws`).

The rules are the features' (each :class:`~collab.realtime.registry.TopicKind`
says which zones its topics belong to and who may follow them, the same
rules as its pages); this module applies them and remembers, per process,
what does not change: the zones of a thread, a meeting, a consultation are
fixed when it is created, so the heartbeat of every socket costs no query
(but one of someone a topic kind names outside its zones, see
:attr:`~collab.realtime.registry.TopicKind.named`).
A public link's topic is remembered for a few seconds only, since a link can
be withdrawn.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from starlette.requests import HTTPConnection

from collab.db import Database
from collab.models import User
from collab.realtime.registry import Registry, TopicKind, Zones

__all__ = ["MAX_REMEMBERED", "PUBLIC_TTL", "Rejected", "TopicAccess"]

MAX_REMEMBERED = 10_000  # topics whose zones a process remembers (cleared when full)
PUBLIC_TTL = 5.0  # seconds a public link's topic is remembered


class Rejected(Exception):
    """The socket must close with ``code`` (4400, 4401, 4403, 4429)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class TopicAccess:
    def __init__(self, registry: Registry, database: Database) -> None:
        self.registry = registry
        self.db = database
        self._zones: dict[str, Zones] = {}
        self._public: dict[str, tuple[float, str | None]] = {}

    async def zones(self, topic: str) -> tuple[TopicKind, Zones] | None:
        """The kind and zones of ``topic``; None when there is no such topic."""
        parsed = self.registry.parse(topic)
        if parsed is None:
            return None
        kind, ident = parsed
        known = self._zones.get(topic)
        if known is not None:
            return kind, known
        zones = await kind.zones(self.db, ident)
        if zones is None:
            return None
        if kind.fixed_zones:
            if len(self._zones) >= MAX_REMEMBERED:
                self._zones.clear()
            self._zones[topic] = zones
        return kind, zones

    async def check(self, user: User, topics: Iterable[str]) -> None:
        """Raise :class:`Rejected` (4403) unless ``user`` may follow every topic."""
        for topic in topics:
            found = await self.zones(topic)
            if found is None:
                raise Rejected(4403)
            kind, zones = found
            if kind.may_follow(user, zones):
                continue
            # Named outside the zones (a body's member from another zone): asked
            # each time, since who is named can change.
            parsed = self.registry.parse(topic)
            if (
                kind.named is None
                or parsed is None
                or not await kind.named(self.db, user, parsed[1])
            ):
                raise Rejected(4403)

    async def public_topic(self, conn: HTTPConnection, token: str) -> str | None:
        """The one topic a public link's ``token`` opens (None: none)."""
        if not token or len(token) > 64:
            return None
        now = time.monotonic()
        cached = self._public.get(token)
        if cached is not None and now - cached[0] < PUBLIC_TTL:
            return cached[1]
        topic = None
        for kind in self.registry.public_kinds():
            assert kind.public is not None
            topic = await kind.public(conn, token)
            if topic is not None:
                break
        if len(self._public) >= MAX_REMEMBERED:
            self._public.clear()
        self._public[token] = (now, topic)
        return topic

    async def check_public(self, conn: HTTPConnection, token: str, topics: Iterable[str]) -> None:
        """A public socket follows exactly the topic its link opens (else 4403)."""
        topic = await self.public_topic(conn, token)
        if topic is None or list(topics) != [topic]:
            raise Rejected(4403)
