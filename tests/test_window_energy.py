"""A window's energy from the sampler's samples, and the bound on its error: the bound must
contain the real error of signals that meet its one assumption (power moves no faster than it
is sampled), for a sensor that reports late, and stay useful."""

from __future__ import annotations

import math
import random

import pytest

from edgemeter.exporter.integrator import Integrator
from edgemeter.runner.energy_bound import complete_by, prompt_bound
from edgemeter.runner.window_energy import RailSamples, bound, energy, too_short

from helpers import Clock, PowerSource


def rail(t: list[float], w: list[float], period: float, interval: float | None = None) -> RailSamples:
    return RailSamples("VDD_IN", "ina3221", period, interval, t[0], t, w)


def test_energy_is_the_trapezoid_cut_by_interpolation_at_the_edges() -> None:
    t, w = [0.0, 1.0, 2.0], [2.0, 4.0, 4.0]
    assert energy(t, w, 0.0, 2.0) == pytest.approx(3.0 + 4.0)
    assert energy(t, w, 0.5, 1.5) == pytest.approx((3.0 + 4.0) / 2 * 0.5 + 4.0 * 0.5)
    assert energy(t, w, 1.5, 3.0) == pytest.approx(4.0 * 1.5)  # held past the newest sample
    assert energy(t, w, 1.0, 1.0) == 0.0


def steps(seed: int, hold: tuple[float, float]) -> tuple[list[float], list[float]]:
    """A power that jumps between 2 and 12 W at random instants, held ``hold`` s between jumps."""
    rng = random.Random(seed)
    edges, values, at = [0.0], [rng.uniform(2, 12)], 0.0
    while at < 12.0:
        at += rng.uniform(*hold)
        edges.append(at)
        values.append(rng.uniform(2, 12))
    return edges, values


def power(edges: list[float], values: list[float], x: float) -> float:
    k = max(i for i, e in enumerate(edges) if e <= x) if x >= 0 else 0
    return values[k]


def exact(edges: list[float], values: list[float], a: float, b: float) -> float:
    total = 0.0
    for k, lo in enumerate(edges):
        hi = edges[k + 1] if k + 1 < len(edges) else float("inf")
        total += values[k] * max(min(hi, b) - max(lo, a), 0.0)
    return total


@pytest.mark.parametrize("lag", [0.0, 0.05, 0.25])
@pytest.mark.parametrize("seed", range(6))
def test_the_bound_contains_the_real_error_of_a_late_sensor_sampled_at_10_hz(seed: int, lag: float) -> None:
    period = 0.1
    edges, values = steps(seed, (period * 1.01, 0.8))  # one jump per gap at most: the assumption
    rng = random.Random(100 + seed)
    t = [k * period + rng.uniform(-0.002, 0.002) for k in range(130)]
    w = [power(edges, values, x - lag) for x in t]  # a reading stands for the power `lag` earlier
    got = rail(t, w, period, lag or None)
    for _ in range(20):
        a = rng.uniform(1.0, 6.0)
        b = a + rng.uniform(1.0, 4.0)
        error = abs(energy(t, w, a, b) - exact(edges, values, a, b))
        limit = bound(got, a, b)
        assert error <= limit, (a, b, error, limit)
        if lag <= 0.05:  # useful even for so jumpy a power; a 0.25 s late sensor is another matter
            assert limit <= 0.45 * exact(edges, values, a, b)


def test_without_the_sensors_interval_a_late_sensors_error_escapes_the_bound() -> None:
    """The lag term is what contains a late sensor's error: a rail that hides its interval is
    bounded as if it kept up, and a step right at the window's start shows it."""
    period, lag = 0.1, 0.25
    t = [k * period for k in range(100)]
    w = [10.0 if x - lag >= 2.0 else 2.0 for x in t]  # the load starts at 2.0 s, seen 0.25 s late
    a, b = 2.0, 5.0
    error = abs(energy(t, w, a, b) - 10.0 * (b - a))
    assert error > bound(rail(t, w, period, None), a, b)
    assert error <= bound(rail(t, w, period, lag), a, b)


def test_the_edge_reads_slack_counts_at_the_power_near_the_edge() -> None:
    t, w = [k * 0.1 for k in range(50)], [5.0] * 50
    steady = rail(t, w, 0.1)
    assert bound(steady, 1.0, 3.0) == pytest.approx(0.0)
    assert bound(steady, 1.0, 3.0, 0.004, 0.006) == pytest.approx(5.0 * 0.010)


def test_a_window_of_fewer_than_four_sensor_updates_is_too_short() -> None:
    t = [k * 0.1 for k in range(50)]
    r = rail(t, [5.0] * 50, 0.1, 0.14)
    assert too_short(r, 1.0, 1.5) and not too_short(r, 1.0, 1.6)


