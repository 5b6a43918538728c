"""edge_throttled{condition,window}: the Pi firmware's throttling flags, from the firmware
driver's sysfs ``get_throttled`` where the kernel has it (no fork), else ``vcgencmd get_throttled``.

Exactly eight series: four conditions (under_voltage, frequency_capped, throttled,
soft_temperature_limit), each ``now`` (bits 0-3) and ``since_boot`` (bits 16-19).
"""

from __future__ import annotations

from edgemeter.exporter.collectors.base import NoData, PolledCollector
from edgemeter.exporter.metric_family import Family, GaugeFamily
from edgemeter.exporter.poller import POLL_PERIOD
from edgemeter.exporter.sensors.sysfs import ReadLog
from edgemeter.exporter.sensors.vcgencmd import THROTTLE_BITS, Throttled, read_throttled_sysfs


class ThrottledCollector(PolledCollector):
    name = "throttled"
    default_enabled = False  # on by the Raspberry Pi board profile
    help = "Pi firmware throttling and under-voltage flags (vcgencmd get_throttled)"

    def poll(self) -> Throttled | None:
        """vcgencmd's flags where the kernel has no sysfs attribute; None (no fork) where it has."""
        if read_throttled_sysfs(self.config.sysfs, ReadLog()) is not None:
            return None
        return self.vcgencmd().throttled()

    def update(self, rlog: ReadLog) -> list[Family]:
        state = read_throttled_sysfs(self.config.sysfs, rlog)  # read now: a file, no fork
        if state is None:
            state = self.latest()
            if state is None:  # the attribute went away since the last poll: served next time
                raise NoData("get_throttled: no sysfs attribute and no vcgencmd reading yet")
        flags = GaugeFamily(
            "edge_throttled",
            "Firmware throttling flag, 0/1 (get_throttled bits 0-3 now, 16-19 since boot): the firmware "
            f"driver's sysfs attribute, read at scrape time; else vcgencmd, polled every {POLL_PERIOD:g} s "
            "in the background, at most two periods plus --vcgencmd-timeout old.",
            labels=["condition", "window"],
        )
        for condition in THROTTLE_BITS:
            flags.add_metric([condition, "now"], state.flag(condition, since_boot=False))
            flags.add_metric([condition, "since_boot"], state.flag(condition, since_boot=True))
        return [flags]
