"""Medians and their 95 % intervals over repetitions, for summaries and comparisons.

The interval is a percentile bootstrap of the median (seeded, so the same records always give
the same interval): no assumption that tok/s or TTFT are normal, which on a board with a fan
curve and a governor they rarely are. Below three values there is no interval.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence

RESAMPLES = 2000
SEED = 0


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def interval(values: Sequence[float], resamples: int = RESAMPLES) -> tuple[float, float] | None:
    """95 % bootstrap interval of the median; None for fewer than three values."""
    if len(values) < 3:
        return None
    rng = random.Random(SEED)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples))
    return medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


def ratio_interval(
    a: Sequence[float], b: Sequence[float], resamples: int = RESAMPLES
) -> tuple[float, float] | None:
    """95 % bootstrap interval of median(b) / median(a), each side resampled on its own."""
    if len(a) < 3 or len(b) < 3:
        return None
    rng = random.Random(SEED)
    ratios = []
    for _ in range(resamples):
        ma = statistics.median(rng.choices(a, k=len(a)))
        mb = statistics.median(rng.choices(b, k=len(b)))
        if ma:
            ratios.append(mb / ma)
    if len(ratios) < resamples // 2:
        return None
    ratios.sort()
    return ratios[int(0.025 * len(ratios))], ratios[int(0.975 * len(ratios)) - 1]
