"""Sampling a fixed set of value files from C (exporter/_native_sampler.c), for the integrator.

A source whose every sample is "re-read these files, multiply these numbers" (the INA3221's
millivolt and milliampere files, the iio driver's milliwatts) hands the integrator a
``FilePlan``. The C thread then takes the samples on its grid without waking the interpreter,
and the integrator drains them a few times a second (or when a scrape or ``/samples`` asks),
computing each rail's watts exactly as the source's Python reader does. At 100 Hz this is
what keeps the sampler's cost near the cost of the wake-ups themselves (docs/performance.md).

The extension is optional: built by ``pip install`` where a C compiler is, and without it
(or for any other source) the integrator samples from Python.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator
from dataclasses import dataclass

try:
    from edgemeter.exporter._native_sampler import Sampler
except ImportError:  # built without a C compiler: the integrator samples from Python
    Sampler = None

Key = tuple[tuple[str, str], ...]
DRAIN_PERIOD = 0.5  # seconds between the integrator's drains when nothing else asks
MAX_PERIOD = 0.5  # slower grids gain nothing from C (and a stop waits up to one period)
BUFFER_SECONDS = 8.0  # samples the C buffer holds between drains; older ones are dropped, counted


def available() -> bool:
    return Sampler is not None


@dataclass(frozen=True)
class PlannedRail:
    """One rail of a plan: watts = the product of value[index] / divisor over its factors (the
    same arithmetic, in the same order, as the source's own reader, so both paths agree)."""

    key: Key
    labels: dict[str, str]
    factors: tuple[tuple[int, int], ...]

    def watts(self, values: array, base: int) -> float:
        (first, divisor), *rest = self.factors
        w = values[base + first] / divisor
        for index, div in rest:
            w *= values[base + index] / div
        return w


@dataclass(frozen=True)
class FilePlan:
    """The files a source's sample reads, and how its rails' watts follow from them."""

    paths: tuple[str, ...]
    rails: tuple[PlannedRail, ...]


@dataclass
class DrainedSample:
    time: float
    watts: list[tuple[PlannedRail, float]]  # the rails whose files read well
    failed: int  # value files that did not read or parse


class NativeRun:
    """A started C sampler for one plan (opening a file that is not there raises OSError)."""

    def __init__(self, plan: FilePlan, period: float) -> None:
        if Sampler is None:
            raise OSError("the C sampler is not built")
        self.plan = plan
        self._sampler = Sampler(list(plan.paths), period, max(64, math.ceil(BUFFER_SECONDS / period)))
        self._sampler.start()
        self._n = len(plan.paths)
        self.failed = False  # a file failed to read: the integrator searches the source again

    def drain(self) -> tuple[Iterator[DrainedSample], int]:
        """The samples taken since the last drain, oldest first, and how many were dropped."""
        raw_times, raw_values, raw_failed, dropped = self._sampler.drain()
        times, values, failed = array("d"), array("d"), array("Q")
        times.frombytes(raw_times)
        values.frombytes(raw_values)
        failed.frombytes(raw_failed)
        return self._samples(times, values, failed), dropped

    def _samples(self, times: array, values: array, failed: array) -> Iterator[DrainedSample]:
        n = self._n
        for i, t in enumerate(times):
            mask, base = failed[i], i * n
            if not mask:
                yield DrainedSample(t, [(rail, rail.watts(values, base)) for rail in self.plan.rails], 0)
                continue
            good = [
                (rail, rail.watts(values, base))
                for rail in self.plan.rails
                if not any(mask >> index & 1 for index, _ in rail.factors)
            ]
            yield DrainedSample(t, good, mask.bit_count())

    def stop(self) -> None:
        self._sampler.stop()
