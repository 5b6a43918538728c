"""Which temperature readings say how hot the board is: the hottest of them is what the runner's
``--cooldown-to`` waits on and records.

Left out: readings no working sensor gives (outside -40…150 °C: the Orin Nano's fused-off CV
zones read -256 °C) and sensors a board family declares stuck (``STUCK_SENSORS``: the Jetson
Nano's PMIC-Die reads a constant 100 °C, which no cooling ever lowers).
"""

from __future__ import annotations

from collections.abc import Iterable

from edgemeter.exporter.boards.detect import FAMILIES

STUCK = frozenset(sensor for family in FAMILIES for sensor in getattr(family, "STUCK_SENSORS", ()))
PLAUSIBLE = (-40.0, 150.0)


def counts(sensor: str, celsius: float) -> bool:
    return sensor not in STUCK and PLAUSIBLE[0] <= celsius <= PLAUSIBLE[1]


def hottest(readings: Iterable[tuple[str, float]]) -> float | None:
    """The highest reading that counts; None when none does."""
    return max((c for s, c in readings if counts(s, c)), default=None)
