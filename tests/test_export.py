"""runner export: per-prompt CSV rows from the results file or from Prometheus alone, aligned
with the board's series of a live native stack; every bad input one line, exit 2."""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_stack import pytestmark as stack_mark
from test_stack import query, wait_for

from edgemeter.runner.analysis.export import COLUMNS

from boardtrees import BOARDS
from helpers import REPO, free_port, native_stack, run_prompts_into_stack

pytestmark = stack_mark
VDD_IN_WATTS = 5.08 * 1.24  # the Orin fixture's input rail, constant


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edgemeter.runner", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


@contextlib.contextmanager
def orin_stack(tmp: Path) -> Iterator[dict[str, int]]:
    """A native stack over the Orin fixture, once Prometheus holds a few energy samples."""
    orin = BOARDS["jetson_orin"](tmp / "orin")
    with native_stack(tmp / "stack", orin.sysfs, orin.procfs) as ports:
        # Prometheus starts scraping up to ~5 s after it is ready: wait for samples before the
        # first prompt, so its start edge has a sample on each side
        wait_for(ports["PROMETHEUS_PORT"], 'count_over_time(edge_energy_joules_total{rail="VDD_IN"}[1m]) > 2')
        yield ports


@pytest.fixture(scope="module")
def stack_run(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("export")
    with orin_stack(tmp) as ports:
        text = "Why is the sky blue?\nName three primes.\nCount to five.\n"
        done = run_prompts_into_stack(ports, tmp / "p.txt", text, tmp / "results", 16, token_delay=0.05)
        assert done.returncode == 0, done.stderr
        run_id = json.loads(next((tmp / "results").glob("*.meta.json")).read_text())["run_id"]
        prom = ports["PROMETHEUS_PORT"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not query(
            prom, f'edge_llm_prompt_end_timestamp_seconds{{run_id="{run_id}"}}'
        ):
            time.sleep(0.5)
        time.sleep(3)  # samples after the last prompt's end edge
        yield {"tmp": tmp, "run_id": run_id, "prometheus": f"http://127.0.0.1:{prom}"}


def on_run(stack_run, command: str, out: Path, *extra: str, results: Path | None = None):
    """``runner export|report`` on the fixture's run and Prometheus."""
    results = results or stack_run["tmp"] / "results"
    return run_cli(
        command,
        *extra,
        "--prometheus",
        stack_run["prometheus"],
        "--run",
        stack_run["run_id"],
        "--out",
        str(out),
        "--results",
        str(results),
    )


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == COLUMNS
        return list(reader)


def test_rows_from_the_results_file(stack_run) -> None:
    out = stack_run["tmp"] / "from-results.csv"
    done = on_run(stack_run, "export", out)
    assert done.returncode == 0, done.stderr
    got = rows(out)
    assert [r["prompt_id"] for r in got] == ["1", "2", "3"]
    records = [
        json.loads(line)
        for line in next((stack_run["tmp"] / "results").glob("*.jsonl")).read_text().splitlines()
    ]
    for r, rec in zip(got, records, strict=True):
        assert r["start_time"].endswith("Z") and r["status"] == "ok"
        assert int(r["output_tokens"]) == rec["output_tokens"] > 0
        assert float(r["energy_joules"]) == pytest.approx(rec["energy_joules"])  # the runner's edge reading
        assert float(r["avg_power_watts"]) == pytest.approx(VDD_IN_WATTS, rel=0.05)
        assert float(r["joules_per_output_token"]) == pytest.approx(
            float(r["energy_joules"]) / rec["output_tokens"]
        )
        assert float(r["max_temperature_celsius"]) == pytest.approx(47.593)  # the fixture's hottest zone
        assert float(r["min_cpu_frequency_hertz"]) > 1e8
        assert r["throttled"] == ""  # a Jetson has no firmware throttling flags: empty, never 0
        assert r["avg_cpu_utilization_ratio"] == ""  # the fixture's CPU counters never move: 0/0
        assert r["energy_rail"] == "VDD_IN"


def test_rows_from_prometheus_alone_interpolate_the_energy_counter(stack_run) -> None:
    out = stack_run["tmp"] / "from-prometheus.csv"
    empty = stack_run["tmp"] / "no-results"
    empty.mkdir()
    done = on_run(stack_run, "export", out, results=empty)
    assert done.returncode == 0, done.stderr
    assert "warning: no results file" in done.stderr  # why token counts are empty
    got = rows(out)
    assert sorted(r["prompt_id"] for r in got) == ["1", "2", "3"]
    # the board's input rail from the exporter's profile (edge_board_input_rail_info), as the runner
    assert {r["energy_rail"] for r in got} == {"VDD_IN"}
    for r in got:
        duration = float(r["duration_seconds"])
        assert duration > 0.5
        # the counter interpolated at both edges of the window: the constant power times the window
        assert float(r["energy_joules"]) == pytest.approx(VDD_IN_WATTS * duration, rel=0.03)
        assert r["input_tokens"] == ""  # not in Prometheus per repetition: empty, not 0


def test_bad_input(stack_run, tmp_path: Path) -> None:
    base = ["export", "--prometheus", stack_run["prometheus"], "--results", str(stack_run["tmp"] / "results")]
    unknown = run_cli(*base, "--run", "nope", "--out", str(tmp_path / "x.csv"))
    assert (
        unknown.returncode == 2 and stack_run["run_id"] in unknown.stderr and "unknown run" in unknown.stderr
    )
    existing = tmp_path / "exists.csv"
    existing.write_text("keep me\n")
    again = on_run(stack_run, "export", existing)
    assert again.returncode == 2 and "--force" in again.stderr and existing.read_text() == "keep me\n"
    assert on_run(stack_run, "export", existing, "--force").returncode == 0
    nodir = on_run(stack_run, "export", tmp_path / "no" / "x.csv")
    assert nodir.returncode == 2 and "no such directory" in nodir.stderr
    dead = run_cli(
        "export",
        "--prometheus",
        f"http://127.0.0.1:{free_port()}",
        "--run",
        stack_run["run_id"],
        "--out",
        str(tmp_path / "y.csv"),
        "--results",
        str(stack_run["tmp"] / "results"),
    )
    assert dead.returncode == 2 and "unreachable" in dead.stderr
    for done in (unknown, again, nodir, dead):
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_raw_series_wide_csv(stack_run) -> None:
    out = stack_run["tmp"] / "raw.csv"
    done = on_run(stack_run, "export", out, "--raw")
    assert done.returncode == 0, done.stderr
    with out.open(newline="") as f:
        table = list(csv.reader(f))
    header, body = table[0], table[1:]
    assert header[:2] == ["timestamp", "unix_seconds"]
    vdd_in = [i for i, c in enumerate(header) if c.startswith("edge_power_watts{") and 'rail="VDD_IN"' in c]
    assert len(vdd_in) == 1 and 'instance="127.0.0.1:' in header[vdd_in[0]]
    values = [float(r[vdd_in[0]]) for r in body if r[vdd_in[0]]]
    assert values and all(v == pytest.approx(VDD_IN_WATTS) for v in values)
    steps = [float(b[1]) - float(a[1]) for a, b in itertools.pairwise(body)]
    assert all(s == pytest.approx(1.0) for s in steps)


def test_raw_export_is_chunked_under_the_points_limit(stack_run) -> None:
    """25,000 steps of 1 ms: one query_range would be refused (11,000 points per series); chunks are not."""
    out = stack_run["tmp"] / "raw-fine.csv"
    records = [
        json.loads(line)
        for line in next((stack_run["tmp"] / "results").glob("*.jsonl")).read_text().splitlines()
    ]
    start = records[0]["started_at"]
    done = run_cli(
        "export",
        "--raw",
        "--prometheus",
        stack_run["prometheus"],
        "--start",
        f"{start}",
        "--end",
        f"{start + 25}",
        "--step",
        "0.001",
        "--metrics",
        "edge_power_watts",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    with out.open(newline="") as f:
        rows = sum(1 for _ in f) - 1
    assert rows == 25_001


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1795384446.5", 1795384446.5),
        ("2026-11-22T21:54:06.500Z", 1795384446.5),
        ("2026-11-22T22:54:06.500+01:00", 1795384446.5),
        ("2026-11-22 21:54:06.5", 1795384446.5),  # no offset: UTC, like every time edgemeter writes
    ],
)
def test_start_and_end_take_unix_seconds_or_iso_8601(text: str, expected: float) -> None:
    from edgemeter.runner.analysis.raw_export import timestamp

    assert timestamp(text) == pytest.approx(expected)


def test_a_bad_time_is_one_line(tmp_path: Path) -> None:
    done = run_cli("export", "--raw", "--start", "yesterday", "--end", "1", "--out", str(tmp_path / "x.csv"))
    assert done.returncode == 2 and "--start" in done.stderr and "yesterday" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_report_draws_the_run_and_prints_the_table(stack_run) -> None:
    out = stack_run["tmp"] / "run.png"
    done = on_run(stack_run, "report", out)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000
    assert "prompt_id" in done.stderr and "ttft_s" in done.stderr
    again = on_run(stack_run, "report", out)
    assert again.returncode == 2 and "--force" in again.stderr
    shutil.copy(out, "/tmp/edgemeter-report.png")


def test_raw_samples_at_their_scrape_timestamps(stack_run) -> None:
    out = stack_run["tmp"] / "samples.csv"
    done = on_run(stack_run, "export", out, "--raw", "--samples", "--metrics", "edge_power_watts")
    assert done.returncode == 0, done.stderr
    with out.open(newline="") as f:
        body = list(csv.DictReader(f))
    vdd_in = [r for r in body if 'rail="VDD_IN"' in r["series"]]
    stamps = [float(r["unix_seconds"]) for r in vdd_in]
    assert len(stamps) >= 3 and stamps == sorted(stamps)
    assert all(0.5 < b - a < 1.5 for a, b in itertools.pairwise(stamps))  # 1 s scrapes, as scraped
    assert all(float(r["value"]) == pytest.approx(VDD_IN_WATTS) for r in vdd_in)


def test_export_problems_say_why(stack_run, tmp_path: Path) -> None:
    def one_line(done: subprocess.CompletedProcess, *needles: str) -> None:
        assert done.returncode == 2, done.stderr
        line = done.stderr.strip()
        assert "\n" not in line and "Traceback" not in line and all(n in line for n in needles), line

    prom, results = stack_run["prometheus"], str(stack_run["tmp"] / "results")
    base = ["export", "--prometheus", prom, "--results", results]
    # a run id is never PromQL: this one would have matched another run's rows
    crafted = 'x"}) or edge_llm_prompt_start_timestamp_seconds or vector(1'
    one_line(run_cli(*base, "--run", crafted, "--out", str(tmp_path / "a.csv")), "not a run id")
    one_line(run_cli("report", "--prometheus", prom, "--run", crafted, "--out", str(tmp_path / "a.png")),
             "not a run id")  # fmt: skip
    one_line(on_run(stack_run, "export", tmp_path / "b.csv", "--instance", "board-7:19477"),
             "--instance board-7:19477", "instances: 127.0.0.1:")  # fmt: skip
    one_line(on_run(stack_run, "export", tmp_path / "c.csv", "--rail", "VDD_GPU"),
             "--rail VDD_GPU", "rails: VDD_CPU_GPU_CV, VDD_IN, VDD_SOC")  # fmt: skip
    one_line(on_run(stack_run, "export", tmp_path / "d.csv", "--raw", "--metrics", "edge_nope"), "edge_nope")
    huge = run_cli(
        *base, "--raw", "--start", "0", "--end", "1e9", "--step", "0.001", "--out", str(tmp_path / "e.csv")
    )
    one_line(huge, "rows", "--step")
    assert not (tmp_path / "e.csv").exists()
    partly = on_run(
        stack_run, "export", tmp_path / "f.csv", "--raw", "--metrics", "edge_power_watts,edge_nope"
    )
    assert partly.returncode == 0 and "warning: --metrics edge_nope" in partly.stderr
    summed = on_run(stack_run, "export", tmp_path / "g.csv", "--rail", "VDD_CPU_GPU_CV+VDD_SOC")
    assert summed.returncode == 0, summed.stderr
    for r in rows(tmp_path / "g.csv"):
        assert r["energy_rail"] == "VDD_CPU_GPU_CV+VDD_SOC"
        assert float(r["avg_power_watts"]) == pytest.approx((5.072 * 0.48 + 5.076 * 0.72), rel=0.05)


def test_the_csv_columns_are_defined_once_and_documented_as_defined() -> None:
    from edgemeter.runner.analysis import csv_schema

    assert COLUMNS == csv_schema.NAMES and len(COLUMNS) == 28
    # the contract's 20, then energy_rail and score (DESIGN.md), then the energy phases and its bound
    assert COLUMNS[20:22] == ["energy_rail", "score"] and COLUMNS[22:] == list(csv_schema.RECORD_ENERGY)
    assert csv_schema.markdown() in (REPO / "docs" / "alignment.md").read_text()
