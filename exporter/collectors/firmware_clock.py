"""The ARM clock the Raspberry Pi firmware measures (vcgencmd measure_clock arm).

cpufreq reports what Linux asked for; the firmware lowers the clock on its own when hot or
under-volted, and only this reading shows it. The firmware's own version (``vcgencmd version``)
is asked once, on the same poll thread, for the run manifest (``edge_firmware_info``).
"""

from __future__ import annotations

import logging

from edgemeter.exporter.collectors import families
from edgemeter.exporter.collectors.base import PolledCollector
from edgemeter.exporter.metric_family import Family
from edgemeter.exporter.sensors.sysfs import ReadLog
from edgemeter.exporter.sensors.vcgencmd import VcgencmdError, VcgencmdUnavailable

log = logging.getLogger(__name__)


class FirmwareClockCollector(PolledCollector):
    name = "firmware_clock"
    default_enabled = False  # on by the Raspberry Pi board profile
    help = "ARM clock measured by the Pi firmware (vcgencmd measure_clock arm)"

    _version: tuple[str, str] | None = None  # the firmware's version: asked once, on the poll thread

    def poll(self) -> float:
        if self._version is None:
            try:
                self._version = self.vcgencmd().firmware_version()
            except (VcgencmdError, VcgencmdUnavailable) as exc:
                log.debug("firmware_clock: %s", exc)
                self._version = ("", "")  # asked once; a firmware that cannot say is left unsaid
        return self.vcgencmd().arm_clock_hertz()

    def update(self, rlog: ReadLog) -> list[Family]:
        hertz = self.latest()
        current = families.cpu_frequency()
        families.add(current, hertz, cpu="", source="firmware")
        out: list[Family] = [current]
        if self._version and self._version[0]:
            firmware = families.firmware()
            families.add(firmware, 1, component="videocore", version=self._version[0], built=self._version[1])
            out.append(firmware)
        return out
