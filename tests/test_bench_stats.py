"""The benchmarks' one percentile (bench/stats.py)."""

from __future__ import annotations

import math

from bench.stats import percentile


def test_the_p99_of_a_hundred_times_is_the_ninety_ninth() -> None:
    times = [float(n) for n in range(100, 0, -1)]  # in any order
    assert percentile(times, 0.99) == 99.0
    assert percentile(times, 0.50) == 50.0
    assert percentile(times, 1.0) == 100.0


def test_with_twenty_times_a_p99_is_the_slowest() -> None:
    assert percentile(range(1, 21), 0.99) == 20


def test_nothing_measured_gives_the_value_asked_for() -> None:
    assert percentile([], 0.99) == 0.0
    assert math.isnan(percentile([], 0.99, empty=float("nan")))
