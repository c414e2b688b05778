"""The collector settings a server process runs with (collab/gctune.py)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.servers import ROOT

PROBE = """
import collections, gc, json, sys
from collab.gctune import tune_gc
tune_gc()
tune_gc()  # once per process: a second call changes nothing
frozen = gc.get_freeze_count()
seen = collections.Counter()
gc.callbacks.append(lambda phase, info: phase == "start" and seen.update([info["generation"]]))
# Requests: each holds its rows (a dict and a list per row) until it answers.
for _ in range(int(sys.argv[2])):
    rows = [{"n": n, "row": [n]} for n in range(int(sys.argv[1]))]
    del rows
print(json.dumps({"frozen": frozen, "collections": [seen[0], seen[1], seen[2]]}))
"""


def _probe(rows: int, requests: int) -> dict[str, object]:
    # In a process of its own: the test runner's collector is not ours to change.
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(rows), str(requests)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    state: dict[str, object] = json.loads(result.stdout)
    return state


def test_a_server_process_collects_young_objects_often_and_freezes_its_startup_heap() -> None:
    # 150 big pages of 10,000 rows each, 3 million dicts and lists in all.
    state = _probe(rows=10_000, requests=150)
    young, middle, full = state["collections"]  # type: ignore[misc]
    # Short young pauses, often (bench.pages); a gen-1 one after each ten; no
    # full collection of the heap in all that (CPython's defaults ran 31,
    # collab's earlier 3,000, 20, 10 ran 3): docs/performance.md, "The garbage
    # collector".
    assert young >= 400
    assert young // 12 <= middle <= young // 10  # one for each ten young ones
    assert full == 0
    assert state["frozen"] > 0  # what was alive at startup: out of every later collection
