"""State the process collector keeps between scrapes: monotonic CPU totals and CPU shares.

Summing the CPU time of whichever processes match *now* would drop whenever one of them exits
(an ``ollama run`` client, a model runner unloaded), and ``rate()`` would read each drop as a
counter reset and add the whole server's lifetime CPU. Instead each process (pid + start time,
so pid reuse is a new process) contributes the CPU it gained since it was last seen, and what
an exited process contributed stays in the total: a true counter.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from edgemeter.exporter.sensors.process import ProcessSample

SHARE_WINDOW = 1.0  # seconds: a reading sooner than this after the last reuses the last ratio


class CpuTotals:
    def __init__(self, patterns: Iterable[str]) -> None:
        self._lock = threading.Lock()
        self._last: dict[tuple[str, int], float] = {}  # (pid, start) -> CPU seconds last seen
        self.totals = dict.fromkeys(patterns, 0.0)

    def update(self, samples: list[ProcessSample]) -> dict[str, float]:
        """Add what each matching process gained since last seen; returns the totals."""
        with self._lock:
            seen = {}
            for s in samples:
                key = (s.pid, s.start_ticks)
                gained = max(s.cpu_seconds - self._last.get(key, 0.0), 0.0)
                seen[key] = max(s.cpu_seconds, self._last.get(key, 0.0))
                for pattern in s.patterns:
                    self.totals[pattern] += gained
            self._last = seen  # exited processes leave; their CPU stays in the totals
            return dict(self.totals)


class CpuShare:
    """Per-pattern share of busy CPU time between two readings >= SHARE_WINDOW apart."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: tuple[float, float, dict[str, float]] | None = None
        self.ratios: dict[str, float] = {}

    def update(self, now: float, busy_seconds: float, cpu: dict[str, float]) -> dict[str, float]:
        with self._lock:
            if self._last is None:
                self._last = (now, busy_seconds, cpu)
            elif now - self._last[0] >= SHARE_WINDOW:
                _, busy0, cpu0 = self._last
                busy = busy_seconds - busy0
                if busy > 0:
                    # process and /proc/stat times are read a moment apart: cap rounding above 1
                    self.ratios = {p: min(max(cpu[p] - cpu0.get(p, cpu[p]), 0.0) / busy, 1.0) for p in cpu}
                self._last = (now, busy_seconds, cpu)
            return dict(self.ratios)
