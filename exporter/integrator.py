"""The power sampler: the exporter's only background work, one thread per power source.

Sensors that give only instantaneous power (INA3221 rails, hwmon ``power*_input``, the Pi 5
PMIC, NVML without an energy counter) are read at ``--sample-hz`` and integrated with the
trapezoid rule into joules, so the energy between any two instants is exact to the sampling
period whatever Prometheus' scrape interval. A scrape serves the energy up to the instant of
the scrape: the latest reading carried forward to now. Because a later trapezoid can come in
below that carried-forward estimate (power fell), the served value never goes below what was
served before: a counter that went backwards would read as a reset to ``increase()``.

Each source has its own thread so that a slow one (the PMIC forks ``vcgencmd``, which may take
up to its timeout) never delays another's readings: on a Pi 5 with an INA219 HAT, the HAT's
10 Hz grid holds while vcgencmd runs. A source that is a fixed set of value files (the
INA3221's, hwmon ``power*_input``) is read by a C thread instead (exporter/native_sampling.py)
when the extension is built: its thread here then only drains those samples and integrates
them, once a second and whenever a scrape or ``/samples`` needs the newest.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

from edgemeter.exporter import native_sampling
from edgemeter.exporter.history import DEFAULT_HISTORY_SECONDS, RailHistory, Ring, SourceHistory, ring_size
from edgemeter.exporter.native_sampling import FilePlan, NativeRun
from edgemeter.exporter.sensors import NoData
from edgemeter.exporter.sensors.power import PowerReading
from edgemeter.exporter.sensors.sysfs import ReadLog

log = logging.getLogger(__name__)

Key = tuple[tuple[str, str], ...]


class PowerSource(Protocol):
    """What the sampler needs of a power collector."""

    name: str
    max_sample_hz: float | None

    def read_power(self, rlog: ReadLog) -> list[PowerReading]: ...

    def sensor_interval(self) -> float | None: ...


class FileSource(PowerSource, Protocol):
    """A source the C sampler can read: its rails are a fixed set of value files."""

    def file_plan(self, rlog: ReadLog) -> FilePlan: ...


MAX_WATTS = 10_000.0  # no board this exporter runs on draws more: a reading above is a glitch


def physical(watts: float) -> bool:
    """A power reading a consumption rail can give: finite, not negative, below MAX_WATTS."""
    return math.isfinite(watts) and 0.0 <= watts <= MAX_WATTS


@dataclass
class _Rail:
    labels: dict[str, str]
    t: float  # monotonic time of the latest reading
    watts: float
    ring: Ring  # its recent samples (exporter/history.py)
    joules: float = 0.0
    served: float = 0.0  # the highest value a scrape has seen


@dataclass
class SourceStats:
    samples: int = 0
    errors: int = 0
    next_due: float = 0.0
    integrable: bool = True  # the last sample had a rail to integrate (assumed until the first)
    announced: bool = False  # its rails were logged once
    latest: tuple[float, list[PowerReading]] | None = None  # (when, readings) of the last good sample
    no_data: bool = False  # the last read found no sensor of its kind (NoData): not an error


FIRST_SAMPLE_WAIT = 1.0  # seconds start() waits for each source's first sample
IDLE_RETRY = 30.0  # seconds between reads of a source that has nothing to integrate (yet)
REPLAN = 30.0  # seconds between a C-sampled source's searches for its files (as its own RESCAN)
NATIVE_BACKOFF = 1.0  # seconds sampled from Python after the C sampler's files went away
SHORT_SLEEP = 0.05  # waits up to this sleep (cheaper than an Event's wait); a stop waits that long


class Integrator:
    """Samples power sources on a thread and keeps one energy counter per rail."""

    def __init__(
        self,
        sources: Sequence[PowerSource],
        hz: float,
        clock: Callable[[], float] = time.monotonic,
        history_seconds: float = DEFAULT_HISTORY_SECONDS,
        native: bool = True,
    ) -> None:
        self.sources = list(sources)
        self.hz = hz
        self.history_seconds = history_seconds
        self.clock = clock
        self.native = native  # the C sampler where it is built and a source allows (--python-sampler: no)
        self._periods = {s.name: 1.0 / min(hz, s.max_sample_hz or hz) for s in self.sources}
        self.stats = {s.name: SourceStats() for s in self.sources}
        self._rails: dict[str, dict[Key, _Rail]] = {s.name: {} for s in self.sources}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._native: dict[str, NativeRun] = {}  # the sources the C sampler reads now
        self.natively = {s.name: False for s in self.sources}

    def period(self, source: str) -> float:
        return self._periods[source]

    def latest(self, source: str) -> list[PowerReading] | None:
        """The last sample's readings if taken within two periods (for slow sources, so a scrape
        need not start vcgencmd again), else None."""
        got = self.stats[source].latest
        if got is None or self.clock() - got[0] > 2 * self._periods[source]:
            return None
        return got[1]

    def max_gap(self, source: str) -> float:
        """Longest gap integrated across; a sensor silent for longer restarts from its next reading."""
        return max(5 * self._periods[source], 2.0)

    def sample(self, source: PowerSource) -> None:
        """Read one source now and integrate its rails (the thread's step; tests call it directly)."""
        rlog = ReadLog()
        stats = self.stats[source.name]
        stats.no_data = False
        try:
            readings = source.read_power(rlog)
        except NoData as exc:  # no sensor of its kind (yet): retried every IDLE_RETRY, not an error
            log.debug("power sampler: %s: no data: %s", source.name, exc)
            readings = []
            stats.no_data = True
        except Exception as exc:  # a failing sensor must not kill the sampler
            log.debug("power sampler: %s: %s", source.name, exc)
            readings = []
            stats.errors += 1
        now = self.clock()
        stats.samples += 1
        stats.errors += len(rlog.errors)
        unphysical = [r for r in readings if r.integrate and r.watts is not None and not physical(r.watts)]
        if unphysical:  # a negative or absurd reading (a glitch, 1e300 mV x 1e300 mA) is never integrated
            stats.errors += len(unphysical)
            readings = [r for r in readings if r not in unphysical]
        stats.integrable = any(r.integrate and r.watts is not None for r in readings)
        if stats.integrable and not stats.announced:  # said when found: no sensor, no line
            stats.announced = True
            found = sorted({r.rail for r in readings if r.integrate and r.watts is not None})
            hz = 1 / self.period(source.name)
            log.info("power sampler: %s at %g Hz: %s", source.name, hz, ", ".join(found))
        if readings:
            stats.latest = (now, readings)
        with self._lock:
            for r in readings:
                if r.integrate and r.watts is not None:
                    self._integrate(source.name, r.key, r.labels, (now,), (r.watts,))

    def _integrate(
        self,
        source: str,
        key: Key,
        labels: dict[str, str],
        times: Sequence[float],
        watts: Sequence[float | None],
    ) -> None:
        """A rail's readings, oldest first, into its ring and its counter (the lock held); None
        stands for a reading that failed."""
        rail = self._rails[source].get(key)
        gap = self.max_gap(source)
        for now, w in zip(times, watts, strict=True):
            if w is None:
                continue
            if rail is None:
                ring = Ring(ring_size(self.history_seconds, self._periods[source]))
                ring.append(now, w)
                rail = self._rails[source][key] = _Rail(labels, now, w, ring)
                continue
            dt = now - rail.t
            if dt < 0:  # never integrate an interval twice (samples come oldest first; a guard)
                continue
            rail.ring.append(now, w)
            if 0 < dt <= gap:
                rail.joules += (rail.watts + w) / 2 * dt
            elif dt > gap:  # silent sensor: count what a scrape would have seen, no more
                rail.joules += rail.watts * gap
            rail.t, rail.watts = now, w

    def _drain(self, source: str) -> None:
        """Integrate what the C sampler read since the last drain (the lock held). A sample lost
        to a full buffer counts as taken and failed; its failed files are not known."""
        run = self._native.get(source)
        if run is None:
            return
        batch = run.drain()
        stats = self.stats[source]
        stats.samples += len(batch.times) + batch.dropped
        stats.errors += batch.dropped + batch.failed + batch.unphysical
        for rail, watts in batch.watts:
            self._integrate(source, rail.key, rail.labels, batch.times, watts)

    def _native_ok(self, source: PowerSource) -> bool:
        """Whether the C sampler may read ``source``: built, a source of files, the real clock
        (not a test's), and a grid fast enough to gain from it."""
        return (
            self.native
            and native_sampling.available()
            and hasattr(source, "file_plan")
            and self.clock is time.monotonic
            and self._periods[source.name] <= native_sampling.MAX_PERIOD
        )

    def _plan(self, source: FileSource) -> FilePlan | None:
        """The source's files now (a search), its read errors counted; None when it has none."""
        rlog = ReadLog()
        try:
            plan = source.file_plan(rlog)
        except Exception as exc:  # NoData (no sensor, a driver gone) or worse: Python says which
            log.debug("power sampler: %s: not sampled in C: %s", source.name, exc)
            plan = None
        self.stats[source.name].errors += len(rlog.errors)
        return plan if plan is not None and plan.rails else None

    def _sample_natively(self, source: FileSource) -> bool | None:
        """Have the C sampler read ``source`` until its files are found changed (True: start
        again at once) or gone (False), or the sampler stops (True); None when there is nothing
        for it to read now (no sensor, a file gone between the search and the open). A file that
        fails is counted at each sample and the other rails go on; the files are searched for
        again after each drain that saw a failure, and every REPLAN seconds."""
        period = self._periods[source.name]
        stats = self.stats[source.name]
        plan = self._plan(source)
        try:
            run = NativeRun(plan, period, physical) if plan is not None else None
        except OSError as exc:
            log.debug("power sampler: %s: not sampled in C: %s", source.name, exc)
            run = None
        if run is None or plan is None:
            return None
        stats.integrable, stats.no_data = True, False
        if not stats.announced:
            stats.announced = True
            rails = ", ".join(sorted(r.labels["rail"] for r in plan.rails))
            log.info("power sampler: %s at %g Hz, read in C: %s", source.name, 1 / period, rails)
        with self._lock:
            self._native[source.name] = run
        self.natively[source.name] = True
        replan = self.clock() + REPLAN
        wait = min(native_sampling.DRAIN_PERIOD, 2 * period)  # start() waits for a first sample
        try:
            while not self._stop.wait(wait):
                with self._lock:
                    self._drain(source.name)
                if run.failing or self.clock() >= replan:
                    run.failing = False
                    replan = self.clock() + REPLAN
                    now = self._plan(source)
                    if now != plan:  # a rail relabelled, added or gone (or all of them): again
                        return now is not None
                # the next drain, or the next search for the files if that is sooner
                wait = max(0.0, min(native_sampling.DRAIN_PERIOD, replan - self.clock()))
            return True
        finally:
            run.stop()
            with self._lock:
                self._drain(source.name)
                del self._native[source.name]
            self.natively[source.name] = False

    def energy(self, source: str) -> list[tuple[dict[str, str], float]]:
        """(labels, joules up to now) for each rail of ``source``; never below a value served before."""
        gap = self.max_gap(source)
        out = []
        with self._lock:
            self._drain(source)
            now = self.clock()
            for rail in self._rails.get(source, {}).values():
                carried = rail.joules + rail.watts * min(max(now - rail.t, 0.0), gap)
                rail.served = max(rail.served, carried)
                out.append((rail.labels, rail.served))
        return out

    def history(
        self, since: float, until: float, collectors: Sequence[str] | None = None
    ) -> list[SourceHistory]:
        """Each sampled source's rails' samples in [since, until] (monotonic), one either side."""
        out = []
        for s in self.sources:
            if collectors and s.name not in collectors:
                continue
            with self._lock:
                self._drain(s.name)
                rails = [
                    RailHistory(rail.labels, rail.ring.oldest(), *rail.ring.window(since, until))
                    for rail in self._rails[s.name].values()
                ]
            out.append(SourceHistory(s.name, 1 / self._periods[s.name], s.sensor_interval(), rails))
        return out

    def run(self, source: PowerSource) -> None:
        """Sample one source on its grid until stopped; sleeps between, never busy-waits."""
        stats = self.stats[source.name]
        stats.next_due = native_after = self.clock()
        native = self._native_ok(source)
        while not self._stop.is_set():
            if native and self.clock() >= native_after:
                ended = self._sample_natively(cast(FileSource, source))
                if ended:  # its files changed: read them in C again at once
                    continue
                # nothing for C to read (yet), or its files went away: Python samples, says why,
                # and C tries again after a second, or at the idle retry when there was nothing
                native_after = self.clock() + (NATIVE_BACKOFF if ended is False else IDLE_RETRY)
                stats.next_due = self.clock()
            self.sample(source)
            period = self._periods[source.name] if stats.integrable else IDLE_RETRY
            if native and not stats.integrable:
                period = min(period, max(native_after - self.clock(), 0.0))
            # keep the grid; after a stall skip missed slots instead of bursting
            stats.next_due = max(stats.next_due + period, self.clock())
            delay = stats.next_due - self.clock()
            if delay <= SHORT_SLEEP:
                time.sleep(max(delay, 0.0))
            else:
                self._stop.wait(delay)

    @property
    def running(self) -> bool:
        return bool(self._threads)

    def start(self) -> None:
        if self._threads:
            return
        for s in self.sources:
            thread = threading.Thread(target=self.run, args=(s,), name=f"power-sampler-{s.name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        # the first scrape serves every source's first sample (a vcgencmd one takes ~20 ms)
        deadline = self.clock() + FIRST_SAMPLE_WAIT
        while any(st.samples == 0 for st in self.stats.values()) and self.clock() < deadline:
            time.sleep(0.005)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
