"""edge_temperature_celsius{source="thermal_zone"}: every thermal zone, labelled by its type."""

from __future__ import annotations

from edgemeter.exporter.collectors import families
from edgemeter.exporter.collectors.base import Collector, require
from edgemeter.exporter.metric_family import Family
from edgemeter.exporter.sensors.sysfs import ReadLog
from edgemeter.exporter.sensors.thermal import read_thermal_zones


class ThermalZoneCollector(Collector):
    name = "thermal_zone"
    help = "Thermal zone temperatures (class/thermal/thermal_zone*)"

    def update(self, rlog: ReadLog) -> list[Family]:
        zones = require(read_thermal_zones(self.config.sysfs, rlog), "no thermal class")
        temps = families.temperature()
        for z in zones:
            families.add(temps, z.celsius, sensor=z.type, source="thermal_zone", zone=z.zone)
        return [temps]