def test_prompt_bound_sums_the_parts_and_waits_for_the_samples_after_the_end() -> None:
    t = [k * 0.1 for k in range(40)]
    samples = {"A": rail(t, [4.0] * 40, 0.1), "B": rail(t, [6.0] * 40, 0.1)}
    unc, short = prompt_bound(samples, "A+B", {"A": 8.0, "B": 12.0}, (1.0, 3.0), (0.99, 3.02))
    assert unc == pytest.approx(4.0 * 0.03 + 6.0 * 0.03) and not short
    # a part with its own counter (no samples): the slack at its mean power
    unc, _ = prompt_bound(samples, "A+RAPL", {"A": 8.0, "RAPL": 20.3}, (1.0, 3.0), (0.99, 3.02))
    assert unc == pytest.approx(4.0 * 0.03 + 20.3 / 2.03 * 0.03)
    # samples that do not reach back to the start: no bound rather than a wrong one
    late = {"A": RailSamples("A", "ina3221", 0.1, None, 1.5, t, [4.0] * 40)}
    assert prompt_bound(late, "A", {"A": 8.0}, (1.0, 3.0), (0.99, 3.02)) is None
    # a sensor 0.1 s late, the end at 3.85 s: the reading standing for it comes one lag later,
    # within a period; one that keeps up needs only the sample after the end (it is there)
    lagging = {"A": rail(t, [4.0] * 40, 0.1, 0.1)}
    assert complete_by(lagging, "A", 3.85) == pytest.approx(3.85 + 0.1 + 0.1)
    assert complete_by(lagging, "A", 3.0) is None and complete_by(samples, "A+B", 3.85) is None


def test_a_sensor_that_holds_each_reading_up_to_its_interval_stays_inside_the_bound() -> None:
    """Each reading late by a different amount (a sensor updating every 0.25 s, read at 10 Hz):
    a load whose rises come just after an update and falls just before one is seen late at
    every rise and early at no fall, so the error grows with every change, and so must the bound."""
    update, period = 0.25, 0.1
    rises = [k * 1.0 + 0.01 for k in range(30)]  # just after the updates at whole seconds
    falls = [k * 1.0 + 0.49 for k in range(30)]  # just before the updates at half seconds

    def power(x: float) -> float:
        return 12.0 if any(r <= x < f for r, f in zip(rises, falls, strict=True)) else 2.0

    def shown(x: float) -> float:  # the sensor's value: the power at its latest update
        return power(math.floor(x / update) * update)

    t = [k * period for k in range(300)]
    w = [shown(x) for x in t]
    got = rail(t, w, period, update)
    for a, b in ((1.2, 3.2), (1.2, 11.2), (1.2, 29.2)):
        exact = sum(
            10.0 * max(min(f, b) - max(r, a), 0.0) for r, f in zip(rises, falls, strict=True)
        ) + 2.0 * (b - a)
        error = abs(energy(t, w, a, b) - exact)
        assert error <= bound(got, a, b), (b - a, error, bound(got, a, b))


def test_counters_read_inside_a_gap_with_a_step_stay_inside_the_bound() -> None:
    """The exporter's counter carries the latest reading forward to the read: a read 9 ms into
    a 10 ms gap in which the power stepped from 2 to 12 W counts the step late."""
    clock, source = Clock(), PowerSource(2.0, 0.0011)
    integrator = Integrator([source], 100.0, clock=clock)
    period, start, end = 0.01, 100.0 + 0.25 + 0.009, 100.0 + 0.6
    power = lambda x: 12.0 if x >= 100.0 + 0.2505 else 2.0  # noqa: E731 - a step inside the gap
    reads = {}
    for k in range(80):
        now = 100.0 + k * period
        for at_ in (start, end):
            if now - period < at_ <= now and at_ not in reads:  # a read between two samples
                clock.now = at_
                reads[at_] = integrator.energy("ina3221")[0][1]
        clock.now = now
        source.watts = power(now)
        integrator.sample(source)
    counted = reads[end] - reads[start]
    exact = 12.0 * (end - start)
    [hist] = integrator.history(0, 1e9)
    samples = {
        "VDD_IN": RailSamples(
            "VDD_IN", "ina3221", period, 0.0011, hist.rails[0].oldest, hist.rails[0].t, hist.rails[0].watts
        )
    }
    unc, _ = prompt_bound(samples, "VDD_IN", {"VDD_IN": counted}, (start, end), (start, end))
    assert abs(counted - exact) > 0.02  # the step counted late: what the bound must cover
    assert abs(counted - exact) <= unc
