"""The writes benchmark end to end, in its quick mode (1, then 4 posters, on SQLite)."""

from __future__ import annotations

import pytest

from tests.servers import quick_bench


@pytest.mark.slow
def test_the_writes_bench_measures_posters_and_finds_every_reply_once() -> None:
    figures = quick_bench("bench.writes", timeout=300)
    assert figures["database"] == "sqlite"
    assert list(figures["runs"]) == ["1", "4"]
    for count, run in figures["runs"].items():
        assert run["posters"] == int(count)
        # Replies went through, all of them accepted. How fast is the figures' business.
        assert run["posts"] >= 1 and run["errors"] == 0, run
        assert 0 < run["p50_ms"] <= run["p99_ms"] <= run["max_ms"]
        assert run["cpu_ms_per_post"] > 0  # the server's CPU was read
    # Every accepted reply is in the database exactly once, nothing refused is.
    assert figures["accepted"] >= sum(r["posts"] for r in figures["runs"].values())
    assert figures["missing"] == 0 and figures["twice"] == 0 and figures["refused_stored"] == 0
    assert figures["ok"] is True
