"""NVIDIA GPUs through NVML: power, energy, temperature, utilization, memory, SM clock, and the
GPU memory of the ``--process`` matches.

Energy: NVML's total-energy counter (Volta and newer) is served as is and preferred — its power
reading is a ~1 s average on recent GPUs and smears short prompts. GPUs without the counter
have their power integrated by the sampler instead (same ``edge_energy_joules_total`` series).
"""

from __future__ import annotations

from edgemeter.exporter.collectors import families
from edgemeter.exporter.collectors.base import require
from edgemeter.exporter.collectors.power_base import PowerCollector
from edgemeter.exporter.config import Config
from edgemeter.exporter.metric_family import Family, GaugeFamily
from edgemeter.exporter.sensors.nvml import Gpu, Nvml
from edgemeter.exporter.sensors.power import PowerReading
from edgemeter.exporter.sensors.process import patterns_of
from edgemeter.exporter.sensors.sysfs import ReadLog

SOURCE = "nvml"


def _gauge(name: str, text: str) -> GaugeFamily:
    return GaugeFamily(name, text)


class NvmlCollector(PowerCollector):
    name = "nvml"
    help = "NVIDIA GPUs through NVML (needs edgemeter[nvidia])"

    def __init__(self, config: Config, nvml: Nvml | None = None) -> None:
        super().__init__(config)
        self.nvml = nvml or Nvml()

    def _gpus(self, rlog: ReadLog, full: bool = True) -> list[Gpu]:
        gpus = self.nvml.read(rlog, full=full, processes=full and bool(self.config.processes))
        return require(gpus, "no NVML or no NVIDIA GPU")

    @staticmethod
    def _power(gpus: list[Gpu]) -> list[PowerReading]:
        return [
            PowerReading(
                f"gpu{g.index}",
                SOURCE,
                g.power_watts,
                extra=(("gpu", str(g.index)),),
                integrate=not g.has_energy_counter,
            )
            for g in gpus
            if g.power_watts is not None
        ]

    def read_power(self, rlog: ReadLog) -> list[PowerReading]:
        return self._power(self._gpus(rlog, full=False))

    def update(self, rlog: ReadLog) -> list[Family]:
        gpus = self._gpus(rlog)
        out = self.power_families(self._power(gpus))
        energy, temps = families.energy(), families.temperature()
        util = families.gpu_utilization()
        used = _gauge("edge_gpu_memory_used_bytes", "GPU memory in use (NVML memory info).")
        total = _gauge("edge_gpu_memory_total_bytes", "GPU memory size (NVML memory info).")
        clock = families.gpu_frequency()
        info = _gauge("edge_gpu_info", "GPU identity, always 1 (NVML name and UUID).")
        proc_mem = GaugeFamily(
            "edge_process_gpu_memory_bytes",
            "GPU memory used by the processes matching each --process pattern (NVML compute processes).",
        )
        by_pattern: dict[str, float] = dict.fromkeys(self.config.processes, 0.0)
        for g in gpus:
            gpu = str(g.index)
            info.add_sample(info.name, {"gpu": gpu, "name": g.name or "", "uuid": g.uuid or ""}, 1)
            if g.energy_joules is not None:
                families.add(energy, g.energy_joules, rail=f"gpu{gpu}", source=SOURCE, gpu=gpu)
            if g.temperature_celsius is not None:
                families.add(temps, g.temperature_celsius, sensor=f"gpu{gpu}", source=SOURCE, gpu=gpu)
            if g.utilization_ratio is not None:
                families.add(util, g.utilization_ratio, gpu=gpu, source=SOURCE)
            for family, value in (
                (used, g.memory_used_bytes),
                (total, g.memory_total_bytes),
                (clock, g.sm_clock_hertz),
            ):
                if value is not None:
                    families.add(family, value, gpu=gpu)
            for p in g.processes:
                for pattern in patterns_of(self.config.procfs, str(p.pid), self.config.processes, rlog):
                    by_pattern[pattern] += p.used_memory_bytes or 0.0
        for pattern, value in by_pattern.items():
            families.add(proc_mem, value, process=pattern)
        return [*out, energy, temps, util, used, total, clock, info, proc_mem]
