"""Intel/AMD RAPL energy per zone, monotonic across the ``max_energy_range_uj`` wraparound.

node_exporter 1.5 exports ``energy_uj`` raw, so a wrap looks like a counter reset and
``increase()`` loses the energy counted before it. We keep the last raw reading per zone and
add the range at each wrap. Reading and updating happen under one lock, so two concurrent
scrapes cannot see each other's older value and mistake it for a wrap. A wrap is missed only if
the counter wraps twice between two scrapes (about an hour apart at 65 W for a 262 kJ range).
"""

from __future__ import annotations

import threading

from edgemeter.exporter.collectors import families
from edgemeter.exporter.collectors.base import Collector, require
from edgemeter.exporter.config import Config
from edgemeter.exporter.metric_family import Family
from edgemeter.exporter.sensors.powercap import read_rapl_zones
from edgemeter.exporter.sensors.sysfs import ReadLog

ROOT_ONLY = (
    "RAPL energy_uj is readable only by root on kernels >= 5.10 (CVE-2020-8694): run the exporter as "
    "root, or grant read access (e.g. a udev rule that chmods class/powercap/intel-rapl:*/energy_uj)"
)


class RaplPermissionError(Exception):
    """energy_uj exists but this user may not read it."""


# a step back this small is read jitter (firmware updates the register in chunks), not a wrap or
# a reset: the last value is served again, so the counter never goes down
JITTER_UJ = 1_000_000


class RaplCollector(Collector):
    name = "rapl"
    serves_energy = True
    help = "Intel/AMD RAPL energy per zone (class/powercap/intel-rapl:*)"

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self._lock = threading.Lock()
        self._last: dict[str, int] = {}  # zone -> highest raw energy_uj since the last wrap or reset
        self._offset: dict[str, int] = {}  # zone -> µJ added for wraps so far
        self._top: dict[str, int] = {}  # zone -> max_energy_range_uj last read (it can fail later)

    def update(self, rlog: ReadLog) -> list[Family]:
        with self._lock:
            zones = require(read_rapl_zones(self.config.sysfs, rlog), "no RAPL powercap zones")
            energy = families.energy()
            for z in zones:
                if z.energy_uj is None:
                    continue
                last = self._last.get(z.zone)
                if z.max_energy_range_uj:
                    self._top[z.zone] = z.max_energy_range_uj
                top = self._top.get(z.zone)
                raw = z.energy_uj
                if last is not None and raw < last:
                    if top and last > top // 2 > raw:
                        # a wrap goes from the top half of the range to the bottom half
                        self._offset[z.zone] = self._offset.get(z.zone, 0) + top
                    elif last - raw <= JITTER_UJ:
                        raw = last  # a read a little behind the last one: jitter, never a reset
                    # any other drop is a zone recreated (module reload): served as a counter reset
                self._last[z.zone] = raw
                joules = (raw + self._offset.get(z.zone, 0)) / 1e6
                families.add(energy, joules, rail=z.name, source="rapl", zone=z.zone)
        if not energy.samples and any(p.endswith("/energy_uj") for p in rlog.denied):
            raise RaplPermissionError(ROOT_ONLY)
        return [energy]
