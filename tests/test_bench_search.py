"""The search bench end to end, in its quick mode: a hundredth of the data, on SQLite."""

from __future__ import annotations

import pytest

from tests.servers import quick_bench


@pytest.mark.slow
def test_the_search_bench_indexes_searches_and_replies_with_and_without_the_index() -> None:
    figures = quick_bench("bench.search", timeout=600)
    assert figures["ok"] is True and figures["errors"] == []
    assert figures["database"] == "sqlite"
    sizes = figures["sizes"]
    assert (sizes["posts"], sizes["contributions"], sizes["meetings"]) == (1_000, 50, 3)
    # Every post, contribution, verbale and document is an item, with threads and the rest.
    floor = sizes["posts"] + sizes["contributions"] + 2 * sizes["meetings"] + sizes["documents"]
    assert figures["items"] > floor
    assert figures["reindex_s"] > 0
    assert 0 < figures["index_bytes"] < figures["database_bytes"]
    assert figures["index_share"] == round(figures["index_bytes"] / figures["database_bytes"], 3)
    # 20 queries of each kind, two measured rounds; 10 replies to each worker.
    for kind in ("one_word", "two_words"):
        timing = figures["search"][kind]
        assert timing["n"] == 40 and 0 < timing["p50_ms"] <= timing["p99_ms"] <= timing["max_ms"]
    found = figures["search"]["found"]
    assert len(found) == 40 and found["trasporto"] > found["sottopasso"] >= 0
    for side in ("indexed", "unindexed"):
        assert figures["reply"][side]["n"] == 10
    assert isinstance(figures["reply"]["overhead_p50_pct"], float)
