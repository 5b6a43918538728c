"""Generic hwmon power and energy: ``power*_input`` (µW) as watts, integrated by the sampler,
and ``energy*_input`` (µJ) as the hardware's own energy counter (amd_energy, some PMBus and
USB-PD chips). ``rail`` is the channel's label, else the channel (``power1``)."""

from __future__ import annotations

from prometheus_client.core import Metric

from exporter.collectors import families
from exporter.collectors.base import NoData, require
from exporter.collectors.power_base import PowerCollector
from exporter.sensors.hwmon import Chip, Reading, read_chips
from exporter.sensors.power import PowerReading
from exporter.sensors.sysfs import ReadLog

SOURCE = "hwmon"


class HwmonPowerCollector(PowerCollector):
    name = "hwmon_power"
    help = "hwmon power*_input and energy*_input (class/hwmon)"

    def _chips(self, kinds: tuple[str, ...], rlog: ReadLog) -> list[Chip]:
        return require(read_chips(self.config.sysfs, kinds, rlog), "no hwmon class")

    @staticmethod
    def _power(chips: list[Chip]) -> list[PowerReading]:
        return [
            PowerReading(r.label or r.channel, SOURCE, r.value, extra=_where(chip, r))
            for chip in chips
            for r in chip.readings.get("power", ())
        ]

    def read_power(self, rlog: ReadLog) -> list[PowerReading]:
        return self._power(self._chips(("power",), rlog))

    def update(self, rlog: ReadLog) -> list[Metric]:
        chips = self._chips(("power", "energy"), rlog)  # one scan of the chips for both
        out = self.power_families(self._power(chips))
        counters = families.energy()
        for chip in chips:
            for r in chip.readings.get("energy", ()):
                families.add(
                    counters, r.value, rail=r.label or r.channel, source=SOURCE, **dict(_where(chip, r))
                )
        if not any(f.samples for f in out) and not counters.samples:
            raise NoData("no hwmon power*_input or energy*_input")
        return [*out, counters]


def _where(chip: Chip, r: Reading) -> tuple[tuple[str, str], ...]:
    return (("chip", chip.name), ("hwmon", chip.hwmon), ("channel", r.channel))
