"""NVIDIA GPUs through NVML (nvidia-ml-py): the one module that touches pynvml.

A failed import (the optional extra ``edgemeter[nvidia]`` not installed) or a failed
``nvmlInit`` (no driver, no GPU) means "no data", decided once and remembered: a board without
a GPU must not pay a library probe, or log an error, at every scrape. A field the GPU does not
support (``NVMLError_NotSupported``: total energy before Volta, clocks on some boards) is
skipped; any other NVML error drops that field and is counted. NVML's units become base units
here: mW -> W, mJ -> J, MHz -> Hz, percent -> ratio.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from edgemeter.exporter.sensors.sysfs import ReadLog
from edgemeter.extras import missing

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GpuProcess:
    pid: int
    used_memory_bytes: float | None  # None where the driver does not say (WDDM, MIG)


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str | None
    uuid: str | None
    power_watts: float | None = None  # NVML power usage: a ~1 s average on recent GPUs
    energy_joules: float | None = None  # total energy since the driver loaded (Volta and newer)
    temperature_celsius: float | None = None
    utilization_ratio: float | None = None
    memory_used_bytes: float | None = None
    memory_total_bytes: float | None = None
    sm_clock_hertz: float | None = None
    processes: tuple[GpuProcess, ...] = ()
    has_energy_counter: bool = False  # decided once per GPU: integrate its power only when False


def _import_pynvml() -> ModuleType | None:
    try:
        import pynvml  # optional dependency, imported only here
    except ImportError:
        return None
    return pynvml


class Nvml:
    """Reads every GPU; ``module`` is pynvml, or a stand-in with the same calls in tests."""

    def __init__(
        self, module: ModuleType | Any | None = None, loader: Callable[[], Any] = _import_pynvml
    ) -> None:
        self._module = module
        self._loader = loader
        self._ready: bool | None = None  # None: not tried yet
        self._lock = threading.Lock()
        # gpu index -> has a total-energy counter; decided at the first definite answer and kept,
        # so one failed read can never switch a GPU between counter and integration (two series)
        self._counter: dict[int, bool] = {}

    def _init(self) -> Any | None:
        with self._lock:
            if self._ready is None:
                nv = self._module if self._module is not None else self._loader()
                self._module = nv
                if nv is None:
                    log.debug("NVML: %s", missing("pynvml"))
                    self._ready = False
                else:
                    try:
                        nv.nvmlInit()
                        self._ready = True
                    except nv.NVMLError as exc:
                        log.debug("NVML: no driver or GPU: %s", exc)
                        self._ready = False
            return self._module if self._ready else None

    def read(self, rlog: ReadLog, full: bool = True, processes: bool = False) -> list[Gpu] | None:
        """All GPUs now; None when NVML is not usable on this machine. ``full=False`` reads only
        power and energy (the sampler's 10 Hz read); ``processes`` adds the compute processes.
        A GPU that cannot be read (lost, no permission) is dropped and counted, not the scrape."""
        nv = self._init()
        if nv is None:
            return None
        try:
            count = nv.nvmlDeviceGetCount()
        except nv.NVMLError as exc:
            rlog.error("nvml device count", str(exc))
            return []
        gpus = []
        for i in range(count):
            try:
                gpus.append(self._read_gpu(nv, i, rlog, full, processes))
            except nv.NVMLError as exc:
                rlog.error(f"nvml gpu{i}", str(exc))
        return gpus if count else None

    def _read_gpu(self, nv: Any, index: int, rlog: ReadLog, full: bool, processes: bool) -> Gpu:
        handle = nv.nvmlDeviceGetHandleByIndex(index)
        unsupported: set[str] = set()

        def field(what: str, call: Callable[[], Any], convert: Callable[[Any], Any] = lambda v: v) -> Any:
            try:
                return convert(call())
            except nv.NVMLError as exc:
                if getattr(exc, "value", None) == nv.NVML_ERROR_NOT_SUPPORTED:
                    unsupported.add(what)
                else:
                    rlog.error(f"nvml gpu{index} {what}", str(exc))
                return None

        power = field("power", lambda: nv.nvmlDeviceGetPowerUsage(handle), lambda mw: mw / 1000)
        energy = None
        if self._counter.get(index, True):
            energy = field(
                "energy", lambda: nv.nvmlDeviceGetTotalEnergyConsumption(handle), lambda mj: mj / 1000
            )
            if index not in self._counter and (energy is not None or "energy" in unsupported):
                self._counter[index] = energy is not None
        if not full:
            return Gpu(index, None, None, power, energy, has_energy_counter=self._counter.get(index, True))

        def text(v: Any) -> str:
            return v.decode() if isinstance(v, bytes) else str(v)

        memory = field("memory", lambda: nv.nvmlDeviceGetMemoryInfo(handle))
        procs = (
            field("processes", lambda: nv.nvmlDeviceGetComputeRunningProcesses(handle)) if processes else None
        ) or []
        return Gpu(
            index=index,
            name=field("name", lambda: nv.nvmlDeviceGetName(handle), text),
            uuid=field("uuid", lambda: nv.nvmlDeviceGetUUID(handle), text),
            power_watts=power,
            energy_joules=energy,
            temperature_celsius=field(
                "temperature", lambda: nv.nvmlDeviceGetTemperature(handle, nv.NVML_TEMPERATURE_GPU), float
            ),
            utilization_ratio=field(
                "utilization", lambda: nv.nvmlDeviceGetUtilizationRates(handle), lambda u: u.gpu / 100
            ),
            memory_used_bytes=None if memory is None else float(memory.used),
            memory_total_bytes=None if memory is None else float(memory.total),
            sm_clock_hertz=field(
                "sm clock", lambda: nv.nvmlDeviceGetClockInfo(handle, nv.NVML_CLOCK_SM), lambda mhz: mhz * 1e6
            ),
            processes=tuple(
                GpuProcess(int(p.pid), None if p.usedGpuMemory is None else float(p.usedGpuMemory))
                for p in procs
            ),
            has_energy_counter=self._counter.get(index, True),
        )
