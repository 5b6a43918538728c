"""The scrape benchmark runs end to end (figures are checked by reading them, not here:
timings in unit tests would be flaky on a shared 2-core machine)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO


@pytest.mark.skipif(shutil.which("prometheus-node-exporter") is None, reason="node_exporter not installed")
def test_scrape_benchmark_prints_figures_side_by_side(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "scrape.py"), "--scrapes", "20", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "node_exporter" in done.stdout and "median ratio" in done.stdout
    figures = json.loads(out.read_text())
    for name in ("node_exporter", "edgemeter"):
        assert figures[name]["median_ms"] > 0 and figures[name]["rss_mb"] > 0
        assert figures[name]["body_bytes_gzip"] > 1000


@pytest.mark.skipif(shutil.which("prometheus-node-exporter") is None, reason="node_exporter not installed")
def test_scrape_benchmark_on_the_pi5_tree(tmp_path: Path) -> None:
    out = tmp_path / "pi.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "scrape.py"), "--scrapes", "10", "--board", "pi5",
         "--json", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "same tree (pi5)" in done.stdout
    assert json.loads(out.read_text())["edgemeter"]["median_ms"] > 0


def test_sampler_benchmark_runs(tmp_path: Path) -> None:
    out = tmp_path / "sampler.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "sampler.py"), "--seconds", "1", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text())
    assert set(figures) >= {"ina3221 hwmon (Orin, 3 rails)", "pmic (Pi 5, vcgencmd, 2 Hz cap)"}
    assert "% of a core" in done.stdout


def test_text_engine_benchmark_runs(tmp_path: Path) -> None:
    pytest.importorskip("serial")
    out = tmp_path / "text.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "text_engines.py"), "--prompts", "2", "--tokens", "4",
         "--json", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text())
    assert set(figures) == {"command", "serial"}
    assert "decode: runner - engine" in done.stdout
