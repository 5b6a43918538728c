"""Intel/AMD RAPL energy counters from the powercap class.

Zones ``intel-rapl:N`` (package-N, psys) and subzones ``intel-rapl:N:M`` (core, uncore, dram);
AMD's ``amd-rapl`` where the kernel names it so. ``intel-rapl-mmio:*`` is skipped: it is the
same package energy through a second interface, and counting it would double the package.
``energy_uj`` wraps at ``max_energy_range_uj``; the collector makes it monotonic.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from edgemeter.exporter.sensors.sysfs import ReadLog, list_dir, read_number, read_text

ZONE = re.compile(r"^(?:intel|amd)-rapl:\d+(?::\d+)?$")


@dataclass(frozen=True)
class RaplZone:
    zone: str  # powercap id, "intel-rapl:0:1": keeps two sockets' "core" apart
    name: str  # the zone's own name: package-0, core, uncore, dram, psys
    energy_uj: int | None  # None when unreadable (root-only on kernels >= 5.10)
    max_energy_range_uj: int | None


def read_rapl_zones(sysfs: str, rlog: ReadLog) -> list[RaplZone] | None:
    """Every RAPL zone; None when the board has no RAPL (ARM boards, VMs)."""
    base = os.path.join(sysfs, "class", "powercap")
    entries = list_dir(base)
    zones = [e for e in entries or () if ZONE.match(e)]
    if not zones:
        return None
    result = []
    for zone in zones:
        path = f"{base}/{zone}"
        name = read_text(f"{path}/name", rlog, required=True)
        if name is None:
            continue
        energy = read_number(f"{path}/energy_uj", rlog, required=False)
        top = read_number(f"{path}/max_energy_range_uj", rlog, required=False)
        result.append(
            RaplZone(zone, name, None if energy is None else int(energy), None if top is None else int(top))
        )
    return result
