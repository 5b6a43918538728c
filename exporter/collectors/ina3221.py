"""Jetson INA3221 rails: power, voltage and current per rail, plus integrated energy.

The power sampler reads the rails up to ``--sample-hz`` times a second, so the rails' files are
found once (again every ``RESCAN`` seconds, and after any failed read); their value files are
kept open like every attribute (exporter/sensors/sysfs.KeptFiles), so a sample is one ``pread``
per value.
"""

from __future__ import annotations

import time

from edgemeter.exporter.collectors.base import require
from edgemeter.exporter.collectors.power_base import PowerCollector
from edgemeter.exporter.config import Config
from edgemeter.exporter.native_sampling import FilePlan, PlannedRail
from edgemeter.exporter.sensors.hwmon import update_interval
from edgemeter.exporter.sensors.ina3221 import Channel, ina3221_channels
from edgemeter.exporter.sensors.power import PowerReading
from edgemeter.exporter.sensors.sysfs import ReadLog

MILLI = 1000  # the drivers' files are in mV, mA and mW

RESCAN = 30.0  # seconds between searches for the rails (a driver that binds late, a relabel)


class Ina3221Collector(PowerCollector):
    name = "ina3221"
    help = "Jetson INA3221 rail power (hwmon ina3221, iio ina3221x)"

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self._channels: tuple[float, list[Channel]] | None = None
        self._interval: float | None = None

    def sensor_interval(self) -> float | None:
        return self._interval

    def _scan(self, rlog: ReadLog) -> tuple[float, list[Channel]]:
        found = (time.monotonic(), require(ina3221_channels(self.config.sysfs, rlog), "no INA3221"))
        self._channels = found
        chips = {dict(c.extra)["hwmon"] for c in found[1] if "hwmon" in dict(c.extra)}
        self._interval = update_interval(self.config.sysfs, chips, rlog)
        return found

    def file_plan(self, rlog: ReadLog) -> FilePlan:
        """The rails found now, as files for the C sampler: the chip's mW (iio), else mV x mA."""
        paths: list[str] = []
        rails = []
        for c in self._scan(rlog)[1]:
            files = [c.watts] if c.watts is not None else [c.volts, c.amperes]
            if any(f is None for f in files):
                continue
            factors = tuple((len(paths) + i, MILLI) for i in range(len(files)))
            paths.extend(f for f in files if f is not None)
            labels = {"rail": c.rail, "source": "ina3221", **dict(c.extra)}
            rails.append(PlannedRail(c.key, labels, factors))
        return FilePlan(tuple(paths), tuple(rails))

    def read_power(self, rlog: ReadLog) -> list[PowerReading]:
        found = self._channels
        if found is None or time.monotonic() - found[0] > RESCAN:
            found = self._scan(rlog)
        errors = len(rlog.errors)
        readings = [r for c in found[1] if (r := c.reading(rlog)) is not None]
        if len(rlog.errors) > errors:
            self._channels = None  # a rail that failed: search again at the next read
        return readings
