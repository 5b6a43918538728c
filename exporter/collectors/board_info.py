"""edge_board_info: which board this is, for dashboards' board variables and joins."""

from __future__ import annotations

from edgemeter.exporter.boards.detect import Board, detect
from edgemeter.exporter.collectors.base import Collector
from edgemeter.exporter.metric_family import Family, GaugeFamily
from edgemeter.exporter.sensors.sysfs import ReadLog


class BoardInfoCollector(Collector):
    name = "board_info"
    help = "Board family, model, SoC and kernel (device tree, DMI, osrelease)"

    _board: Board | None = None  # read whole once: a board's identity does not change while it runs

    def update(self, rlog: ReadLog) -> list[Family]:
        board = self._board
        if board is None:
            errors = len(rlog.errors)
            board = detect(self.config.sysfs, self.config.procfs, rlog)
            if len(rlog.errors) == errors:
                self._board = board
        info = GaugeFamily(
            "edge_board_info",
            "Board identity, always 1: model from /proc/device-tree/model or DMI product_name, SoC from "
            "device-tree compatible or cpuinfo, kernel from osrelease.",
            labels=["family", "model", "soc", "kernel"],
        )
        info.add_metric([board.family, board.model or "", board.soc or "", board.kernel or ""], 1)
        rails = GaugeFamily(
            "edge_board_input_rail_info",
            "The board profile's input-rail candidates, always 1: the first (lowest rank) whose rails "
            "(joined by +) all have edge_energy_joules_total is the board's input; none, no input rail.",
            labels=["rail", "rank"],
        )
        for rank, rail in enumerate(board.input_rails, start=1):
            rails.add_metric([rail, str(rank)], 1)
        return [info, rails]
