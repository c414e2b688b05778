"""The upload benchmark end to end, in its quick mode (20 MB to a real server)."""

from __future__ import annotations

import pytest

from tests.servers import quick_bench


@pytest.mark.slow
def test_the_upload_bench_streams_with_flat_memory() -> None:
    figures = quick_bench("bench.upload", timeout=300)
    assert figures["ok"] is True
    assert figures["stored_ok"] is True
    assert figures["size_mb"] == 20
    assert figures["seconds"] > 0 and figures["baseline_seconds"] > 0
    assert figures["mb_per_s"] > 0
    assert figures["rss_samples"] > 1
    assert figures["rss_growth_mb"] < 20, figures
