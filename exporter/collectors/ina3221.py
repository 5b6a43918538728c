"""Jetson INA3221 rails: power, voltage and current per rail, plus integrated energy."""

from __future__ import annotations

from edgemeter.exporter.collectors.base import require
from edgemeter.exporter.collectors.power_base import PowerCollector
from edgemeter.exporter.sensors.ina3221 import read_ina3221
from edgemeter.exporter.sensors.power import PowerReading
from edgemeter.exporter.sensors.sysfs import ReadLog


class Ina3221Collector(PowerCollector):
    name = "ina3221"
    help = "Jetson INA3221 rail power (hwmon ina3221, iio ina3221x)"

    def read_power(self, rlog: ReadLog) -> list[PowerReading]:
        return require(read_ina3221(self.config.sysfs, rlog), "no INA3221")
