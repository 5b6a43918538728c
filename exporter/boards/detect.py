"""Pick the board family from the board's identity; unknown boards get family ``generic``."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from edgemeter.exporter.boards import jetson, raspberry_pi, x86
from edgemeter.exporter.sensors.identity import Identity, read_identity
from edgemeter.exporter.sensors.sysfs import ReadLog

FAMILIES: tuple[ModuleType, ...] = (raspberry_pi, jetson, x86)


@dataclass(frozen=True)
class Board:
    family: str
    model: str | None
    soc: str | None
    kernel: str | None
    default_collectors: dict[str, bool]
    input_rails: tuple[str, ...] = ()  # candidates in order (exporter/boards/rails.py)


def board_from(identity: Identity) -> Board:
    for family in FAMILIES:
        if family.matches(identity):
            return Board(
                family.FAMILY,
                identity.model,
                family.soc(identity),
                identity.kernel,
                dict(family.DEFAULT_COLLECTORS),
                tuple(family.INPUT_RAILS),
            )
    soc = identity.compatible[-1] if identity.compatible else identity.cpu_model
    return Board("generic", identity.model, soc, identity.kernel, {})


def detect(sysfs: str, procfs: str, rlog: ReadLog | None = None) -> Board:
    return board_from(read_identity(sysfs, procfs, rlog or ReadLog()))
