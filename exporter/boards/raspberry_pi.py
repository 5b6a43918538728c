"""Raspberry Pi (4, 5, Zero 2, CM4/CM5): firmware facts come from ``vcgencmd``.

The firmware caps the ARM clock and records under-voltage without telling cpufreq, and only it
reads the Pi 5 PMIC, so the vcgencmd collectors are on by default here and only here (on a
Pi 4 ``pmic_read_adc`` does not exist: the pmic collector then reports success 0).
"""

from __future__ import annotations

from edgemeter.exporter.sensors.identity import Identity

FAMILY = "raspberry_pi"
DEFAULT_COLLECTORS: dict[str, bool] = {
    "throttled": True,
    "firmware_clock": True,
    "pmic": True,
    "hailo": True,  # the Pi 5 AI Kit; no HailoRT installed: no data, quietly
    "rapl": False,
    "nvml": False,
    "ina3221": False,
    "gpu_load": False,
}


# the PMIC's sum of its rails (the exporter's rail="total"): the SoC and memory, not the USB ports
INPUT_RAILS: tuple[str, ...] = ("total",)


def matches(identity: Identity) -> bool:
    model = identity.model or ""
    return model.startswith("Raspberry Pi") or any(c.startswith("raspberrypi,") for c in identity.compatible)


def soc(identity: Identity) -> str | None:
    """The SoC compatible string, e.g. ``brcm,bcm2712`` (Pi 5)."""
    return identity.compatible[-1] if identity.compatible else None
