"""The collector settings a server process runs with (collab/gctune.py)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.servers import ROOT

PROBE = """
import gc, json
from collab.gctune import tune_gc
tune_gc()
tune_gc()  # once per process: a second call changes nothing
print(json.dumps({"thresholds": gc.get_threshold(), "frozen": gc.get_freeze_count()}))
"""


def test_a_server_process_collects_young_objects_often_and_freezes_its_startup_heap() -> None:
    # In a process of its own: the test runner's collector is not ours to change.
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    )
    state = json.loads(result.stdout)
    # Short young pauses (bench.pages) without full collections of a socket heap
    # (bench.fanout): docs/performance.md, "The garbage collector".
    assert state["thresholds"] == [3_000, 20, 10]
    assert state["frozen"] > 0  # what was alive at startup: out of every later collection
