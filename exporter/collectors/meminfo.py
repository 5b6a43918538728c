"""Memory and swap from /proc/meminfo, in bytes; a field the kernel lacks is simply absent."""

from __future__ import annotations

from edgemeter.exporter.collectors.base import Collector, require
from edgemeter.exporter.metric_family import Family, GaugeFamily
from edgemeter.exporter.sensors.procfs import read_meminfo
from edgemeter.exporter.sensors.sysfs import ReadLog

# meminfo field -> metric name (contract names first)
FIELDS = {
    "MemTotal": "edge_memory_total_bytes",
    "MemAvailable": "edge_memory_available_bytes",
    "MemFree": "edge_memory_free_bytes",
    "Buffers": "edge_memory_buffers_bytes",
    "Cached": "edge_memory_cached_bytes",
    "SwapTotal": "edge_swap_total_bytes",
    "SwapFree": "edge_swap_free_bytes",
    "SwapCached": "edge_swap_cached_bytes",
}


class MeminfoCollector(Collector):
    name = "meminfo"
    help = "Memory and swap (/proc/meminfo)"

    def update(self, rlog: ReadLog) -> list[Family]:
        info = require(read_meminfo(self.config.procfs, rlog, FIELDS), "no /proc/meminfo")
        out: list[Family] = []
        for field, metric in FIELDS.items():
            if field in info:
                family = GaugeFamily(metric, f"{field} from /proc/meminfo, in bytes.")
                family.add_metric([], info[field])
                out.append(family)
        return out
