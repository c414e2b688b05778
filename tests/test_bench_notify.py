"""The notification and digest benchmarks end to end, in their quick modes."""

from __future__ import annotations

import pytest

from tests.servers import quick_bench


@pytest.mark.slow
def test_the_notify_bench_reaches_every_bell_and_inbox_once() -> None:
    figures = quick_bench("bench.notify")
    assert figures["ok"] is True
    assert figures["bells_all"] is True
    assert figures["lost"] == 0 and figures["twice"] == 0
    assert isinstance(figures["people"], int) and figures["people"] > 50
    assert figures["answer_on_ms"] and figures["answer_off_ms"]


@pytest.mark.slow
def test_the_digest_bench_sends_one_message_each_with_nothing_left() -> None:
    figures = quick_bench("bench.digest")
    assert figures["ok"] is True
    assert figures["messages"] == figures["recipients"] == figures["people"] == 100
    assert figures["owed_after"] == 0
