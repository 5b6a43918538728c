"""hwmon chips: temperatures, fan speeds, fan duty, under-voltage alarms, power and energy.

One collector reads all of them in a single scan of the chips, because each scan costs a
listdir per chip and a file per reading on the board being measured. Power (``power*_input``,
an INA219/INA226 HAT, USB-PD chips) is also read by the power sampler and integrated into
``edge_energy_joules_total``; ``energy*_input`` is the hardware's own counter, served as is.

Labels: ``chip`` is the driver's name (``coretemp``, ``pwmfan``), ``hwmon`` the class-relative
directory (two coretemp packages differ only there), ``channel`` the attribute stem (``temp2``),
and ``sensor``/``fan``/``rail`` the driver's label where it has one, else the channel — so a
user reads "coretemp Core 0", and two channels with the same label stay distinct series.
"""

from __future__ import annotations

import dataclasses
import re
import time

from edgemeter.exporter.collectors import families
from edgemeter.exporter.collectors.base import require
from edgemeter.exporter.collectors.power_base import PowerCollector
from edgemeter.exporter.config import Config
from edgemeter.exporter.metric_family import Family, GaugeFamily
from edgemeter.exporter.native_sampling import FilePlan, PlannedRail
from edgemeter.exporter.sensors.hwmon import SCALE, Chip, Reading, read_chips, update_interval
from edgemeter.exporter.sensors.power import PowerReading
from edgemeter.exporter.sensors.sysfs import ReadLog

KINDS = ("temp", "fan", "pwm", "lcrit_alarm", "power", "energy")
RESCAN = 30.0  # seconds between full scans for the power sampler
SOURCE = "hwmon"


def _kept(chips: list[Chip], config: Config) -> list[Chip]:
    """The chips and readings the hwmon filters let through (a noisy chip dropped by name)."""

    def passes(text: str, include: str | None, exclude: str | None) -> bool:
        return (include is None or re.search(include, text) is not None) and (
            exclude is None or re.search(exclude, text) is None
        )

    c = config
    if (
        c.hwmon_chip_include
        is c.hwmon_chip_exclude
        is c.hwmon_sensor_include
        is c.hwmon_sensor_exclude
        is None
    ):
        return chips
    kept = []
    for chip in chips:
        if not passes(chip.name, c.hwmon_chip_include, c.hwmon_chip_exclude):
            continue
        readings = {
            kind: tuple(
                r
                for r in found
                if passes(f"{chip.name};{r.channel}", c.hwmon_sensor_include, c.hwmon_sensor_exclude)
            )
            for kind, found in chip.readings.items()
        }
        kept.append(dataclasses.replace(chip, readings=readings))
    return kept


def _power_inputs(chips: list[Chip]) -> list[tuple[Reading, PowerReading]]:
    """Each ``power*_input`` with the power reading it gives (its rail's labels)."""
    return [
        (
            r,
            PowerReading(
                r.label or r.channel,
                SOURCE,
                r.value,
                extra=(("chip", c.name), ("hwmon", c.hwmon), ("channel", r.channel)),
            ),
        )
        for c in chips
        for r in c.readings.get("power", ())
    ]


def _power(chips: list[Chip]) -> list[PowerReading]:
    return [reading for _, reading in _power_inputs(chips)]


class HwmonCollector(PowerCollector):
    name = "hwmon"
    help = "hwmon temperatures, fans, fan duty, under-voltage alarms, power and energy (class/hwmon)"

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        # The sampler's 10 Hz read visits only the chips that had power inputs at the last full
        # scan (every RESCAN seconds, or at once when one of them fails), not every chip.
        self._power_chips: tuple[float, tuple[str, ...]] | None = None
        self._interval: float | None = None

    def read_power(self, rlog: ReadLog) -> list[PowerReading]:
        cached, now = self._power_chips, time.monotonic()
        if cached is not None and now - cached[0] < RESCAN:
            errors = len(rlog.errors)
            readings = _power(
                _kept(read_chips(self.config.sysfs, ("power",), rlog, only=cached[1]) or [], self.config)
            )
            if len(rlog.errors) == errors and len({r.labels["hwmon"] for r in readings}) == len(cached[1]):
                return readings
        return _power(self._scan(rlog))

    def _scan(self, rlog: ReadLog) -> list[Chip]:
        """Every chip's power inputs (a full scan), remembering which chips have them."""
        chips = _kept(require(read_chips(self.config.sysfs, ("power",), rlog), "no hwmon class"), self.config)
        self._power_chips = (time.monotonic(), tuple(c.hwmon for c in chips if c.readings.get("power")))
        self._interval = update_interval(self.config.sysfs, self._power_chips[1], rlog)
        return chips

    def file_plan(self, rlog: ReadLog) -> FilePlan:
        """The power inputs found now, as files for the C sampler (µW, as read_number scales them)."""
        inputs = _power_inputs(self._scan(rlog))
        divisor = round(1 / SCALE["power"])
        rails = tuple(PlannedRail(p.key, p.labels, ((i, divisor),)) for i, (_, p) in enumerate(inputs))
        return FilePlan(tuple(r.path for r, _ in inputs), rails)

    def sensor_interval(self) -> float | None:
        return self._interval

    def update(self, rlog: ReadLog) -> list[Family]:
        chips = _kept(require(read_chips(self.config.sysfs, KINDS, rlog), "no hwmon class"), self.config)
        temps, energy = families.temperature(), families.energy()
        rpm, duty = families.fan_speed(), families.fan_duty()
        alarm = GaugeFamily(
            "edge_under_voltage_alarm",
            "1 while a supply voltage is below its critical limit (hwmon in*_lcrit_alarm; rpi_volt on a Pi).",
        )
        for chip in chips:
            name, hwmon, found = chip.name, chip.hwmon, chip.readings
            for r in found.get("temp", ()):
                sensor = r.label or r.channel
                labels = {
                    "sensor": sensor,
                    "source": SOURCE,
                    "channel": r.channel,
                    "chip": name,
                    "hwmon": hwmon,
                }
                temps.add_sample(temps.sample_name, labels, r.value)
            for r in found.get("fan", ()):
                labels = {"fan": r.label or r.channel, "channel": r.channel, "chip": name, "hwmon": hwmon}
                rpm.add_sample(rpm.sample_name, labels, r.value)
            for r in found.get("pwm", ()):
                fan = r.label or "fan" + r.channel[len("pwm") :]
                labels = {"fan": fan, "channel": r.channel, "chip": name, "hwmon": hwmon}
                duty.add_sample(duty.sample_name, labels, r.value)
            for r in found.get("lcrit_alarm", ()):
                alarm.add_sample(
                    alarm.sample_name, {"channel": r.channel, "chip": name, "hwmon": hwmon}, r.value
                )
            for r in found.get("energy", ()):
                rail = r.label or r.channel
                labels = {"rail": rail, "source": SOURCE, "channel": r.channel, "chip": name, "hwmon": hwmon}
                energy.add_sample(energy.sample_name, labels, r.value)
        power = self.power_families(_power(chips))  # watts, then the sampler's integrated energy
        return [temps, rpm, duty, alarm, energy, *power]
