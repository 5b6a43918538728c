"""Every collector, by name: the CLI derives ``--collector.NAME``/``--no-collector.NAME`` from it."""

from __future__ import annotations

from exporter.collectors.base import Collector
from exporter.collectors.board_info import BoardInfoCollector
from exporter.collectors.cooling_device import CoolingDeviceCollector
from exporter.collectors.cpu import CpuCollector
from exporter.collectors.cpufreq import CpufreqCollector
from exporter.collectors.firmware_clock import FirmwareClockCollector
from exporter.collectors.gpu_load import GpuLoadCollector
from exporter.collectors.hwmon import HwmonCollector
from exporter.collectors.ina3221 import Ina3221Collector
from exporter.collectors.loadavg import LoadavgCollector
from exporter.collectors.meminfo import MeminfoCollector
from exporter.collectors.nvml import NvmlCollector
from exporter.collectors.pmic import PmicCollector
from exporter.collectors.pressure import PressureCollector
from exporter.collectors.process import ProcessCollector
from exporter.collectors.rapl import RaplCollector
from exporter.collectors.thermal_zone import ThermalZoneCollector
from exporter.collectors.throttled import ThrottledCollector

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
    )
}
