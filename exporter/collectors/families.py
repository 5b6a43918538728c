"""Contract metric families that more than one collector fills (one name, one HELP).

``edge_temperature_celsius`` comes from thermal zones and hwmon chips, and
``edge_cpu_frequency_hertz`` from cpufreq and the Pi firmware; the registry merges families of
the same name, so their HELP text must be defined once, here.
"""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily, Metric


def temperature() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "edge_temperature_celsius",
        "Temperature: thermal zones (class/thermal/thermal_zone*/temp, source=thermal_zone, sensor=type) "
        "and hwmon chips (temp*_input, source=hwmon, sensor=label or channel).",
    )


def cpu_frequency() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "edge_cpu_frequency_hertz",
        "Current CPU frequency: cpufreq scaling_cur_freq per cpu (source=cpufreq), or the clock the "
        "Raspberry Pi firmware measures on the ARM cores, which cpufreq cannot see throttled "
        "(vcgencmd measure_clock arm, source=firmware, cpu empty: one clock for all cores).",
    )


def add(family: Metric, value: float, **labels: str) -> None:
    """Add one sample with its own label set (families merged across collectors differ in labels)."""
    family.add_sample(family.name, labels, value)
