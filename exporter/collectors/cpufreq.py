"""CPU frequency per cpu from cpufreq: current, hardware limits and policy limits."""

from __future__ import annotations

from edgemeter.exporter.collectors import families
from edgemeter.exporter.collectors.base import Collector, require
from edgemeter.exporter.metric_family import Family, GaugeFamily
from edgemeter.exporter.sensors.cpufreq import read_cpu_frequencies
from edgemeter.exporter.sensors.sysfs import ReadLog

# dataclass field -> (metric, HELP)
_LIMITS = {
    "max_hertz": (
        "edge_cpu_frequency_max_hertz",
        "Hardware maximum CPU frequency (cpufreq cpuinfo_max_freq).",
    ),
    "min_hertz": (
        "edge_cpu_frequency_min_hertz",
        "Hardware minimum CPU frequency (cpufreq cpuinfo_min_freq).",
    ),
    "scaling_max_hertz": (
        "edge_cpu_scaling_frequency_max_hertz",
        "Policy cap on CPU frequency set by the user or a thermal governor (cpufreq scaling_max_freq).",
    ),
    "scaling_min_hertz": (
        "edge_cpu_scaling_frequency_min_hertz",
        "Policy floor on CPU frequency (cpufreq scaling_min_freq).",
    ),
}


class CpufreqCollector(Collector):
    name = "cpufreq"
    help = "CPU frequency per cpu (devices/system/cpu/cpufreq)"

    def update(self, rlog: ReadLog) -> list[Family]:
        freqs = require(read_cpu_frequencies(self.config.sysfs, rlog), "no cpufreq")
        current = families.cpu_frequency()
        limits = {k: GaugeFamily(name, text, labels=["cpu"]) for k, (name, text) in _LIMITS.items()}
        governors = GaugeFamily(
            "edge_cpu_governor_info",
            "The cpu's cpufreq governor (scaling_governor), always 1.",
            labels=["cpu", "governor"],
        )
        for f in freqs:
            if f.current_hertz is not None:
                families.add(current, f.current_hertz, cpu=f.cpu, source="cpufreq")
            for field, family in limits.items():
                value = getattr(f, field)
                if value is not None:
                    family.add_metric([f.cpu], value)
            if f.governor:
                governors.add_metric([f.cpu, f.governor], 1)
        return [current, *limits.values(), governors]
