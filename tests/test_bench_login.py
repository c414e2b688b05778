"""The login benchmark end to end, in its quick mode (three short runs of a real server)."""

from __future__ import annotations

import pytest

from tests.servers import quick_bench


@pytest.mark.slow
def test_the_login_bench_measures_health_and_delivery_with_and_without_logins() -> None:
    figures = quick_bench("bench.login", timeout=300)
    assert figures["ok"] is True
    runs = figures["runs"]
    assert list(runs) == ["idle", "pool", "inline"]
    for mode, run in runs.items():
        # It measured something in every mode. How much is the figures' business:
        # on a busy machine the "inline" mode (checks on the loop) gets few
        # answers in, which is what it is there to show.
        assert run["healthz"]["n"] >= 5, (mode, run)
        assert run["ws_delivery"]["n"] >= 1, (mode, run)
        assert run["posts_lost"] == 0, (mode, run)
        # The "before" (checks on the event loop) may time out a login; the fix may not.
        assert run["login_errors"] == 0 or mode == "inline", (mode, run)
        assert run["healthz"]["p99_ms"] > 0 and run["ws_delivery"]["p99_ms"] > 0
    assert runs["idle"]["logins"]["n"] == 0
    # Valid credentials, every one of them logged in (the quick mode: 2 a second).
    assert runs["pool"]["logins"]["n"] >= 4 and runs["inline"]["logins"]["n"] >= 4
