"""Thermal cooling devices' state: fans with discrete levels (Pi 5 pwm-fan 0-4), CPU caps.

The Pi 5 fan's tachometer is known to read 0 rpm at mid duty, so its cooling state is the
reliable "how hard is the fan working" signal.
"""

from __future__ import annotations

from edgemeter.exporter.collectors.base import Collector, require
from edgemeter.exporter.metric_family import Family, GaugeFamily
from edgemeter.exporter.sensors.sysfs import ReadLog
from edgemeter.exporter.sensors.thermal import read_cooling_devices


class CoolingDeviceCollector(Collector):
    name = "cooling_device"
    help = "Cooling device states (class/thermal/cooling_device*)"

    def update(self, rlog: ReadLog) -> list[Family]:
        devices = require(read_cooling_devices(self.config.sysfs, rlog), "no thermal class")
        labels = ["device", "device_type"]
        cur = GaugeFamily(
            "edge_cooling_state",
            "Current cooling level (class/thermal/cooling_device*/cur_state).",
            labels=labels,
        )
        top = GaugeFamily(
            "edge_cooling_max_state",
            "Highest cooling level (class/thermal/cooling_device*/max_state).",
            labels=labels,
        )
        for d in devices:
            cur.add_metric([d.device, d.type], d.cur_state)
            top.add_metric([d.device, d.type], d.max_state)
        return [cur, top]
