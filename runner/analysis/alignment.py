"""Per-prompt hardware figures from Prometheus samples over a prompt's exact window.

Counters (energy, CPU seconds) are interpolated linearly between the scrape samples around each
edge of the window, so the window is not rounded to scrape times; gauges (temperature,
frequency, throttling) take the samples inside the window plus the last one before it (the
value in force when the prompt started). See docs/alignment.md for the method and its error.
"""

from __future__ import annotations

import itertools

from edgemeter.exporter.boards import rails as board_rails
from edgemeter.runner.analysis.promql import Prometheus, Series

MARGIN = 10.0  # seconds of samples fetched around a window to interpolate its edges


def interpolate(points: list[tuple[float, float]], at: float) -> float | None:
    """The counter's value at ``at``, linear between the samples around it; None off the ends."""
    for (t0, v0), (t1, v1) in itertools.pairwise(points):
        if t0 <= at <= t1 and v1 >= v0:  # a counter reset inside the pair: not measurable
            return v0 + (v1 - v0) * (at - t0) / (t1 - t0) if t1 > t0 else v0
    return None


def counter_increase(series: Series, start: float, end: float) -> float | None:
    """Sum over series of each counter's increase between start and end (None if any is unknown)."""
    total = 0.0
    if not series:
        return None
    for _, points in series:
        a, b = interpolate(points, start), interpolate(points, end)
        if a is None or b is None:
            return None
        total += b - a
    return total


def gauge_values(series: Series, start: float, end: float) -> list[float]:
    values: list[float] = []
    for _, points in series:
        before = [v for t, v in points if t <= start]
        values += before[-1:] + [v for t, v in points if start < t <= end]
    return values


class Aligner:
    def __init__(self, prom: Prometheus, instance: str) -> None:
        self.prom = prom
        self.match = f'instance=~"{instance}"'

    def _series(self, metric: str, extra: str, start: float, end: float) -> Series:
        return self.prom.samples(f"{metric}{{{self.match}{extra}}}", start - MARGIN, end + MARGIN)

    def rails(self, start: float, end: float) -> list[str]:
        return sorted(
            {m.get("rail", "") for m, _ in self._series("edge_energy_joules_total", "", start, end)}
        )

    def input_rail(self, start: float, end: float) -> str | None:
        """The board's input rail as the exporter's board profile declares it (None: it has none)."""
        ranked = sorted(
            (int(m.get("rank", "0")), m.get("rail", ""))
            for m, _ in self._series("edge_board_input_rail_info", "", start, end)
            if m.get("rank", "").isdigit()
        )
        return board_rails.pick([rail for _, rail in ranked], self.rails(start, end))

    def energy(self, rail: str, start: float, end: float) -> float | None:
        """Energy on ``rail`` (a sum of rails for ``A+B``), None when a part is not measurable."""
        total = 0.0
        for part in board_rails.parts(rail):
            value = counter_increase(
                self._series("edge_energy_joules_total", f', rail="{part}"', start, end), start, end
            )
            if value is None:
                return None
            total += value
        return total

    def cpu_utilization(self, start: float, end: float) -> float | None:
        series = self._series("edge_cpu_seconds_total", "", start, end)
        busy = counter_increase([s for s in series if s[0].get("mode") not in ("idle", "iowait")], start, end)
        total = counter_increase(series, start, end)
        return busy / total if busy is not None and total else None

    def extreme(
        self, metric: str, extra: str, start: float, end: float, pick: type[max] | type[min]
    ) -> float | None:
        values = gauge_values(self._series(metric, extra, start, end), start, end)
        return pick(values) if values else None
