"""The benchmark's own arithmetic: medians over rounds and round-by-round ratios."""

from __future__ import annotations

from bench.fanout import medians, noisy, ratio_summary, round_ratios, table
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


def test_ratios_give_the_median_and_the_worst_round() -> None:
    assert ratio_summary([0.71, 0.52, 0.80]) == (0.71, 0.52)
    assert ratio_summary([0.9, 0.6]) == (0.6, 0.6)


def test_a_noisy_run_has_its_ratios_refused() -> None:
    quiet, busy = _run("collab_1w", 20_000, 1), _run("bare", 30_000, 1)
    quiet.foreign_cpu, busy.foreign_cpu = 0.05, 0.40
    assert not noisy(quiet) and noisy(busy)
    assert "0.67x" in table([quiet, busy])
    refused = table([quiet, busy], refused=True)
    assert "0.67x" not in refused and "20,000" in refused
