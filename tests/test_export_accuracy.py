"""Energy per prompt against the exact integral of a known power profile.

The exporter runs on the Orin tree while the test drives VDD_IN's current through a slow sine
(1.2 ± 0.6 A, 20 s period, changed every 10 ms); the runner sends 2-4 s prompts to the
Ollama-API stand-in with Prometheus scraping every second. The exported energy_joules per prompt
must be within 1 % of the exact integral with --exporter-url, within 3 % from Prometheus alone.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_stack import pytestmark as stack_mark
from test_stack import wait_for

from boardtrees import BOARDS
from helpers import REPO, driven, held_integral, native_stack, run_prompts_into_stack

pytestmark = stack_mark
STEP, PERIOD = 0.01, 20.0


def amps(t: float) -> float:
    return round(1.2 + 0.6 * math.sin(2 * math.pi * t / PERIOD), 3)  # as written: whole mA


def exact(volts: float, t0: float, t1: float) -> float:
    return volts * held_integral(amps, STEP, t0, t1)


def test_energy_per_prompt_matches_the_exact_integral(tmp_path: Path) -> None:
    orin = BOARDS["jetson_orin"](tmp_path / "orin")
    chip = (orin.sysfs / "bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon1").resolve()
    volts = int((chip / "in1_input").read_text()) / 1000
    with (
        driven(chip / "curr1_input", amps, STEP),
        native_stack(tmp_path / "stack", orin.sysfs, orin.procfs) as ports,
    ):
        prom = f"http://127.0.0.1:{ports['PROMETHEUS_PORT']}"
        wait_for(ports["PROMETHEUS_PORT"], 'count_over_time(edge_energy_joules_total{rail="VDD_IN"}[1m]) > 2')
        results = tmp_path / "results"
        run = run_prompts_into_stack(
            ports, tmp_path / "p.txt", "SLOW one\nSLOW two\nSLOW three\n", results, 14
        )
        assert run.returncode == 0, run.stderr
        time.sleep(3)  # scrapes after the last prompt's end, and the pushed windows scraped
        run_id = json.loads(next(results.glob("*.meta.json")).read_text())["run_id"]
        exported = {}
        for name, results_dir in (("edges", results), ("prometheus", tmp_path / "none")):
            results_dir.mkdir(exist_ok=True)
            out = tmp_path / f"{name}.csv"
            export = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "edgemeter.runner",
                    "export",
                    "--prometheus",
                    prom,
                    "--run",
                    run_id,
                    "--out",
                    str(out),
                    "--results",
                    str(results_dir),
                    "--rail",
                    "VDD_IN",
                ],
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert export.returncode == 0, export.stderr
            exported[name] = {r["prompt_id"]: float(r["energy_joules"]) for r in csv.DictReader(out.open())}
    records = [json.loads(line) for line in next(results.glob("*.jsonl")).read_text().splitlines()]
    for rec in records:
        assert 2.0 <= rec["request_duration_seconds"] <= 4.5
        truth = exact(volts, rec["started_at"], rec["ended_at"])
        edges, alone = exported["edges"][rec["prompt_id"]], exported["prometheus"][rec["prompt_id"]]
        print(
            f"prompt {rec['prompt_id']}: exact {truth:.3f} J, "
            f"edges {edges:.3f} J ({edges / truth - 1:+.2%}), "
            f"prometheus {alone:.3f} J ({alone / truth - 1:+.2%})"
        )
        assert edges == pytest.approx(truth, rel=0.01)
        assert alone == pytest.approx(truth, rel=0.03)
