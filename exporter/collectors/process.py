"""CPU seconds, resident memory and CPU share of the processes matched by each ``--process``.

Series are per pattern (the label is the pattern the user gave, never a pid or a command line).
``edge_process_cpu_seconds_total`` is monotonic even as matching processes come and go
(exporter/process_accounting.py). ``edge_process_cpu_share_ratio`` (AIPowerMeter style) is
the matches' CPU time over all busy CPU time of the machine (every /proc/stat mode but idle
and iowait) since the previous reading at least 1 s ago, so PromQL can attribute package
energy: ``rate(edge_energy_joules_total{rail="package-0"}[1m]) * on() group_left
edge_process_cpu_share_ratio{process="ollama"}``.
"""

from __future__ import annotations

import time

from edgemeter.exporter.collectors.base import Collector, NoData
from edgemeter.exporter.config import Config
from edgemeter.exporter.metric_family import CounterFamily, Family, GaugeFamily
from edgemeter.exporter.process_accounting import CpuShare, CpuTotals
from edgemeter.exporter.sensors.process import match_processes
from edgemeter.exporter.sensors.procfs import read_cpu_times
from edgemeter.exporter.sensors.sysfs import ReadLog

IDLE_MODES = {"idle", "iowait", "guest", "guest_nice"}  # guest time is already inside user/nice


class ProcessCollector(Collector):
    name = "process"
    default_enabled = False  # on when --process is given
    help = "CPU and memory of processes matched by --process (/proc/<pid>)"

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.totals = CpuTotals(config.processes)
        self.share = CpuShare()

    def update(self, rlog: ReadLog) -> list[Family]:
        if not self.config.processes:
            raise NoData("no --process pattern")
        labels = ["process"]
        cpu = CounterFamily(
            "edge_process_cpu_seconds_total",
            "User+system CPU seconds of the matching processes (/proc/<pid>/stat utime+stime), "
            "kept monotonic as processes come and go.",
            labels=labels,
        )
        rss = GaugeFamily(
            "edge_process_resident_memory_bytes",
            "Resident memory of the matching processes (/proc/<pid>/status VmRSS).",
            labels=labels,
        )
        count = GaugeFamily(
            "edge_process_instances",
            "Number of processes the pattern matches (/proc/<pid>/comm, cmdline).",
            labels=labels,
        )
        share = GaugeFamily(
            "edge_process_cpu_share_ratio",
            "The matching processes' share of all busy CPU time over the last window of >= 1 s "
            "(/proc/<pid>/stat over /proc/stat non-idle modes), for attributing package energy.",
            labels=labels,
        )
        samples = match_processes(self.config.procfs, self.config.processes, rlog)
        totals = self.totals.update(samples)
        for pattern in self.config.processes:
            mine = [s for s in samples if pattern in s.patterns]
            cpu.add_metric([pattern], totals[pattern])
            rss.add_metric([pattern], sum(s.resident_bytes for s in mine))
            count.add_metric([pattern], len(mine))
        times = read_cpu_times(self.config.procfs, rlog)
        if times:
            busy = sum(v for t in times for mode, v in t.seconds.items() if mode not in IDLE_MODES)
            for pattern, ratio in self.share.update(time.monotonic(), busy, totals).items():
                share.add_metric([pattern], ratio)
        return [cpu, rss, count, share]
