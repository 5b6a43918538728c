"""Generic hwmon power and energy: ``power*_input`` (µW) as watts, integrated by the sampler,
and ``energy*_input`` (µJ) as the hardware's own energy counter (amd_energy, some PMBus and
USB-PD chips). ``rail`` is the channel's label, else the channel (``power1``)."""

from __future__ import annotations

from prometheus_client.core import Metric

from exporter.collectors import families
from exporter.collectors.base import NoData, require
from exporter.collectors.power_base import PowerCollector
from exporter.sensors.hwmon import read_chips
from exporter.sensors.power import PowerReading
from exporter.sensors.sysfs import ReadLog

SOURCE = "hwmon"


class HwmonPowerCollector(PowerCollector):
    name = "hwmon_power"
    help = "hwmon power*_input and energy*_input (class/hwmon)"

    def read_power(self, rlog: ReadLog) -> list[PowerReading]:
        chips = require(read_chips(self.config.sysfs, ("power",), rlog), "no hwmon class")
        return [
            PowerReading(
                r.label or r.channel,
                SOURCE,
                r.value,
                extra=(("chip", chip.name), ("hwmon", chip.hwmon), ("channel", r.channel)),
            )
            for chip in chips
            for r in chip.readings.get("power", ())
        ]

    def update(self, rlog: ReadLog) -> list[Metric]:
        out = super().update(rlog)
        chips = read_chips(self.config.sysfs, ("energy",), rlog) or []
        counters = families.energy()
        for chip in chips:
            for r in chip.readings.get("energy", ()):
                labels = {
                    "rail": r.label or r.channel,
                    "chip": chip.name,
                    "hwmon": chip.hwmon,
                    "channel": r.channel,
                }
                families.add(counters, r.value, source=SOURCE, **labels)
        if not any(f.samples for f in out) and not counters.samples:
            raise NoData("no hwmon power*_input or energy*_input")
        return [*out, counters]
