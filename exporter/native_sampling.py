"""Sampling a fixed set of value files from C (exporter/_native_sampler.c), for the integrator.

A source whose every sample is "re-read these files, multiply these numbers" (the INA3221's
millivolt and milliampere files, the iio driver's milliwatts, hwmon's microwatts) hands the integrator a
``FilePlan``. The C thread then takes the samples on its grid without waking the interpreter,
and the integrator drains them once a second (and whenever a scrape or ``/samples`` asks),
computing each rail's watts exactly as the source's Python reader does. At 100 Hz this is
what keeps the sampler's cost near the cost of the wake-ups themselves (docs/performance.md).

The extension is optional: built by ``pip install`` where a C compiler is, and without it
(or for any other source) the integrator samples from Python.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from dataclasses import dataclass

try:
    from edgemeter.exporter._native_sampler import Sampler
except ImportError:  # built without a C compiler: the integrator samples from Python
    Sampler = None

Key = tuple[tuple[str, str], ...]
MAX_PERIOD = 0.5  # slower grids gain nothing from C (and a stop waits up to one period)
BUFFER_SECONDS = 8.0  # samples the C buffer holds between drains; older ones are dropped, counted
# seconds between the integrator's own drains: every read of energy or samples drains first, so
# this only keeps the buffer from filling when nobody reads (and a wake costs a busy board CPU)
DRAIN_PERIOD = BUFFER_SECONDS / 2


def available() -> bool:
    return Sampler is not None


@dataclass(frozen=True)
class PlannedRail:
    """One rail of a plan: watts = the product of value[index] / divisor over its factors (the
    same arithmetic, in the same order, as the source's own reader, so both paths agree)."""

    key: Key
    labels: dict[str, str]
    factors: tuple[tuple[int, int], ...]

    @property
    def mask(self) -> int:
        return sum(1 << index for index, _ in self.factors)


@dataclass(frozen=True)
class FilePlan:
    """The files a source's sample reads, and how its rails' watts follow from them."""

    paths: tuple[str, ...]
    rails: tuple[PlannedRail, ...]


@dataclass
class Batch:
    """The samples of one drain: their times, each rail's watts (None where its files failed to
    read or the reading was unphysical), and what went wrong."""

    times: array
    watts: list[tuple[PlannedRail, list[float | None]]]
    failed: int = 0  # value files that did not read or parse, over all samples
    unphysical: int = 0  # readings no consumption rail can give (physical() below)
    dropped: int = 0  # samples the full buffer lost


class NativeRun:
    """A started C sampler for one plan (opening a file that is not there raises OSError)."""

    def __init__(self, plan: FilePlan, period: float, physical: Callable[[float], bool]) -> None:
        if Sampler is None:
            raise OSError("the C sampler is not built")
        self.plan = plan
        self._physical = physical
        self._sampler = Sampler(list(plan.paths), period, max(64, math.ceil(BUFFER_SECONDS / period)))
        self._sampler.start()
        self._n = len(plan.paths)
        self.failing = False  # a file failed to read since the last search for the source's files

    def drain(self) -> Batch:
        """The samples taken since the last drain, oldest first."""
        raw_times, raw_values, raw_failed, dropped = self._sampler.drain()
        times, values, failed = array("d"), array("d"), array("Q")
        times.frombytes(raw_times)
        values.frombytes(raw_values)
        failed.frombytes(raw_failed)
        batch = Batch(times, [], dropped=dropped)
        n, bad = self._n, any(failed)
        if bad:
            batch.failed = sum(m.bit_count() for m in failed)
            self.failing = True
        for rail in self.plan.rails:
            watts = self._watts(rail, values, n)
            if bad:
                mask = rail.mask
                watts = [None if m & mask else w for w, m in zip(watts, failed, strict=True)]
            kept = [w if w is None or self._physical(w) else None for w in watts]
            batch.unphysical += kept.count(None) - watts.count(None)  # never integrated, as from Python
            batch.watts.append((rail, kept))
        return batch

    @staticmethod
    def _watts(rail: PlannedRail, values: array, n: int) -> list[float | None]:
        ends = range(0, len(values), n)
        if len(rail.factors) == 1:
            ((i, d),) = rail.factors
            return [values[k + i] / d for k in ends]
        (i, di), (j, dj), *more = rail.factors
        watts: list[float | None] = [values[k + i] / di * (values[k + j] / dj) for k in ends]
        for index, div in more:
            watts = [w * (values[k + index] / div) for w, k in zip(watts, ends, strict=True)]  # type: ignore[operator]
        return watts

    def stop(self) -> None:
        self._sampler.stop()
