"""The big-dataset pages benchmark end to end, in its quick mode (in-process, small data)."""

from __future__ import annotations

import pytest

from tests.servers import quick_bench


@pytest.mark.slow
def test_the_pages_bench_times_the_consultation_and_both_ends_of_the_thread() -> None:
    figures = quick_bench("bench.consultation_page", timeout=300)
    assert figures["ok"] is True
    assert (figures["contributions"], figures["posts"]) == (60, 500)
    pages = figures["pages"]
    assert list(pages) == [
        "consultation_staff",
        "consultation_mayor",
        "thread_first",
        "thread_last",
    ]
    for name, page in pages.items():
        assert page["n"] == 5, name
        assert 0 < page["cpu_p50_ms"] <= page["cpu_p99_ms"], (name, page)
        assert 0 < page["wall_p50_ms"] <= page["wall_p99_ms"], (name, page)
        assert page["kb"] > 10, (name, page)
        assert page["statements"] > 3, (name, page)
    assert pages["thread_last"]["url"].endswith("?page=25")
    assert figures["thread_last_over_first_cpu"] > 0
    query = figures["thread_query"]
    assert sorted(query) == sorted(
        f"{way}_page_{n}_ms" for way in ("offset", "ids_first") for n in (1, 25)
    )
    assert all(ms > 0 for ms in query.values()), query
