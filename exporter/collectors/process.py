"""CPU seconds and resident memory of the processes matched by each ``--process`` pattern.

Series are per pattern (the label is the pattern the user gave, never a pid or a command
line), summed over the matching processes; when one of them exits its CPU time leaves the sum,
which PromQL's rate() treats as a counter reset.
"""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from exporter.collectors.base import Collector, NoData
from exporter.sensors.process import read_process_groups
from exporter.sensors.sysfs import ReadLog


class ProcessCollector(Collector):
    name = "process"
    default_enabled = False  # on when --process is given
    help = "CPU and memory of processes matched by --process (/proc/<pid>)"

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
        for group in read_process_groups(self.config.procfs, self.config.processes, rlog):
            cpu.add_metric([group.pattern], group.cpu_seconds)
            rss.add_metric([group.pattern], group.resident_bytes)
            count.add_metric([group.pattern], group.instances)
        return [cpu, rss, count]
