"""The NVML collector through its seam: a stand-in for pynvml with the same calls and errors."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from edgemeter.exporter.collectors.nvml import NvmlCollector
from edgemeter.exporter.exposition import render
from edgemeter.exporter.registry import build_registry
from edgemeter.exporter.sensors.nvml import Nvml
from edgemeter.exporter.sensors.sysfs import ReadLog

from conftest import board_config
from helpers import samples, select, value


class NVMLError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(f"NVML error {value}")
        self.value = value


class FakeNvml:
    """Two GPUs: an H100-like one with a total-energy counter and a Pascal-like one without."""

    NVMLError = NVMLError
    NVML_ERROR_NOT_SUPPORTED = 3
    NVML_ERROR_UNKNOWN = 999
    NVML_TEMPERATURE_GPU = 0
    NVML_CLOCK_SM = 1

    def __init__(self, gpus: list[dict], init_error: int | None = None) -> None:
        self.gpus = gpus
        self.init_error = init_error
        self.inits = 0

    def nvmlInit(self) -> None:
        self.inits += 1
        if self.init_error is not None:
            raise NVMLError(self.init_error)

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, i: int) -> dict:
        return self.gpus[i]

    def _get(self, handle: dict, key: str):
        v = handle.get(key)
        if isinstance(v, NVMLError):
            raise v
        if v is None:
            raise NVMLError(self.NVML_ERROR_NOT_SUPPORTED)
        return v

    def nvmlDeviceGetName(self, h):
        return self._get(h, "name")

    def nvmlDeviceGetUUID(self, h):
        return self._get(h, "uuid")

    def nvmlDeviceGetPowerUsage(self, h):
        return self._get(h, "power_mw")

    def nvmlDeviceGetTotalEnergyConsumption(self, h):
        return self._get(h, "energy_mj")

    def nvmlDeviceGetTemperature(self, h, sensor):
        return self._get(h, "temp")

    def nvmlDeviceGetUtilizationRates(self, h):
        return SimpleNamespace(gpu=self._get(h, "util"), memory=0)

    def nvmlDeviceGetMemoryInfo(self, h):
        return SimpleNamespace(used=self._get(h, "mem_used"), total=self._get(h, "mem_total"), free=0)

    def nvmlDeviceGetClockInfo(self, h, clock):
        return self._get(h, "sm_mhz")

    def nvmlDeviceGetComputeRunningProcesses(self, h):
        return [SimpleNamespace(pid=pid, usedGpuMemory=mem) for pid, mem in self._get(h, "procs")]


def gpus() -> list[dict]:
    return [
        {
            "name": b"NVIDIA H100 80GB HBM3",
            "uuid": "GPU-aaaa",
            "power_mw": 72500,
            "energy_mj": 987654321,
            "temp": 34,
            "util": 87,
            "mem_used": 2 * 1024**3,
            "mem_total": 80 * 1024**3,
            "sm_mhz": 1980,
            "procs": [(812, 1024**3), (901, 512 * 1024**2)],
        },
        {
            "name": "Quadro P2000",
            "uuid": "GPU-bbbb",
            "power_mw": 18250,
            "energy_mj": None,
            "temp": 41,
            "util": 5,
            "mem_used": 100 * 1024**2,
            "mem_total": 5 * 1024**3,
            "sm_mhz": None,
            "procs": [],
        },
    ]


def test_gpu_metrics_in_base_units(pi5) -> None:
    """pi5's procfs has pid 812 = ollama and 901 = llama-server: their GPU memory is summed per pattern."""
    collector = NvmlCollector(board_config(pi5), Nvml(FakeNvml(gpus())))
    data = samples(render(build_registry([collector])).decode())
    assert value(data, "edge_collector_success", collector="nvml") == 1
    assert value(data, "edge_power_watts", rail="gpu0", source="nvml") == 72.5
    assert value(data, "edge_energy_joules_total", rail="gpu0", source="nvml") == 987654.321
    assert select(data, "edge_energy_joules_total", rail="gpu1") == {}  # Pascal: no counter here
    assert value(data, "edge_temperature_celsius", sensor="gpu0", source="nvml") == 34
    assert value(data, "edge_gpu_utilization_ratio", gpu="0") == 0.87
    assert value(data, "edge_gpu_memory_used_bytes", gpu="0") == 2 * 1024**3
    assert value(data, "edge_gpu_memory_total_bytes", gpu="1") == 5 * 1024**3
    assert value(data, "edge_gpu_frequency_hertz", gpu="0") == 1.98e9
    assert select(data, "edge_gpu_frequency_hertz", gpu="1") == {}  # not supported: skipped
    assert value(data, "edge_gpu_info", gpu="0", uuid="GPU-aaaa") == 1
    assert ("name", "NVIDIA H100 80GB HBM3") in next(iter(select(data, "edge_gpu_info", gpu="0")))
    assert value(data, "edge_process_gpu_memory_bytes", process="ollama") == 1024**3
    assert value(data, "edge_process_gpu_memory_bytes", process="llama") == 0.5 * 1024**3  # not ollama's


def test_only_gpus_without_an_energy_counter_are_integrated(pi5) -> None:
    collector = NvmlCollector(board_config(pi5), Nvml(FakeNvml(gpus())))
    readings = collector.read_power(ReadLog())
    assert [(r.rail, r.integrate) for r in readings] == [("gpu0", False), ("gpu1", True)]


def test_unsupported_is_skipped_other_errors_are_counted(pi5) -> None:
    broken = gpus()
    broken[0]["temp"] = NVMLError(FakeNvml.NVML_ERROR_UNKNOWN)
    rlog = ReadLog()
    read = Nvml(FakeNvml(broken)).read(rlog)
    assert read[0].temperature_celsius is None and read[1].sm_clock_hertz is None
    assert len(rlog.errors) == 1 and "temperature" in rlog.errors[0]


@pytest.mark.parametrize("module", [None, FakeNvml([], init_error=12), FakeNvml([])])
def test_no_library_no_driver_or_no_gpu_is_no_data_decided_once(module) -> None:
    loads = []

    def loader():
        loads.append(1)
        return module

    nvml = Nvml(loader=loader)
    for _ in range(3):
        rlog = ReadLog()
        assert nvml.read(rlog) is None
        assert rlog.errors == []
    assert len(loads) == 1
    if module is not None:
        assert module.inits == 1
