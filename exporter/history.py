"""The power sampler's recent samples, per rail, kept in fixed-size rings and served as JSON.

A 1 s scrape cannot see a 50 ms layer; the sampler's own readings can. Each integrated rail keeps
its last ``--history-seconds`` of samples at its sampling rate in two preallocated arrays of
doubles (16 bytes a sample, never grown: 600 s at 200 Hz is 1.9 MB a rail), so a client can
integrate any window inside that history itself, interpolating at its edges
(``edgemeter/runner/window_energy.py``), long after it ended.

``GET /samples?from=UNIX&to=UNIX[&collector=NAME…]`` answers (docs/metrics.md has the contract)::

    {"now": 1764590000.123456, "history_seconds": 600.0,
     "sources": [{"collector": "ina3221", "sample_hz": 100.0, "sensor_interval_seconds": 0.0011,
                  "rails": [{"labels": {"rail": "VDD_IN", "source": "ina3221", ...},
                             "oldest": 1764589400.0, "t": [...], "watts": [...]}]}]}

``t`` is Unix time (the sampler stamps samples with the monotonic clock; they are converted with
the wall-clock offset at the time of the request, so they agree with a client's ``time.time()``
now). A rail's samples are those within [from, to] plus the one just before and the one just
after, when kept, so a window's edges can be interpolated.
"""

from __future__ import annotations

import json
import math
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs

DEFAULT_HISTORY_SECONDS = 600.0
MAX_HISTORY_SECONDS = 3600.0
BYTES_PER_SAMPLE = 16  # two doubles: time and watts


class Ring:
    """The latest ``size`` (time, watts) samples of one rail; appending never allocates."""

    __slots__ = ("count", "head", "size", "t", "w")

    def __init__(self, size: int) -> None:
        self.size = max(int(size), 2)
        self.t = array("d", bytes(8 * self.size))
        self.w = array("d", bytes(8 * self.size))
        self.head = 0  # where the next sample goes
        self.count = 0

    def append(self, t: float, watts: float) -> None:
        i = self.head
        self.t[i] = t
        self.w[i] = watts
        self.head = i + 1 if i + 1 < self.size else 0
        if self.count < self.size:
            self.count += 1

    def _at(self, k: int) -> int:
        """The array index of the k-th oldest sample kept."""
        return (self.head - self.count + k) % self.size

    def oldest(self) -> float | None:
        return self.t[self._at(0)] if self.count else None

    def _first_after(self, t: float) -> int:
        """The logical index of the first sample later than ``t`` (``count`` if none)."""
        lo, hi = 0, self.count
        while lo < hi:
            mid = (lo + hi) // 2
            if self.t[self._at(mid)] <= t:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def window(self, since: float, until: float) -> tuple[array, array]:
        """Times and watts of the samples in [since, until], with one either side where kept:
        copies of at most two slices of each array (memory copies, under the sampler's lock)."""
        lo = max(self._first_after(since) - 1, 0)
        hi = min(self._first_after(until) + 1, self.count)
        if hi <= lo:
            return array("d"), array("d")
        start = (self.head - self.count + lo) % self.size
        stop = start + (hi - lo)
        if stop <= self.size:
            return self.t[start:stop], self.w[start:stop]
        wrap = stop - self.size
        return self.t[start:] + self.t[:wrap], self.w[start:] + self.w[:wrap]


def ring_size(history_seconds: float, period: float) -> int:
    """Samples a ring holds to cover ``history_seconds`` at one sample every ``period``."""
    return math.ceil(history_seconds / period) + 2


def memory_bytes(history_seconds: float, hz: float, rails: int) -> int:
    """What the rings of ``rails`` rails sampled at ``hz`` take (stated in --help and the docs)."""
    return ring_size(history_seconds, 1 / hz) * BYTES_PER_SAMPLE * rails


@dataclass(frozen=True)
class RailHistory:
    labels: dict[str, str]
    oldest: float | None  # monotonic
    t: Sequence[float]  # monotonic
    watts: Sequence[float]


@dataclass(frozen=True)
class SourceHistory:
    collector: str
    sample_hz: float
    sensor_interval: float | None  # the sensor's own update interval, where it states one
    rails: list[RailHistory]


class BadQuery(ValueError):
    """A /samples query that cannot be answered: its one-line reason is the 400's body."""


def _unix(query: dict[str, list[str]], key: str, default: float) -> float:
    values = query.get(key)
    if not values:
        return default
    try:
        value = float(values[-1])
    except ValueError:
        raise BadQuery(f"{key}={values[-1]!r}: expected Unix seconds, e.g. {time.time():.3f}") from None
    if not math.isfinite(value):
        raise BadQuery(f"{key}={values[-1]!r}: expected Unix seconds")
    return value


def answer(
    query_string: str,
    history: Callable[[float, float, Sequence[str] | None], list[SourceHistory]],
    history_seconds: float,
) -> bytes:
    """The JSON body of ``/samples?query_string``; raises BadQuery for a malformed query."""
    query = parse_qs(query_string)
    wall, mono = time.time(), time.monotonic()
    offset = wall - mono
    until = _unix(query, "to", wall)
    since = _unix(query, "from", until - 60.0)
    if since > until:
        raise BadQuery(f"from={since:.6f} is after to={until:.6f}")
    sources = history(since - offset, until - offset, query.get("collector"))
    body = {
        "now": round(wall, 6),
        "history_seconds": history_seconds,
        "sources": [
            {
                "collector": s.collector,
                "sample_hz": s.sample_hz,
                "sensor_interval_seconds": s.sensor_interval,
                "rails": [
                    {
                        "labels": r.labels,
                        "oldest": None if r.oldest is None else round(r.oldest + offset, 6),
                        "t": [round(t + offset, 6) for t in r.t],
                        "watts": [round(w, 6) for w in r.watts],
                    }
                    for r in s.rails
                ],
            }
            for s in sources
        ],
    }
    return json.dumps(body, separators=(",", ":")).encode()
