"""Energy of any window from the exporter's power samples (``/samples``), and an honest bound on
its error.

The samples are the sampler's readings of one rail, (time, watts), a period ``T`` apart. The
window's energy is the integral of the straight lines between them (the trapezoid rule), cut at
the window's edges by interpolation; past the newest sample the latest reading is held.

The bound (``energy_uncertainty_joules``, docs/metrics.md) adds what each source of error can
contribute at most, given one assumption: between two consecutive samples the power stays
within the range of those two (it changes no faster than it is sampled; faster content is
aliasing that no bound built from the samples can see: raise ``--sample-hz``). Then

- sampling: over a gap the true energy lies between the two readings times the gap, so the
  trapezoid is off by at most |Δw|·gap/2 for a whole gap inside the window and |Δw|·part for
  a gap the window cuts (the interpolated edge);
- past the newest sample nothing is known of the change: the largest step seen, over that time;
- the sensor's own update interval ``L`` (INA3221 and hwmon ``update_interval``; a sensor that
  states none is taken as current when read): each reading may stand for the power up to ``L``
  earlier, by a different amount each time, so every change of the power may be seen up to
  ``L`` late: at most L times the power's total variation near the window;
- counters read at the edges (prompts, ``runner wrap``): the exporter's counter carries the
  latest reading forward to the instant of the read, and never serves less than it served
  before, so each edge read may be off by the step of the gap it falls in times a period;
- the edge reads' slack (prompts): the counters are read a few milliseconds before the prompt
  starts and after it ends; that slack, times the highest power near the edge.

A window shorter than ``SHORT_PERIODS`` sensor periods is flagged ``energy_too_short``: its
energy is mostly edge interpolation. A window across a silence of the sensor (no sample for
longer than ``silence()``) has no bound: the samples say nothing of that time.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

SHORT_PERIODS = 4  # a window needs this many sensor periods for its energy to mean much


@dataclass(frozen=True)
class RailSamples:
    """One rail's samples from ``/samples``, keyed as the runner keys rails (exporter_client)."""

    key: str
    collector: str
    period: float  # seconds between samples
    sensor_interval: float | None  # the sensor's own update interval, where it states one
    oldest: float | None  # the oldest sample the exporter keeps (Unix seconds)
    t: Sequence[float]
    watts: Sequence[float]

    @property
    def lag(self) -> float:
        """How old a reading may be: the sensor's stated update interval (0 where it states none)."""
        return self.sensor_interval or 0.0

    def silence(self) -> float:
        """A gap between samples longer than this is a silent sensor (the exporter's own rule:
        its counter stops carrying a reading forward after it)."""
        return max(5 * self.period, 2.0)

    def resolution(self) -> float:
        """The shortest change this rail can show: a sample period or a sensor update, the longer."""
        return max(self.period, self.lag)


def at(t: Sequence[float], w: Sequence[float], x: float) -> float:
    """The power at ``x``: interpolated between samples, held beyond the first and last."""
    i = bisect_right(t, x)
    if i == 0:
        return w[0]
    if i == len(t):
        return w[-1]
    t0, t1 = t[i - 1], t[i]
    return w[i - 1] + (w[i] - w[i - 1]) * (x - t0) / (t1 - t0) if t1 > t0 else w[i]


def _span(t: Sequence[float], lo: float, hi: float) -> range:
    """Indices of the samples within [lo, hi] (a bisection: a window costs what it spans)."""
    return range(bisect_left(t, lo), bisect_right(t, hi))


def energy(t: Sequence[float], w: Sequence[float], a: float, b: float) -> float:
    """Joules over [a, b]: the trapezoid of the samples, cut by interpolation at a and b."""
    if not t or b <= a:
        return 0.0
    inside = range(bisect_right(t, a), bisect_left(t, b))
    knots = [a, *(t[k] for k in inside), b]
    values = [at(t, w, a), *(w[k] for k in inside), at(t, w, b)]
    return sum((values[k] + values[k + 1]) / 2 * (knots[k + 1] - knots[k]) for k in range(len(knots) - 1))


