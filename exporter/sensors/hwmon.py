"""Reader for the hwmon class (Documentation/hwmon/sysfs-interface.rst).

A chip's attributes sit in ``class/hwmon/hwmonN/`` or, for older drivers (applesmc), in
``hwmonN/device/``: both are read, as the ABI allows. Only the kinds a caller asks for are
read, and only their ``_input``/``_label`` files (plus ``pwmN`` and ``*_lcrit_alarm``), so a
scrape touches no more files than it serves. Conversion to base units happens here:
temp/in/curr milli, power/energy micro, pwm 0-255 -> 0-1 ratio.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import NamedTuple

from edgemeter.exporter.sensors.sysfs import ReadLog, list_dir, read_number, read_text

# kind -> factor from the kernel's unit to the base unit
SCALE = {
    "temp": 0.001,  # m°C -> °C
    "fan": 1.0,  # rpm
    "in": 0.001,  # mV -> V
    "curr": 0.001,  # mA -> A
    "power": 1e-6,  # µW -> W
    "energy": 1e-6,  # µJ -> J
    "pwm": 1 / 255,  # 0-255 duty -> ratio
}
# One pattern for every attribute we read: kind+index+"_input", "pwmN", "inN_lcrit_alarm", and
# "rpm", the fan speed of NVIDIA's Jetson tachometer driver (pwm-tegra-tachometer), which does
# not follow the fanN_input convention.
_ATTR = re.compile(r"^(?:(temp|fan|in|curr|power|energy)(\d+)_input|pwm(\d+)|in(\d+)_lcrit_alarm|rpm)$")


class Reading(NamedTuple):
    """One hwmon channel's value in base units (a named tuple: a scrape makes one per reading)."""

    channel: str  # "temp2", "fan1", "pwm1", "in0_lcrit_alarm"
    value: float
    label: str | None = None  # the driver's ``<channel>_label`` (for pwmN: fanN's label)
    path: str = ""  # its value file (the C sampler reads it)


@dataclass(frozen=True)
class Chip:
    hwmon: str  # "hwmon2": class-relative name
    name: str  # the driver's ``name``, or the hwmon dir name when the driver gives none
    readings: dict[str, tuple[Reading, ...]]  # kind ("temp", "pwm", "lcrit_alarm", ...) -> readings


def _attribute_dirs(chip_dir: str) -> list[tuple[str, list[str]]]:
    """Where the chip's attributes are: ``hwmonN/`` for drivers registered with groups (they
    always put ``name`` there), else the parent ``device/`` of old drivers (applesmc), which may
    hold ``name`` too. Skipping ``device/`` for new-style chips saves a listdir per chip."""
    own = list_dir(chip_dir)
    if own is None:
        return []
    dirs = [(chip_dir, own)] if own else []
    if "name" not in own:
        device = f"{chip_dir}/device"
        names = list_dir(device)
        if names:
            dirs.append((device, names))
    return dirs


def _classify(entry: str) -> tuple[str, str, str] | None:
    """(kind, channel, label stem) of an attribute file name, or None when we do not read it."""
    m = _ATTR.match(entry)
    if m is None:
        return None
    kind, index, pwm, alarm = m.groups()
    if kind:
        return kind, f"{kind}{index}", f"{kind}{index}"
    if pwm:
        return "pwm", entry, f"fan{pwm}"  # pwmN drives fanN by hwmon convention
    if alarm:
        return "lcrit_alarm", entry, f"in{alarm}"
    return "fan", entry, entry  # Jetson tachometer "rpm"


def _read_chip(hwmon: str, chip_dir: str, kinds: Collection[str], rlog: ReadLog) -> Chip:
    found: dict[str, list[Reading]] = {}
    name: str | None = None
    for path, listing in _attribute_dirs(chip_dir):
        names = set(listing)
        if name is None and "name" in names:
            name = read_text(f"{path}/name", rlog)
        for entry in listing:
            what = _classify(entry)
            if what is None or what[0] not in kinds:
                continue
            kind, channel, label_stem = what
            value = read_number(f"{path}/{entry}", rlog, SCALE.get(kind, 1.0))
            if value is None:
                continue
            label_file = f"{label_stem}_label"
            label = read_text(f"{path}/{label_file}", rlog) if label_file in names else None
            found.setdefault(kind, []).append(Reading(channel, value, label, f"{path}/{entry}"))
    return Chip(hwmon=hwmon, name=name or hwmon, readings={k: tuple(v) for k, v in found.items()})


def read_chips(
    sysfs: str, kinds: Collection[str], rlog: ReadLog, only: Collection[str] | None = None
) -> list[Chip] | None:
    """Every hwmon chip (or those named in ``only``) with the readings of ``kinds``; None when
    the hwmon class is absent or holds no chip (no sensor of this kind, as for thermal zones)."""
    base = os.path.join(sysfs, "class", "hwmon")
    names = list_dir(base) if only is None else sorted(only)
    if names is None:
        return None
    chips = [_read_chip(n, os.path.join(base, n), kinds, rlog) for n in names if n.startswith("hwmon")]
    return chips or None


def update_interval(sysfs: str, chips: Collection[str], rlog: ReadLog) -> float | None:
    """The longest ``update_interval`` (the hwmon ABI's chip attribute, ms) among ``chips``
    ("hwmon2", …), in seconds: how long a reading of theirs may be old. None where none states one."""
    found = [
        read_number(
            os.path.join(sysfs, "class", "hwmon", chip, "update_interval"), rlog, 0.001, required=False
        )
        for chip in sorted(set(chips))
    ]
    known = [v for v in found if v is not None and v > 0]
    return max(known) if known else None
