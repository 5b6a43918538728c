"""The whole exporter on each board tree, compared with tests/golden/<board>.prom.

Volatile series (collector durations, the exporter's own process metrics) are dropped. Run
``pytest --update-golden`` after an intended change and review the diff.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import contract
from conftest import board_config, make_scraper
from helpers import samples

GOLDEN = Path(__file__).parent / "golden"
VOLATILE = ("edge_collector_duration_seconds", "edge_exporter_")


def stable(text: str, root: Path) -> str:
    lines = [line for line in text.splitlines() if not any(v in line for v in VOLATILE)]
    out = "\n".join(lines) + "\n"
    assert str(root) not in out, "a label leaks the fixture root (absolute path)"
    return out


@pytest.fixture
def rendered(board_tree) -> str:
    return make_scraper(board_config(board_tree))()


def test_matches_golden(request: pytest.FixtureRequest, board_tree, rendered: str) -> None:
    board = request.node.callspec.id
    got = stable(rendered, board_tree.sysfs.parent)
    path = GOLDEN / f"{board}.prom"
    if request.config.getoption("--update-golden"):
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(got)
    assert path.exists(), f"no golden file {path}: run pytest --update-golden"
    assert got == path.read_text()


# Collectors on by default whose sensors the board lacks: success 0, and no error counted.
NO_DATA = {
    "pi5": {"hailo"},  # the Pi profile runs it; no HailoRT on the fixture board (test_hailo.py has one)
    "jetson_orin": set(),
    "jetson_xavier_nx": set(),
    # kernel 4.9: no PSI; its fan is not a cooling device, and no driver of its registers hwmon
    "jetson_nano": {"pressure", "cooling_device", "hwmon"},
    "x86_laptop": set(),
    # the development VM, captured: no sensors but CPU, memory, load and PSI
    "dev_vm": {"cpufreq", "thermal_zone", "cooling_device", "hwmon", "ina3221", "rapl", "gpu_load"},
}


def test_every_collector_succeeds_on_its_board(request: pytest.FixtureRequest, rendered: str) -> None:
    data = samples(rendered)
    failed = {
        dict(lab)["collector"] for (n, lab), v in data.items() if n == "edge_collector_success" and v != 1
    }
    assert failed == NO_DATA[request.node.callspec.id]
    assert all(v == 0 for (n, _), v in data.items() if n == "edge_collector_errors_total")


@pytest.mark.skipif(shutil.which("promtool") is None, reason="Debian prometheus (promtool) not installed")
def test_promtool_check_metrics_is_clean(rendered: str) -> None:
    done = subprocess.run(["promtool", "check", "metrics"], input=rendered, capture_output=True, text=True)
    assert done.returncode == 0 and not done.stdout.strip() and not done.stderr.strip(), (
        done.stdout + done.stderr
    )


def test_contract_is_kept(rendered: str) -> None:
    assert contract.problems(rendered) == []
    # what every board serves; the rest depends on its sensors (the goldens pin those)
    assert not {"edge_board_info", "edge_cpu_seconds_total", "edge_memory_total_bytes"} & set(
        contract.missing(rendered)
    )


def test_contract_checker_catches_what_it_is_for() -> None:
    bad = (
        '# TYPE edge_power_watt gauge\nedge_power_watt{rail="a",source="b"} 1\n'
        '# TYPE edge_things counter\nedge_things_total{type="x"} NaN\n'
        '# TYPE edge_temperature_celsius gauge\nedge_temperature_celsius{sensor="cpu"} 40\n'
        f'# TYPE edge_llm_run_info gauge\nedge_llm_run_info{{prompt="{"x" * 200}"}} 1\n'
        "# TYPE node_load1 gauge\nnode_load1 0.5\n"
    )
    found = "\n".join(contract.problems(bad))
    for needle in (
        "edge_power_watt: not a base-unit",
        "bare 'type' label",
        "NaN served",
        "edge_temperature_celsius: missing labels ['source']",
        "free text",
        "node_load1: outside",
    ):
        assert needle in found, found  # fmt: skip
