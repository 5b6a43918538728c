"""edge_gpu_utilization_ratio of a Jetson's integrated GPU (nvgpu ``load``, per mille)."""

from __future__ import annotations

from edgemeter.exporter.collectors import families
from edgemeter.exporter.collectors.base import Collector, require
from edgemeter.exporter.metric_family import Family
from edgemeter.exporter.sensors.gpu_load import read_gpu_load
from edgemeter.exporter.sensors.sysfs import ReadLog


class GpuLoadCollector(Collector):
    name = "gpu_load"
    help = "Jetson GPU load (devices/gpu.0/load, devices/platform/*gpu*/load)"

    def update(self, rlog: ReadLog) -> list[Family]:
        if (load := read_gpu_load(self.config.sysfs, rlog)) is None and rlog.errors:
            return []
        load = require(load, "no Jetson GPU load file")
        gauge = families.gpu_utilization()
        families.add(gauge, load, gpu="0", source="nvgpu")
        return [gauge]
