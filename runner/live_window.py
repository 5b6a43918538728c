"""The energy of a window measured as it happens (``runner wrap``, ``edgemeter.span()``): the
exporter's counters read at its start and at its end, as for a prompt.

Counters serve energy up to the instant of the request (runner/exporter_client.py), so two
reads give the window's energy on every rail, hardware counters (RAPL, NVML) included, with no
wait for samples. The energy reported is the chosen rail's: ``rail`` (``A+B`` sums) or the
board's input rail; every rail's is kept in ``energy_by_rail``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from edgemeter.exporter.boards import rails as board_rails
from edgemeter.runner.exporter_client import ExporterClient, ExporterPage, window


@dataclass(frozen=True)
class Edge:
    """One read of the exporter and the wall-clock span of its request."""

    page: ExporterPage
    began: float
    ended: float


def edge(client: ExporterClient) -> Edge:
    """Read the exporter now (raises ExporterError)."""
    began = time.time()
    page = client.read()
    return Edge(page, began, time.time())


@dataclass(frozen=True)
class LiveEnergy:
    joules: float | None
    rail: str | None
    by_rail: dict[str, float] = field(default_factory=dict)
    note: str | None = None  # why ``joules`` is empty


def energy_between(before: Edge, after: Edge, rail: str | None) -> LiveEnergy:
    """The energy on ``rail`` (or the board's input rail) between two reads."""
    by_rail = window(before.page.energy, after.page.energy)
    if not by_rail:
        return LiveEnergy(None, None, {}, "the exporter has no energy counter on this board")
    if rail is not None:
        complaint = board_rails.unknown(rail, by_rail, "the exporter's board")
        if complaint:
            return LiveEnergy(None, None, by_rail, complaint)
    chosen = rail or board_rails.pick(after.page.input_rail_candidates, by_rail)
    if chosen is None:
        rails = ", ".join(sorted(by_rail))
        return LiveEnergy(
            None, None, by_rail, f"no input rail on this board (rails: {rails}; choose one with a rail)"
        )
    return LiveEnergy(board_rails.total(chosen, by_rail), chosen, by_rail)
