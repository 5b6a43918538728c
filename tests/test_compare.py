"""``runner compare``: two real runs on the Ollama stand-in, B slower than A, with a setup that
differs: medians, ratios with intervals, the differences as warnings, JSON, the CI gate."""

from __future__ import annotations

import json

import pytest
from fake_ollama import FakeOllama

from helpers import run_runner


def a_run(tmp_path, results, delay: float, max_tokens: str) -> str:
    prompts = tmp_path / "p.txt"
    prompts.write_text("one\ntwo\n")
    with FakeOllama(token_delay=delay) as ollama:
        run = run_runner(
            "--prompts", str(prompts), "--backend", "ollama", "--model", "smollm2:135m", "--host", ollama.url,
            "--results", str(results), "--max-tokens", max_tokens, "--repeat", "4", "--no-push",
        )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return run.stderr.split("results: ")[1].split("/")[-1].removesuffix(".jsonl\n").strip()


def test_compare_two_runs(tmp_path) -> None:
    results = tmp_path / "results"
    a = a_run(tmp_path, results, 0.01, "12")
    b = a_run(tmp_path, results, 0.03, "10")
    out = tmp_path / "c.json"
    done = run_runner("compare", a, b, "--results", str(results), "--json", str(out))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:5] == ["prompt_id", "tok/s", "A", "tok/s", "B"]
    assert [line.split()[0] for line in lines[1:]] == ["1", "2", "all"]
    assert "warning: options.max_tokens differs: A 12, B 10" in done.stderr
    report = json.loads(out.read_text())
    rate = report["metrics"]["decode_tokens_per_second"]
    assert set(rate) == {"a_median", "b_median", "ratio", "ci95"}
    assert rate["ratio"] == pytest.approx(rate["b_median"] / rate["a_median"]) and rate["ratio"] < 0.6
    assert rate["ci95"][0] <= rate["ratio"] <= rate["ci95"][1]
    assert {"key": "options.max_tokens", "a": 12, "b": 10} in report["manifest_differences"]
    assert set(report["prompts"]) == {"1", "2"}
    gate = run_runner("compare", a, b, "--results", str(results), "--fail-if-slower", "10")
    assert gate.returncode == 1 and "% below A's (--fail-if-slower 10)" in gate.stderr
    assert run_runner("compare", b, a, "--results", str(results), "--fail-if-slower", "10").returncode == 0


def test_compare_bad_input_is_one_line(tmp_path) -> None:
    done = run_runner("compare", "20261201T000000Z-aaaa", "20261201T000000Z-bbbb", "--results", str(tmp_path))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("runner compare: error: run 20261201T000000Z-aaaa: no results file")


def test_the_manifest_records_the_setup_and_compare_warns_when_the_power_mode_changed(tmp_path) -> None:
    from boardtrees import BOARDS
    from helpers import exporter_on

    orin = BOARDS["jetson_orin"](tmp_path / "orin")
    prompts = tmp_path / "p.txt"
    prompts.write_text("one\n")
    results = tmp_path / "results"
    runs = []
    with exporter_on(orin) as url, FakeOllama() as ollama:
        for mode in ("0000", "0001"):  # 15W, then 7W
            (orin.rootfs / "var/lib/nvpmodel/status").write_text(f"pmode:{mode} fmode:fanNull\n")
            run = run_runner(
                "--prompts", str(prompts), "--backend", "ollama", "--model", "smollm2:135m", "--host",
                ollama.url, "--results", str(results), "--no-push", "--exporter-url", url, "--repeat", "3",
            )  # fmt: skip
            assert run.returncode == 0, run.stderr
            runs.append(run.stderr.split("results: ")[1].split("/")[-1].removesuffix(".jsonl\n").strip())
    meta = json.loads((results / f"{runs[0]}.meta.json").read_text())
    start, end = meta["manifest"]["start"], meta["manifest"]["end"]
    assert start['edge_cpu_governor_info{cpu="0",governor="schedutil"}'] == 1
    assert start['edge_jetson_power_mode_info{id="0",name="15W"}'] == 1
    assert (
        start['edge_firmware_info{built="Wed Jan  8 01:49:37 UTC 2025",component="l4t",version="36.4.3"}']
        == 1
    )
    assert start['edge_cpu_scaling_frequency_max_hertz{cpu="4"}'] == 1510400000
    assert 'edge_throttled{condition="throttled",window="now"}' not in start  # no firmware flags on a Jetson
    assert end == start and meta["manifest"]["runner"]["cpu_affinity"]
    done = run_runner("compare", *runs, "--results", str(results))
    assert done.returncode == 0, done.stderr
    assert (
        'manifest.start.edge_jetson_power_mode_info{id="0",name="15W"} differs: A 1.0, B None' in done.stderr
    )
    assert (
        'manifest.start.edge_jetson_power_mode_info{id="1",name="7W"} differs: A None, B 1.0' in done.stderr
    )
