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

from edgemeter.exporter.sensors.power import PowerReading
from edgemeter.exporter.sensors.sysfs import ReadLog, list_dir, read_number, read_text

RAIL_CHANNELS = (1, 2, 3)  # the INA3221's three bus channels (hwmon numbering)
NOT_A_RAIL = {"", "NC"}


def _hwmon_rails(sysfs: str, rlog: ReadLog) -> list[PowerReading] | None:
    base = os.path.join(sysfs, "class", "hwmon")
    chips = list_dir(base)
    if chips is None:
        return None
    found = False
    readings = []
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
            volts = read_number(f"{path}/in{k}_input", rlog, 0.001)
            amperes = read_number(f"{path}/curr{k}_input", rlog, 0.001)
            if volts is None or amperes is None:
                continue
            extra = (("chip", "ina3221"), ("hwmon", chip))
            readings.append(PowerReading(label.strip(), "ina3221", volts * amperes, volts, amperes, extra))
    return readings if found else None


def _iio_rails(sysfs: str, rlog: ReadLog) -> list[PowerReading] | None:
    devices = sorted(glob.glob(os.path.join(glob.escape(sysfs), "bus/i2c/drivers/ina3221x/*/iio:device*")))
    if not devices:
        return None
    readings = []
    for path in devices:
        device = os.path.basename(path)
        for k in range(3):
            rail = read_text(f"{path}/rail_name_{k}", rlog)
            if rail is None or rail in NOT_A_RAIL:
                continue
            watts = read_number(f"{path}/in_power{k}_input", rlog, 0.001)
            if watts is None:
                continue
            volts = read_number(f"{path}/in_voltage{k}_input", rlog, 0.001, required=False)
            amperes = read_number(f"{path}/in_current{k}_input", rlog, 0.001, required=False)
            extra = (("chip", "ina3221x"), ("device", device))
            readings.append(PowerReading(rail, "ina3221", watts, volts, amperes, extra))
    return readings


def read_ina3221(sysfs: str, rlog: ReadLog) -> list[PowerReading] | None:
    """Every INA3221 rail on the board; None when the board has no INA3221 (not a Jetson)."""
    hwmon = _hwmon_rails(sysfs, rlog)
    iio = _iio_rails(sysfs, rlog)
    if hwmon is None and iio is None:
        return None
    return (hwmon or []) + (iio or [])
