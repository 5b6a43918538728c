"""Readers for the thermal class: thermal zones and cooling devices.

Zone temperatures are m°C in the kernel and leave here in °C. Only ``type`` and ``temp`` are
read: they are all a scrape serves, and every extra file is a syscall on the measured board.
Disabled zones whose driver answers EINVAL/ENODATA on ``temp`` (common on Jetson cv zones) are
dropped and counted as read errors by the shared rules; reported sentinel values such as
-256 °C are exported as the kernel gives them (STYLE §1.4: no fixing).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from edgemeter.exporter.sensors.sysfs import ReadLog, list_dir, read_number, read_text


@dataclass(frozen=True)
class ThermalZone:
    zone: str  # "0" for thermal_zone0: class-relative, stable within a boot
    type: str
    celsius: float


@dataclass(frozen=True)
class CoolingDevice:
    device: str  # "cooling_device0"
    type: str
    cur_state: float
    max_state: float


def _class_dir(sysfs: str) -> str:
    return os.path.join(sysfs, "class", "thermal")


def read_thermal_zones(sysfs: str, rlog: ReadLog) -> list[ThermalZone] | None:
    """Every ``thermal_zone*``; None when the thermal class is absent or has no zone (NoData)."""
    base = _class_dir(sysfs)
    names = list_dir(base)
    if names is None:
        return None
    names = [n for n in names if n.startswith("thermal_zone")]
    if not names:
        return None  # the class without zones (cooling devices only): no sensor of this kind
    zones = []
    for name in names:
        path = f"{base}/{name}"
        kind = read_text(f"{path}/type", rlog, required=True)
        celsius = read_number(f"{path}/temp", rlog, 0.001)
        if kind is None or celsius is None:
            continue
        zones.append(ThermalZone(zone=name[len("thermal_zone") :], type=kind, celsius=celsius))
    return zones


def read_cooling_devices(sysfs: str, rlog: ReadLog) -> list[CoolingDevice] | None:
    """Every ``cooling_device*`` (fans, CPU frequency caps, power clamps) with its state range."""
    base = _class_dir(sysfs)
    names = list_dir(base)
    if names is None:
        return None
    names = [n for n in names if n.startswith("cooling_device")]
    if not names:
        return None  # the class without cooling devices: no sensor of this kind
    devices = []
    for name in names:
        path = f"{base}/{name}"
        kind = read_text(f"{path}/type", rlog, required=True)
        cur = read_number(f"{path}/cur_state", rlog)
        top = read_number(f"{path}/max_state", rlog)
        if kind is None or cur is None or top is None:
            continue
        devices.append(CoolingDevice(device=name, type=kind, cur_state=cur, max_state=top))
    return devices
