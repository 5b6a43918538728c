"""Hailo-8/8L NPUs through HailoRT (exporter/sensors/hailo.py): the chip's two temperature
sensors, and its power where the module measures it, integrated into energy like every rail.

HailoRT's calls are firmware control requests (or a ``hailortcli`` fork), too slow for a scrape:
temperature is polled on the Poller's thread, power read by the power sampler at most
``max_sample_hz``; a scrape serves the latest of each. A module without a power sensor is said
once in the log and serves temperature only.
"""

from __future__ import annotations

import logging
import time

from edgemeter.exporter.collectors import families
from edgemeter.exporter.collectors.base import NoData, PolledCollector
from edgemeter.exporter.collectors.power_base import PowerCollector
from edgemeter.exporter.config import Config
from edgemeter.exporter.metric_family import Family
from edgemeter.exporter.sensors.hailo import TIMEOUT, ChipTemperature, HailoError, HailoRT, NoPowerSensor
from edgemeter.exporter.sensors.power import PowerReading
from edgemeter.exporter.sensors.sysfs import ReadLog

log = logging.getLogger(__name__)

SOURCE = "hailo"
RESCAN = 30.0  # seconds between looks for devices where there were none


class HailoCollector(PowerCollector, PolledCollector):
    name = "hailo"
    default_enabled = False  # on by the Raspberry Pi profile (the AI Kit); --collector.hailo elsewhere
    max_sample_hz = 2.0  # each read is a firmware control request (or a hailortcli fork)
    help = "Hailo-8/8L NPU chip temperature and power (HailoRT Python API or hailortcli)"

    @property
    def poll_timeout(self) -> float:
        return TIMEOUT

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self._hailo: HailoRT | None = None
        self._found: tuple[float, list[str]] | None = None
        self._no_power: set[str] = set()

    def _devices(self) -> list[str]:
        if self._hailo is None:
            self._hailo = HailoRT(self.config.hailortcli, TIMEOUT)
        found, now = self._found, time.monotonic()
        if found is None or (not found[1] and now - found[0] > RESCAN):
            found = self._found = (now, self._hailo.device_ids())
        if not found[1]:
            raise NoData(f"no Hailo device (HailoRT via {self._hailo.way})")
        return found[1]

    def poll(self) -> list[ChipTemperature]:
        """The Poller's step: every device's chip temperature."""
        devices = self._devices()
        assert self._hailo is not None
        return [self._hailo.temperature(d) for d in devices]

    def read_power(self, rlog: ReadLog) -> list[PowerReading]:
        """The power sampler's step: each device's power, where its module measures it."""
        readings = []
        for device in self._devices():
            if device in self._no_power:
                continue
            assert self._hailo is not None
            try:
                watts = self._hailo.power_watts(device)
            except NoPowerSensor as exc:
                self._no_power.add(device)
                log.info("hailo: %s; serving its temperature only", exc)
                continue
            readings.append(PowerReading("hailo", SOURCE, watts, extra=(("device", device),)))
        if not readings and self._no_power:
            raise NoData("no Hailo power sensor")
        return readings

    def update(self, rlog: ReadLog) -> list[Family]:
        temps = families.temperature()
        out: list[Family] = []
        try:
            for t in self.latest():
                for sensor, value in (("ts0", t.ts0), ("ts1", t.ts1)):
                    families.add(temps, value, sensor=sensor, source=SOURCE, device=t.device)
            out.append(temps)
        except NoData:
            pass  # no temperature way (hailortcli alone): power may still be there
        except HailoError as exc:
            rlog.error(self.name, str(exc))
        try:
            out += super().update(rlog)
        except NoData:
            if not out:
                raise
        return out