def _peak(t: Sequence[float], w: Sequence[float], lo: float, hi: float) -> float:
    return max([w[k] for k in _span(t, lo, hi)] + [at(t, w, lo), at(t, w, hi)])


def _variation(t: Sequence[float], w: Sequence[float], lo: float, hi: float) -> float:
    """The power's total variation over the samples in [lo, hi] and their neighbours."""
    first, last = max(bisect_left(t, lo) - 1, 0), min(bisect_right(t, hi), len(t) - 1)
    return sum(abs(w[k + 1] - w[k]) for k in range(first, last))


def _edge_step(t: Sequence[float], w: Sequence[float], x: float, period: float) -> float:
    """The largest step of the gaps within a period of ``x``."""
    first, last = max(bisect_left(t, x - period) - 1, 0), min(bisect_right(t, x + period), len(t) - 1)
    return max((abs(w[k + 1] - w[k]) for k in range(first, last)), default=0.0)


def bound(
    rail: RailSamples,
    a: float,
    b: float,
    slack_before: float = 0.0,
    slack_after: float = 0.0,
    counters: bool = False,
) -> float:
    """The most the energy over [a, b] can be off (module docstring). ``counters``: the energy
    came from the exporter's counters read at the edges; ``slack_*``: how far those reads lie
    outside the window."""
    t, w = rail.t, rail.watts
    if not t or b <= a:
        return 0.0
    # the gaps the window overlaps: from the sample at or before a to the one at or after b
    first, last = max(bisect_right(t, a) - 1, 0), min(bisect_left(t, b), len(t) - 1)
    steps = [abs(w[k + 1] - w[k]) for k in range(first, last)]
    total = 0.0
    for k, step in zip(range(first, last), steps, strict=True):
        lo, hi = max(t[k], a), min(t[k + 1], b)
        if hi > lo:
            whole = t[k] >= a and t[k + 1] <= b
            total += step * (hi - lo) / 2 if whole else step * (hi - lo)
    if b > t[-1] or a < t[0]:  # nothing known of the change beyond the samples: the largest step
        seen = steps or [abs(w[k + 1] - w[k]) for k in range(len(t) - 1)]
        largest = max(seen, default=0.0)
        total += largest * (max(b - max(a, t[-1]), 0.0) + max(min(b, t[0]) - a, 0.0))
    lag, period = rail.lag, rail.period
    if lag:  # every change may be seen up to lag late: the samples over [a, b + lag] show them
        total += lag * _variation(t, w, a - period, b + lag + period)
    if counters:
        total += period * (_edge_step(t, w, a, period) + _edge_step(t, w, b, period))
    total += slack_before * _peak(t, w, a - slack_before - period, a + lag + period)
    total += slack_after * _peak(t, w, b - period, b + slack_after + lag + period)
    return total


def silent_gap(rail: RailSamples, a: float, b: float) -> float:
    """The longest time without a sample inside [a, b] (the rail's sensor silent)."""
    t = rail.t
    first, last = max(bisect_right(t, a) - 1, 0), min(bisect_left(t, b), len(t) - 1)
    gaps = [min(t[k + 1], b) - max(t[k], a) for k in range(first, last)]
    return max(gaps, default=0.0)


def covered_until(rail: RailSamples, b: float) -> float:
    """The time a sample must be kept by for the bound of a window ending at ``b`` to be
    complete: a reading up to ``lag`` after ``b`` stands for power before it."""
    return b + rail.lag + rail.period


def too_short(rail: RailSamples, a: float, b: float) -> bool:
    """Whether [a, b] is too short for the rail's sensor (fewer than SHORT_PERIODS updates)."""
    return b - a < SHORT_PERIODS * rail.resolution()
