"""Raspberry Pi (4, 5, Zero 2, CM4/CM5): firmware facts come from ``vcgencmd``.

The firmware caps the ARM clock and records under-voltage without telling cpufreq, so the
vcgencmd collectors are on by default here and only here.
"""

from __future__ import annotations

from exporter.sensors.identity import Identity

FAMILY = "raspberry_pi"
DEFAULT_COLLECTORS = {"throttled": True, "firmware_clock": True}


def matches(identity: Identity) -> bool:
    model = identity.model or ""
    return model.startswith("Raspberry Pi") or any(c.startswith("raspberrypi,") for c in identity.compatible)


def soc(identity: Identity) -> str | None:
    """The SoC compatible string, e.g. ``brcm,bcm2712`` (Pi 5)."""
    return identity.compatible[-1] if identity.compatible else None
