"""Percentiles, one definition for every benchmark."""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["percentile"]


def percentile(values: Iterable[float], q: float, *, empty: float = 0.0) -> float:
    """The nearest-rank ``q`` percentile (0 < q <= 1) of ``values``: the smallest
    value with at least ``q`` of them at or below it. The p99 of 100 times is
    the 99th, of 20 (or fewer) the slowest: a p99 needs 100 values or more to
    be anything but a maximum. ``empty`` when there are none."""
    ordered = sorted(values)
    if not ordered:
        return empty
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]
