"""Pressure stall information (/proc/pressure/{cpu,memory,io}) as cumulative seconds.

``waiting`` is PSI's "some" line (at least one task stalled), ``stalled`` its "full" line (all
non-idle tasks stalled); the kernel gives microseconds, rate() of these gives a 0-1 ratio.
"""

from __future__ import annotations

from edgemeter.exporter.collectors.base import Collector, require
from edgemeter.exporter.metric_family import CounterFamily, Family
from edgemeter.exporter.sensors.procfs import read_pressure
from edgemeter.exporter.sensors.sysfs import ReadLog


class PressureCollector(Collector):
    name = "pressure"
    help = "Pressure stall information (/proc/pressure)"

    def update(self, rlog: ReadLog) -> list[Family]:
        stalls = require(read_pressure(self.config.procfs, rlog), "no /proc/pressure (kernel without PSI)")
        waiting = CounterFamily(
            "edge_pressure_waiting_seconds_total",
            "Seconds at least one task was stalled on the resource (/proc/pressure/* 'some' total).",
            labels=["resource"],
        )
        stalled = CounterFamily(
            "edge_pressure_stalled_seconds_total",
            "Seconds all non-idle tasks were stalled on the resource (/proc/pressure/* 'full' total).",
            labels=["resource"],
        )
        for p in stalls:
            waiting.add_metric([p.resource], p.some_seconds)
            if p.full_seconds is not None:
                stalled.add_metric([p.resource], p.full_seconds)
        return [waiting, stalled]
