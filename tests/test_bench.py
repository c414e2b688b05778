"""The benchmark's own arithmetic: medians over rounds and round-by-round ratios."""

from __future__ import annotations

from bench.fanout import medians, round_ratios
from bench.loadgen import Result


def _run(name: str, per_s: float, round_: int, compression: str | None = None) -> Result:
    result = Result(name, compression, sockets=10, probes=10, round=round_)
    result.deliveries_per_s = per_s
    return result


def test_the_median_run_stands_for_each_target() -> None:
    runs = [
        _run("collab_1w", 20_000, 1),
        _run("bare", 30_000, 1),
        _run("collab_1w", 26_000, 2),
        _run("bare", 36_000, 2),
        _run("collab_1w", 23_000, 3),
        _run("bare", 28_000, 3),
        _run("bare", 15_000, 1, "deflate"),
    ]
    chosen = medians(runs)
    # In the order the targets ran.
    assert [(r.name, r.deliveries_per_s, r.compression) for r in chosen] == [
        ("collab_1w", 23_000, None),
        ("bare", 30_000, None),
        ("bare", 15_000, "deflate"),
    ]
    # Ratios are taken within a round (the two ran minutes apart, not hours).
    assert [round(x, 3) for x in round_ratios(runs, "collab_1w", "bare")] == [0.667, 0.722, 0.821]


def test_an_even_number_of_rounds_takes_the_lower_middle() -> None:
    runs = [_run("bare", v, i + 1) for i, v in enumerate([4.0, 1.0, 3.0, 2.0])]
    assert [r.deliveries_per_s for r in medians(runs)] == [2.0]
