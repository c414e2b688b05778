"""A per-process sliding window of hits per key (a client IP): the public
endpoints' rate limit (see :mod:`collab.meetings.room_public`)."""

from __future__ import annotations

import time
from collections import deque

__all__ = ["MAX_CLIENTS", "PUBLIC_LIMIT", "PUBLIC_WINDOW", "SlidingWindow"]

PUBLIC_LIMIT = 60
PUBLIC_WINDOW = 60.0
MAX_CLIENTS = 10_000  # IPs remembered; beyond that the stalest are forgotten


class SlidingWindow:
    """At most ``limit`` hits per ``window`` seconds per key, in this process."""

    def __init__(self, limit: int = PUBLIC_LIMIT, window: float = PUBLIC_WINDOW) -> None:
        self.limit = limit
        self.window = window
        self.hits: dict[str, deque[float]] = {}

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        hits = self.hits.get(key)
        if hits is None:
            if len(self.hits) >= MAX_CLIENTS:
                self._forget(now)
            hits = self.hits[key] = deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        return True

    def _forget(self, now: float) -> None:
        for key in [k for k, h in self.hits.items() if not h or h[-1] <= now - self.window]:
            del self.hits[key]
        while len(self.hits) >= MAX_CLIENTS:
            del self.hits[next(iter(self.hits))]
