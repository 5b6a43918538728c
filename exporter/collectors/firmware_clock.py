"""The ARM clock the Raspberry Pi firmware measures (vcgencmd measure_clock arm).

cpufreq reports what Linux asked for; the firmware lowers the clock on its own when hot or
under-volted, and only this reading shows it.
"""

from __future__ import annotations

from prometheus_client.core import Metric

from edgemeter.exporter.collectors import families
from edgemeter.exporter.collectors.base import PolledCollector
from edgemeter.exporter.sensors.sysfs import ReadLog


class FirmwareClockCollector(PolledCollector):
    name = "firmware_clock"
    default_enabled = False  # on by the Raspberry Pi board profile
    help = "ARM clock measured by the Pi firmware (vcgencmd measure_clock arm)"

    def poll(self) -> float:
        return self.vcgencmd().arm_clock_hertz()

    def update(self, rlog: ReadLog) -> list[Metric]:
        hertz = self.latest()
        current = families.cpu_frequency()
        families.add(current, hertz, cpu="", source="firmware")
        return [current]
