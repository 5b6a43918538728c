"""Load averages from /proc/loadavg (runnable + uninterruptible tasks, 1/5/15 min)."""

from __future__ import annotations

from edgemeter.exporter.collectors.base import Collector, require
from edgemeter.exporter.metric_family import Family, GaugeFamily
from edgemeter.exporter.sensors.procfs import read_loadavg
from edgemeter.exporter.sensors.sysfs import ReadLog


class LoadavgCollector(Collector):
    name = "loadavg"
    help = "Load average (/proc/loadavg)"

    def update(self, rlog: ReadLog) -> list[Family]:
        load = require(read_loadavg(self.config.procfs, rlog), "no /proc/loadavg")
        out: list[Family] = []
        for minutes, value in ((1, load.load1), (5, load.load5), (15, load.load15)):
            family = GaugeFamily(f"edge_load{minutes}", f"{minutes}-minute load average (/proc/loadavg).")
            family.add_metric([], value)
            out.append(family)
        return out
