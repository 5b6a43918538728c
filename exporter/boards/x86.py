"""x86 laptops, desktops and servers: identified by DMI, with RAPL, coretemp and NVML."""

from __future__ import annotations

from edgemeter.exporter.sensors.identity import Identity

FAMILY = "x86"
DEFAULT_COLLECTORS: dict[str, bool] = {"ina3221": False, "gpu_load": False}
# RAPL's psys is the whole platform (laptops); packages and DRAM are parts of it, not the board
INPUT_RAILS: tuple[str, ...] = ("psys",)


def matches(identity: Identity) -> bool:
    return identity.has_dmi and not identity.compatible


def soc(identity: Identity) -> str | None:
    """The CPU model name from /proc/cpuinfo."""
    return identity.cpu_model
