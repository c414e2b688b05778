"""The pages benchmark end to end, in its quick mode: a small dataset, every page type."""

from __future__ import annotations

import pytest

from tests.servers import quick_bench


@pytest.mark.slow
def test_the_pages_bench_times_every_page_type_as_a_mayor_and_as_staff() -> None:
    figures = quick_bench("bench.pages", timeout=600)
    assert figures["ok"] is True
    rows = figures["pages"]
    by_page: dict[str, set[str]] = {}
    for row in rows:
        by_page.setdefault(row["page"], set()).add(row["role"])
        assert row["status"] == 200 and row["bytes"] > 0, row
        assert 0 < row["p50_ms"] <= row["p99_ms"] <= row["max_ms"], row
    # Both roles on the shared pages, staff alone on the staff forms.
    assert by_page["consultation-300"] == {"sindaco", "staff"}
    assert by_page["convene"] == {"staff"}
    # The thread's last page is a page past the first, found from page 1's links.
    last = next(r["url"] for r in rows if r["page"] == "thread-last")
    assert last.rsplit("page=", 1)[1] != "1", last
    assert figures["requests"] == sum(1 for _ in rows) * 3  # three rounds
    # The server's collector was watched (how often it ran is the figures' business).
    assert set(figures["gc"]) >= {"gen0", "gen1", "gen2", "total_ms", "cpu_total_ms"}
    assert figures["dataset"]["posts"] > figures["dataset"]["threads"] > 0
