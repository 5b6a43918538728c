"""The instantaneous power reading every power reader returns (INA3221, hwmon, PMIC, NVML).

One shape for all sources lets one integrator turn any of them into joules, and one base
collector serve ``edge_power_watts``/``edge_voltage_volts``/``edge_current_amperes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PowerReading:
    rail: str  # the rail's own name: VDD_IN, POM_5V_IN, VDD_CORE, gpu0, total
    source: str  # ina3221, pmic, hwmon, nvml
    watts: float | None  # None for a voltage-only channel (Pi 5 EXT5V: no current sense)
    volts: float | None = None
    amperes: float | None = None
    extra: tuple[tuple[str, str], ...] = ()  # more identifying labels (chip, hwmon, channel, gpu)
    integrate: bool = True  # False where the hardware has its own energy counter (NVML Volta+)
    # the rail's identity, computed once by a reader that reads the same rail many times a second
    # (exporter/sensors/ina3221.Channel): the sampler's lookup then costs no sort
    known_key: tuple[tuple[str, str], ...] | None = field(default=None, compare=False, repr=False)

    @property
    def labels(self) -> dict[str, str]:
        return {"rail": self.rail, "source": self.source, **dict(self.extra)}

    @property
    def key(self) -> tuple[tuple[str, str], ...]:
        return self.known_key if self.known_key is not None else rail_key(self.rail, self.source, self.extra)


def rail_key(rail: str, source: str, extra: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """A rail's labels, sorted: the key of its energy counter."""
    return tuple(sorted({"rail": rail, "source": source, **dict(extra)}.items()))
