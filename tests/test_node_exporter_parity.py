"""On real machines' sysfs/procfs (node_exporter's own fixtures, in ../shared), every temperature,
fan, thermal zone, cooling state, CPU frequency, CPU time, memory, load and PSI reading that
Debian's node_exporter reports, ours reports with the same value."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from helpers import SHARED, exporter_cmd, free_port, get, running, samples

NODE_EXPORTER = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
FIXTURES = SHARED / "fixtures" / "node_exporter"
pytestmark = [
    pytest.mark.skipif(NODE_EXPORTER is None, reason="Debian prometheus-node-exporter not installed"),
    pytest.mark.skipif(
        not (FIXTURES / "sys.ttar").is_file(),
        reason=f"node_exporter's real-machine fixtures are not beside this checkout ({FIXTURES})",
    ),
]
NODE_COLLECTORS = [
    "cpu",
    "cpufreq",
    "hwmon",
    "thermal_zone",
    "meminfo",
    "stat",
    "loadavg",
    "pressure",
    "rapl",
]

# node_exporter metric -> (our metric, fixed labels of ours, node label -> our label)
SAME = {
    "node_thermal_zone_temp": (
        "edge_temperature_celsius",
        {"source": "thermal_zone"},
        {"zone": "zone", "type": "sensor"},
    ),
    "node_cpu_scaling_frequency_hertz": ("edge_cpu_frequency_hertz", {"source": "cpufreq"}, {"cpu": "cpu"}),
    "node_cpu_frequency_max_hertz": ("edge_cpu_frequency_max_hertz", {}, {"cpu": "cpu"}),
    "node_cpu_frequency_min_hertz": ("edge_cpu_frequency_min_hertz", {}, {"cpu": "cpu"}),
    "node_cpu_scaling_frequency_max_hertz": ("edge_cpu_scaling_frequency_max_hertz", {}, {"cpu": "cpu"}),
    "node_cpu_scaling_frequency_min_hertz": ("edge_cpu_scaling_frequency_min_hertz", {}, {"cpu": "cpu"}),
    "node_cpu_seconds_total": ("edge_cpu_seconds_total", {}, {"cpu": "cpu", "mode": "mode"}),
    "node_cpu_guest_seconds_total": ("edge_cpu_guest_seconds_total", {}, {"cpu": "cpu", "mode": "mode"}),
    "node_memory_MemTotal_bytes": ("edge_memory_total_bytes", {}, {}),
    "node_memory_MemAvailable_bytes": ("edge_memory_available_bytes", {}, {}),
    "node_memory_MemFree_bytes": ("edge_memory_free_bytes", {}, {}),
    "node_memory_Buffers_bytes": ("edge_memory_buffers_bytes", {}, {}),
    "node_memory_Cached_bytes": ("edge_memory_cached_bytes", {}, {}),
    "node_memory_SwapTotal_bytes": ("edge_swap_total_bytes", {}, {}),
    "node_memory_SwapFree_bytes": ("edge_swap_free_bytes", {}, {}),
    "node_memory_SwapCached_bytes": ("edge_swap_cached_bytes", {}, {}),
    "node_load1": ("edge_load1", {}, {}),
    "node_load5": ("edge_load5", {}, {}),
    "node_load15": ("edge_load15", {}, {}),
    "node_pressure_cpu_waiting_seconds_total": (
        "edge_pressure_waiting_seconds_total",
        {"resource": "cpu"},
        {},
    ),
    "node_pressure_memory_waiting_seconds_total": (
        "edge_pressure_waiting_seconds_total",
        {"resource": "memory"},
        {},
    ),
    "node_pressure_memory_stalled_seconds_total": (
        "edge_pressure_stalled_seconds_total",
        {"resource": "memory"},
        {},
    ),
    "node_pressure_io_waiting_seconds_total": ("edge_pressure_waiting_seconds_total", {"resource": "io"}, {}),
    "node_pressure_io_stalled_seconds_total": ("edge_pressure_stalled_seconds_total", {"resource": "io"}, {}),
}
# node_exporter names hwmon chips by device path, we by hwmonN: match readings chip by chip.
HWMON = {"node_hwmon_temp_celsius": "edge_temperature_celsius", "node_hwmon_fan_rpm": "edge_fan_speed_rpm"}


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    dest = tmp_path_factory.mktemp("node_exporter_fixtures")
    subprocess.run(
        [sys.executable, str(SHARED / "tools" / "ttar_extract.py"), str(FIXTURES / "sys.ttar"), str(dest)],
        check=True,
    )
    return dest / "sys", FIXTURES / "proc"


@pytest.fixture(scope="module")
def both(trees: tuple[Path, Path]) -> tuple[dict, dict]:
    sysfs, procfs = trees
    node_port, our_port = free_port(), free_port()
    node_cmd = [
        NODE_EXPORTER,
        f"--web.listen-address=127.0.0.1:{node_port}",
        f"--path.sysfs={sysfs}",
        f"--path.procfs={procfs}",
        "--collector.disable-defaults",
        *(f"--collector.{c}" for c in NODE_COLLECTORS),
    ]
    ours_cmd = exporter_cmd(
        "--listen", f"127.0.0.1:{our_port}", "--sysfs", str(sysfs), "--procfs", str(procfs)
    )
    with running(node_cmd, node_port), running(ours_cmd, our_port):
        node = samples(get(f"http://127.0.0.1:{node_port}/metrics"))
        ours = samples(get(f"http://127.0.0.1:{our_port}/metrics"))
    return node, ours


def test_every_node_exporter_reading_is_ours_too(both: tuple[dict, dict]) -> None:
    node, ours = both
    compared, missing = 0, []
    for (name, labels), value in node.items():
        if name not in SAME:
            continue
        metric, fixed, rename = SAME[name]
        want = {**fixed, **{rename[k]: v for k, v in labels if k in rename}}
        hits = [v for (n, lab), v in ours.items() if n == metric and set(want.items()) <= lab]
        if len(hits) != 1 or hits[0] != pytest.approx(value, rel=1e-9):
            missing.append(f"{name}{dict(labels)}={value} -> ours {metric}{want}: {hits}")
        compared += 1
    assert not missing, "\n".join(missing)
    assert compared >= 80  # the fixture has 8 CPUs x 8 modes alone


def test_every_hwmon_reading_matches_a_chip_of_ours(both: tuple[dict, dict]) -> None:
    node, ours = both
    for node_name, our_name in HWMON.items():
        node_chips: dict[str, set] = defaultdict(set)
        for (name, labels), value in node.items():
            if name == node_name:
                lab = dict(labels)
                node_chips[lab["chip"]].add((lab["sensor"], value))
        our_chips: dict[str, set] = defaultdict(set)
        for (name, labels), value in ours.items():
            lab = dict(labels)
            if name == our_name and lab.get("source", "hwmon") == "hwmon":
                our_chips[lab["hwmon"]].add((lab["channel"], value))
        assert node_chips, f"node_exporter served no {node_name}"
        for chip, readings in node_chips.items():
            assert any(readings <= mine for mine in our_chips.values()), (
                f"{node_name} chip {chip}: {readings}"
            )


def test_cooling_devices_match(both: tuple[dict, dict]) -> None:
    node, ours = both
    pairs = {
        "node_cooling_device_cur_state": "edge_cooling_state",
        "node_cooling_device_max_state": "edge_cooling_max_state",
    }
    seen = 0
    for (name, labels), value in node.items():
        if name in pairs:
            lab = dict(labels)
            key = (
                pairs[name],
                frozenset({"device": f"cooling_device{lab['name']}", "device_type": lab["type"]}.items()),
            )
            assert ours[key] == value
            seen += 1
    assert seen == 2


def test_we_serve_chips_node_exporter_drops(both: tuple[dict, dict]) -> None:
    """Three mt7996 radios share one device path; node_exporter keeps one, we keep all three."""
    _, ours = both
    radios = {
        dict(lab)["hwmon"]
        for (n, lab) in ours
        if n == "edge_temperature_celsius" and dict(lab).get("chip", "").startswith("mt7996")
    }
    assert radios == {"hwmon8", "hwmon9", "hwmon10"}


def test_rapl_zones_match(both: tuple[dict, dict]) -> None:
    """node_rapl_<zone>_joules_total{index} is the raw energy_uj; ours is the same until a wrap."""
    node, ours = both
    theirs = sorted(
        v for (n, _), v in node.items() if n.startswith("node_rapl_") and n.endswith("_joules_total")
    )
    mine = sorted(
        v for (n, lab), v in ours.items() if n == "edge_energy_joules_total" and ("source", "rapl") in lab
    )
    assert len(theirs) == 2 and mine == pytest.approx(theirs)
