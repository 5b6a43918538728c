"""The fleet config: one Prometheus scraping 20 exporters on loopback (each on a fixture board)
through file_sd, with each board's name and location as target labels."""

from __future__ import annotations

import collections
import contextlib
import json
import shutil
import time
import urllib.error
from pathlib import Path

import pytest
from test_stack import query

from edgemeter.exporter.boards.detect import detect

from boardtrees import BOARDS
from helpers import REPO, exporter_cmd, free_port, running

pytestmark = pytest.mark.skipif(shutil.which("prometheus") is None, reason="Debian prometheus not installed")
BOARD_COUNT = 20


def test_central_prometheus_scrapes_twenty_boards(tmp_path: Path) -> None:
    kinds = sorted(BOARDS)
    fleet = tmp_path / "fleet"
    (fleet / "targets").mkdir(parents=True)
    config = (
        (REPO / "prometheus/fleet/prometheus.yml")
        .read_text()
        .replace("../rules/*.yml", str(REPO / "prometheus/rules/*.yml"))
    )
    (fleet / "prometheus.yml").write_text(config)
    groups, commands = [], []
    families: collections.Counter[str] = collections.Counter()
    for i in range(BOARD_COUNT):
        kind = kinds[i % len(kinds)]
        tree = BOARDS[kind](tmp_path / f"board{i}")
        families[detect(str(tree.sysfs), str(tree.procfs)).family] += 1
        port = free_port()
        commands.append(
            (
                exporter_cmd(
                    "--listen",
                    f"127.0.0.1:{port}",
                    "--sysfs",
                    str(tree.sysfs),
                    "--procfs",
                    str(tree.procfs),
                    "--collector.disable-defaults",
                    "--collector.board_info",
                    "--collector.thermal_zone",
                ),
                port,
            )
        )
        groups.append(
            {
                "targets": [f"127.0.0.1:{port}"],
                "labels": {"board": f"{kind}-{i}", "location": f"rack-{i % 3}"},
            }
        )
    (fleet / "targets" / "boards.json").write_text(json.dumps(groups))
    prom_port = free_port()
    prom = [
        "prometheus",
        f"--config.file={fleet / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
    ]
    with contextlib.ExitStack() as stack:
        for cmd, port in commands:
            stack.enter_context(running(cmd, port))
        stack.enter_context(running(prom, prom_port))
        deadline = time.monotonic() + 60
        up: list[dict] = []
        while time.monotonic() < deadline:
            with contextlib.suppress(urllib.error.HTTPError):  # 503 until the TSDB has started
                up = query(prom_port, 'up{job="edgemeter"} == 1')
            if len(up) == BOARD_COUNT:
                break
            time.sleep(1)
        assert len(up) == BOARD_COUNT, f"{len(up)} of {BOARD_COUNT} boards up"
        labels = {(r["metric"]["board"], r["metric"]["location"]) for r in up}
        assert labels == {(g["labels"]["board"], g["labels"]["location"]) for g in groups}
        info = query(prom_port, "count by (family) (edge_board_info)")
        assert {r["metric"]["family"]: int(r["value"][1]) for r in info} == dict(families)
        assert set(families) >= {"jetson", "raspberry_pi", "x86"}
