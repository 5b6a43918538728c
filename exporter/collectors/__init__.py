"""Every collector, by name: the CLI derives ``--collector.NAME``/``--no-collector.NAME`` from it."""

from __future__ import annotations

from edgemeter.exporter.collectors.base import Collector
from edgemeter.exporter.collectors.board_info import BoardInfoCollector
from edgemeter.exporter.collectors.cooling_device import CoolingDeviceCollector
from edgemeter.exporter.collectors.cpu import CpuCollector
from edgemeter.exporter.collectors.cpufreq import CpufreqCollector
from edgemeter.exporter.collectors.firmware_clock import FirmwareClockCollector
from edgemeter.exporter.collectors.gpu_load import GpuLoadCollector
from edgemeter.exporter.collectors.hailo import HailoCollector
from edgemeter.exporter.collectors.hwmon import HwmonCollector
from edgemeter.exporter.collectors.ina3221 import Ina3221Collector
from edgemeter.exporter.collectors.jetson import JetsonCollector
from edgemeter.exporter.collectors.loadavg import LoadavgCollector
from edgemeter.exporter.collectors.meminfo import MeminfoCollector
from edgemeter.exporter.collectors.nvml import NvmlCollector
from edgemeter.exporter.collectors.pmic import PmicCollector
from edgemeter.exporter.collectors.pressure import PressureCollector
from edgemeter.exporter.collectors.process import ProcessCollector
from edgemeter.exporter.collectors.rapl import RaplCollector
from edgemeter.exporter.collectors.thermal_zone import ThermalZoneCollector
from edgemeter.exporter.collectors.throttled import ThrottledCollector

COLLECTORS: dict[str, type[Collector]] = {
    c.name: c
    for c in (
        BoardInfoCollector,
        CpuCollector,
        CpufreqCollector,
        FirmwareClockCollector,
        MeminfoCollector,
        ThermalZoneCollector,
        CoolingDeviceCollector,
        HwmonCollector,
        ThrottledCollector,
        LoadavgCollector,
        PressureCollector,
        ProcessCollector,
        Ina3221Collector,
        RaplCollector,
        PmicCollector,
        NvmlCollector,
        GpuLoadCollector,
        JetsonCollector,
        HailoCollector,
    )
}

# what a prompt's edge read needs: the energy counters, the board with its input-rail candidates,
# and the firmware's throttling flags (a file read: the runner's per-prompt throttled)
# The collectors that serve ``edge_energy_joules_total``; each labels its counters with its own
# name as ``source`` (the runner narrows its edge reads to those that served one: exporter_client)
ENERGY_COLLECTORS = tuple(name for name, c in COLLECTORS.items() if c.serves_energy)
EDGE_READ = ("board_info", "throttled", *ENERGY_COLLECTORS)
THROTTLE_READ = ("throttled",)  # what the runner polls during a prompt
TEMPERATURE_READ = ("thermal_zone", "hwmon", "nvml", "hailo")  # what --cooldown-to polls
