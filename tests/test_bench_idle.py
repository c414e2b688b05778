"""The idle-socket benchmark end to end, with tiny numbers (20 sockets, 1 s beats)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.idle import queries_so_far
from tests.servers import ROOT

ARGS = ["--sockets", "20", "--heartbeat", "1", "--warmup", "1.5", "--window", "3"]


def run_idle(*extra: str) -> subprocess.CompletedProcess[str]:
    """``bench.idle`` with the small ``ARGS`` (and ``extra``); it must succeed."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.idle", *ARGS, *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.mark.slow
def test_the_idle_bench_reads_cpu_memory_heartbeats_and_queries() -> None:
    result = run_idle()
    lines = result.stdout.strip().splitlines()
    assert "command: python -m bench.idle " + " ".join(ARGS) in lines
    figures = json.loads(lines[-1])
    [run] = figures["runs"]
    assert run["connected"] == run["open_at_end"] == 20
    assert run["closed"] == {}
    assert 0 <= run["server_cpu"] < 1.0
    assert run["rss_per_socket_kb"] is not None
    # 20 sockets beating every 0.85-1.15 s: about 20 frames a second.
    assert 10 < run["heartbeats_per_s"] < 30, run
    # Counted in the server; a beat reads the database one time in 20 (a
    # full check) or not at all, so well below one query per beat.
    assert run["queries_per_s"] is not None
    assert run["queries_per_s"] < run["heartbeats_per_s"] / 4, run


def test_no_query_count_from_a_server_that_does_not_answer(tmp_path: Path) -> None:
    assert queries_so_far(tmp_path / "nobody.sock") is None


@pytest.mark.slow
def test_the_idle_bench_says_who_holds_each_sockets_memory() -> None:
    result = run_idle("--tracemalloc")
    [run] = json.loads(result.stdout.strip().splitlines()[-1])["runs"]
    held = run["held_kb"]
    # Every socket holds uvicorn's protocol and collab's own objects.
    assert held["uvicorn: its websocket protocol, queue, ping timer, scope"] > 1, held
    assert held["collab.realtime: handler, Connection, writer, hub, presence"] > 1, held
    assert "KiB per idle socket by holder" in result.stdout
