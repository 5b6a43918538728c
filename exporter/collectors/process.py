"""CPU seconds and resident memory of the processes matched by each ``--process`` pattern.

Series are per pattern (the label is the pattern the user gave, never a pid or a command
line), summed over the matching processes; when one of them exits its CPU time leaves the sum,
which PromQL's rate() treats as a counter reset.

``edge_process_cpu_share_ratio`` (AIPowerMeter style) is the matching processes' CPU time over
all busy CPU time of the machine (every /proc/stat mode but idle and iowait) in the window
since the previous reading at least ``SHARE_WINDOW`` seconds ago, so PromQL can attribute
package energy: ``rate(edge_energy_joules_total{rail="package-0"}[1m]) * on() group_left
edge_process_cpu_share_ratio{process="ollama"}``.
"""

from __future__ import annotations

import threading
import time

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from exporter.collectors.base import Collector, NoData
from exporter.config import Config
from exporter.sensors.process import ProcessGroup, read_process_groups
from exporter.sensors.procfs import read_cpu_times
from exporter.sensors.sysfs import ReadLog

SHARE_WINDOW = 1.0  # seconds: shorter windows between scrapes reuse the last ratio
IDLE_MODES = {"idle", "iowait", "guest", "guest_nice"}  # guest time is already inside user/nice


class CpuShare:
    """Per-pattern share of busy CPU time between two readings; safe for concurrent scrapes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: tuple[float, float, dict[str, float]] | None = None
        self.ratios: dict[str, float] = {}

    def update(self, now: float, busy_seconds: float, groups: list[ProcessGroup]) -> dict[str, float]:
        cpu = {g.pattern: g.cpu_seconds for g in groups}
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


class ProcessCollector(Collector):
    name = "process"
    default_enabled = False  # on when --process is given
    help = "CPU and memory of processes matched by --process (/proc/<pid>)"

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.share = CpuShare()

    def update(self, rlog: ReadLog) -> list[Metric]:
        if not self.config.processes:
            raise NoData("no --process pattern")
        labels = ["process"]
        cpu = CounterMetricFamily(
            "edge_process_cpu_seconds_total",
            "User+system CPU seconds of the matching processes (/proc/<pid>/stat utime+stime).",
            labels=labels,
        )
        rss = GaugeMetricFamily(
            "edge_process_resident_memory_bytes",
            "Resident memory of the matching processes (/proc/<pid>/status VmRSS).",
            labels=labels,
        )
        count = GaugeMetricFamily(
            "edge_process_instances",
            "Number of processes the pattern matches (/proc/<pid>/comm, cmdline).",
            labels=labels,
        )
        share = GaugeMetricFamily(
            "edge_process_cpu_share_ratio",
            "The matching processes' share of all busy CPU time over the last window of >= 1 s "
            "(/proc/<pid>/stat over /proc/stat non-idle modes), for attributing package energy.",
            labels=labels,
        )
        groups = read_process_groups(self.config.procfs, self.config.processes, rlog)
        for group in groups:
            cpu.add_metric([group.pattern], group.cpu_seconds)
            rss.add_metric([group.pattern], group.resident_bytes)
            count.add_metric([group.pattern], group.instances)
        times = read_cpu_times(self.config.procfs, rlog)
        if times:
            busy = sum(v for t in times for mode, v in t.seconds.items() if mode not in IDLE_MODES)
            for pattern, ratio in self.share.update(time.monotonic(), busy, groups).items():
                share.add_metric([pattern], ratio)
        return [cpu, rss, count, share]
