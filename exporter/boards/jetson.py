"""NVIDIA Jetson (Nano, Xavier, Orin): Tegra SoCs with INA3221 rail monitors.

Rails: Orin Nano/NX ``VDD_IN`` is the module input (the whole-board figure), ``VDD_CPU_GPU_CV``
and ``VDD_SOC`` are sub-rails of it; the Nano's ``POM_5V_IN`` is its input. AGX Orin has no
input rail on its INA3221s, so no total is invented for it.
"""

from __future__ import annotations

from edgemeter.exporter.sensors.identity import Identity

FAMILY = "jetson"
DEFAULT_COLLECTORS: dict[str, bool] = {"rapl": False, "nvml": False, "jetson": True}
# Orin Nano/NX's VDD_IN and the Nano's POM_5V_IN measure the module's input; AGX Orin has neither
# (its INA3221 rails are sub-rails), so it has no input rail
INPUT_RAILS: tuple[str, ...] = ("VDD_IN", "POM_5V_IN")
# the Nano's PMIC-Die zone reads a constant 100 °C: not a temperature a cooldown can wait on
STUCK_SENSORS: tuple[str, ...] = ("PMIC-Die",)


def matches(identity: Identity) -> bool:
    return any(c.startswith("nvidia,tegra") for c in identity.compatible) or "Jetson" in (
        identity.model or ""
    )


def soc(identity: Identity) -> str | None:
    """The Tegra compatible, e.g. ``nvidia,tegra234`` (Orin) or ``nvidia,tegra210`` (Nano)."""
    return next((c for c in identity.compatible if c.startswith("nvidia,tegra")), None)
