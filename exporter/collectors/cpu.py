"""edge_cpu_seconds_total per cpu and mode, from /proc/stat."""

from __future__ import annotations

from edgemeter.exporter.collectors.base import Collector, require
from edgemeter.exporter.metric_family import CounterFamily, Family
from edgemeter.exporter.sensors.procfs import read_cpu_times
from edgemeter.exporter.sensors.sysfs import ReadLog

_GUEST = {"guest": "user", "guest_nice": "nice"}


class CpuCollector(Collector):
    name = "cpu"
    help = "CPU time per cpu and mode (/proc/stat)"

    def update(self, rlog: ReadLog) -> list[Family]:
        cpus = require(read_cpu_times(self.config.procfs, rlog), "no /proc/stat")
        seconds = CounterFamily(
            "edge_cpu_seconds_total",
            "Seconds each CPU spent in each mode (/proc/stat USER_HZ ticks; user and nice include guest).",
            labels=["cpu", "mode"],
        )
        guest = CounterFamily(
            "edge_cpu_guest_seconds_total",
            "Seconds each CPU spent running guests, from /proc/stat (already counted in user/nice).",
            labels=["cpu", "mode"],
        )
        for times in cpus:
            for mode, value in times.seconds.items():
                if mode in _GUEST:
                    guest.add_metric([times.cpu, _GUEST[mode]], value)
                else:
                    seconds.add_metric([times.cpu, mode], value)
        return [seconds, guest]
