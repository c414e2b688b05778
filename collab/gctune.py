"""Garbage collector settings for a server process holding thousands of sockets.

Each websocket keeps a few hundred long-lived objects (the server's protocol,
its parser, our connection, tasks), so a process with 1,000 sockets has some
hundreds of thousands of them. CPython's default thresholds (700, 10, 10)
run a young collection every 700 allocations; during a fan-out the frames in
flight survive it and are promoted, and every so often a full collection
walks the whole heap: 200-250 ms with the event loop stopped, measured with
``bench/fanout.py`` at 1,000 sockets, which was the p99 latency.

So: young collections every 50,000 allocations (fewer promotions; each takes
about 20 ms at that size), and the objects alive at startup (modules,
templates, mappers) frozen out of every later collection (``gc.freeze``).
"""

from __future__ import annotations

import gc

__all__ = ["THRESHOLDS", "tune_gc"]

THRESHOLDS = (50_000, 20, 10)
_tuned = False


def tune_gc() -> None:
    """Apply the thresholds and freeze the startup heap, once per process."""
    global _tuned
    if _tuned:
        return
    _tuned = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
