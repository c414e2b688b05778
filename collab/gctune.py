"""Garbage collector settings for a server process: short pauses, no full collections.

A collection stops the event loop, so its pause lands on whatever request or
frame is in flight: pick the thresholds by the p99 they leave, not by the
throughput. Two benchmarks pull opposite ways:

- ``bench/fanout.py`` (1,000 sockets: some hundreds of thousands of
  long-lived objects). CPython's defaults (700, 10, 10) promote the frames in
  flight and run full collections of that heap: 6 in a 200-post run, 60-210
  ms of CPU each, which set the p99. Fewer young collections (a first
  threshold of 10,000 or more) make none.
- ``bench/pages.py`` (every page of the big dataset, one worker). A young
  collection walks every container allocated since the last one and still
  alive, so its pause grows with the first threshold: at 50,000, 24
  collections in 1,240 requests at 90 ms of CPU each (busy machine; 20-30 ms
  on a quiet one), so 2% of the requests paid one, p99 = p50 + one pause;
  at 10,000, 130 of 10 ms and 6 gen-1 of 24 ms; at 700, young ones cost
  nothing but 17 full collections of 63 ms came back. On a quiet machine
  (issue 15's second pass): at 10,000, 109 young collections of 7.7-9.4 ms
  (max 12.6-18.3) and 35 of 62 pages with p99 > p50 + 10 ms; at 3,000, 378
  of 2.1 ms (max 5.9) and 16 pages, for the same total pause (about 1 s);
  under the fan-out, 3,000 gave gen-1 pauses of at most 34 ms against 100
  and the same two full collections (about 60 ms) as 10,000.

So: a young collection every 3,000 allocations, a gen-1 every 10 of them
(half the heap to walk of 20: pauses of 3-8 ms, under the 10 ms the pages'
p99 may add), a full collection only after 100 gen-1 ones (CPython's 10
made one every 600,000 allocations, a 45-60 ms pause that one request in a
thousand paid; at 100 it is one in about ten thousand, and cyclic garbage
old enough to wait for it is rare in a server whose requests' objects die
young), and the objects alive at startup (modules, templates, mappers)
frozen out of every later collection (``gc.freeze``). The figures and the
commands are in docs/performance.md, "Pages" and "The garbage collector".
"""

from __future__ import annotations

import gc

__all__ = ["THRESHOLDS", "tune_gc"]

THRESHOLDS = (3_000, 10, 100)
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
