"""edge_throttled{condition,window}: the Pi firmware's throttling flags, from the firmware
driver's sysfs ``get_throttled`` where the kernel has it (no fork), else ``vcgencmd get_throttled``.

Exactly eight series: four conditions (under_voltage, frequency_capped, throttled,
soft_temperature_limit), each ``now`` (bits 0-3) and ``since_boot`` (bits 16-19).
"""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily, Metric

from edgemeter.exporter.collectors.base import Collector
from edgemeter.exporter.sensors.sysfs import ReadLog
from edgemeter.exporter.sensors.vcgencmd import THROTTLE_BITS, read_throttled_sysfs


class ThrottledCollector(Collector):
    name = "throttled"
    waits_on_process = True
    default_enabled = False  # on by the Raspberry Pi board profile
    help = "Pi firmware throttling and under-voltage flags (vcgencmd get_throttled)"

    def update(self, rlog: ReadLog) -> list[Metric]:
        state = read_throttled_sysfs(self.config.sysfs, rlog)
        if state is None:
            state = self.vcgencmd().throttled()
        flags = GaugeMetricFamily(
            "edge_throttled",
            "Firmware throttling flag, 0/1 (get_throttled bits 0-3 now, 16-19 since boot; the firmware "
            "driver's sysfs attribute, else vcgencmd).",
            labels=["condition", "window"],
        )
        for condition in THROTTLE_BITS:
            flags.add_metric([condition, "now"], state.flag(condition, since_boot=False))
            flags.add_metric([condition, "since_boot"], state.flag(condition, since_boot=True))
        return [flags]
