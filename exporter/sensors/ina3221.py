"""Jetson INA3221 rail monitors, both drivers.

- Upstream hwmon driver (Orin, JetPack 5/6): a hwmon chip named ``ina3221`` with ``inK_label``,
  ``inK_input`` (bus mV) and ``currK_input`` (mA) for channels K = 1..3. ``in4..in6`` are the
  shunt voltages in µV and ``in7`` their sum, ``curr4`` the summed current: never rails.
  Channels that are disabled (``inK_enable`` = 0), unlabelled or labelled ``NC`` are not rails.
- Downstream iio driver (Nano, JetPack 4): ``bus/i2c/drivers/ina3221x/*/iio:device*/`` with
  ``rail_name_K``, ``in_powerK_input`` (mW, computed by the chip), ``in_voltageK_input`` (mV)
  and ``in_currentK_input`` (mA), K = 0..2.

Watts on the hwmon driver are volts x amperes, computed here (STYLE §1.4's one exception),
because the integrator needs power to produce joules.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field

from edgemeter.exporter.sensors.power import PowerReading, rail_key
from edgemeter.exporter.sensors.sysfs import ReadLog, list_dir, read_number, read_text

RAIL_CHANNELS = (1, 2, 3)  # the INA3221's three bus channels (hwmon numbering)
NOT_A_RAIL = {"", "NC"}


@dataclass(frozen=True)
class Channel:
    """One rail's files, found once: its values are all a sample reads."""

    rail: str
    extra: tuple[tuple[str, str], ...]
    watts: str | None  # iio: the chip's own mW
    volts: str | None
    amperes: str | None
    key: tuple[tuple[str, str], ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", rail_key(self.rail, "ina3221", self.extra))

    def reading(self, rlog: ReadLog) -> PowerReading | None:
        if self.watts is not None:  # iio: power is required, V and A are extras
            watts = read_number(self.watts, rlog, 0.001)
            if watts is None:
                return None
            volts = read_number(self.volts, rlog, 0.001, required=False) if self.volts else None
            amperes = read_number(self.amperes, rlog, 0.001, required=False) if self.amperes else None
            return PowerReading(self.rail, "ina3221", watts, volts, amperes, self.extra, known_key=self.key)
        volts = read_number(self.volts, rlog, 0.001) if self.volts else None
        amperes = read_number(self.amperes, rlog, 0.001) if self.amperes else None
        if volts is None or amperes is None:
            return None
        return PowerReading(
            self.rail, "ina3221", volts * amperes, volts, amperes, self.extra, known_key=self.key
        )


def _hwmon_channels(sysfs: str, rlog: ReadLog) -> list[Channel] | None:
    base = os.path.join(sysfs, "class", "hwmon")
    chips = list_dir(base)
    if chips is None:
        return None
    found = False
    channels = []
    for chip in chips:
        path = f"{base}/{chip}"
        if read_text(f"{path}/name", rlog) != "ina3221":
            continue
        found = True
        for k in RAIL_CHANNELS:
            label = read_text(f"{path}/in{k}_label", rlog)
            if label is None or label.strip() in NOT_A_RAIL:
                continue
            if read_number(f"{path}/in{k}_enable", rlog, required=False) == 0:
                continue
            extra = (("chip", "ina3221"), ("hwmon", chip))
            channels.append(
                Channel(label.strip(), extra, None, f"{path}/in{k}_input", f"{path}/curr{k}_input")
            )
    return channels if found else None


def _iio_channels(sysfs: str, rlog: ReadLog) -> list[Channel] | None:
    devices = sorted(glob.glob(os.path.join(glob.escape(sysfs), "bus/i2c/drivers/ina3221x/*/iio:device*")))
    if not devices:
        return None
    channels = []
    for path in devices:
        device = os.path.basename(path)
        for k in range(3):
            rail = read_text(f"{path}/rail_name_{k}", rlog)
            if rail is None or rail in NOT_A_RAIL:
                continue
            extra = (("chip", "ina3221x"), ("device", device))
            channels.append(
                Channel(
                    rail,
                    extra,
                    f"{path}/in_power{k}_input",
                    f"{path}/in_voltage{k}_input",
                    f"{path}/in_current{k}_input",
                )
            )
    return channels


def ina3221_channels(sysfs: str, rlog: ReadLog) -> list[Channel] | None:
    """Every INA3221 rail's files on the board; None when the board has no INA3221 (not a Jetson)."""
    hwmon = _hwmon_channels(sysfs, rlog)
    iio = _iio_channels(sysfs, rlog)
    if hwmon is None and iio is None:
        return None
    return (hwmon or []) + (iio or [])


def read_ina3221(sysfs: str, rlog: ReadLog) -> list[PowerReading] | None:
    """Every INA3221 rail's reading now, found and read in one go; None when there is none."""
    channels = ina3221_channels(sysfs, rlog)
    if channels is None:
        return None
    return [r for c in channels if (r := c.reading(rlog)) is not None]
