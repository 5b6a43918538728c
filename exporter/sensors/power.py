"""The instantaneous power reading every power reader returns (INA3221, hwmon, PMIC, NVML).

One shape for all sources lets one integrator turn any of them into joules, and one base
collector serve ``edge_power_watts``/``edge_voltage_volts``/``edge_current_amperes``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PowerReading:
    rail: str  # the rail's own name: VDD_IN, POM_5V_IN, VDD_CORE, gpu0, total
    source: str  # ina3221, pmic, hwmon, nvml
    watts: float | None  # None for a voltage-only channel (Pi 5 EXT5V: no current sense)
    volts: float | None = None
    amperes: float | None = None
    extra: tuple[tuple[str, str], ...] = ()  # more identifying labels (chip, hwmon, channel, gpu)
    integrate: bool = True  # False where the hardware has its own energy counter (NVML Volta+)

    @property
    def labels(self) -> dict[str, str]:
        return {"rail": self.rail, "source": self.source, **dict(self.extra)}

    @property
    def key(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(self.labels.items()))
