"""Repetitions that mean something: medians with 95 % intervals per prompt and overall, in the
end-of-run summary and ``runner export --summary``, throttled runs left out, the mean score."""

from __future__ import annotations

import csv
import json
import statistics

import pytest

from edgemeter.runner.analysis import stats
from edgemeter.runner.progress import summary
from edgemeter.runner.record import PromptRecord

from helpers import run_runner

RATES = [98.0, 101.0, 99.5, 100.5, 102.0, 97.0, 100.0]


def test_the_interval_holds_the_median_is_reproducible_and_needs_three_values() -> None:
    lo, hi = stats.interval(RATES)
    assert lo <= statistics.median(RATES) <= hi and lo >= min(RATES) and hi <= max(RATES)
    assert stats.interval(RATES) == (lo, hi)  # seeded
    assert stats.interval(RATES[:2]) is None
    lo, hi = stats.ratio_interval(RATES, [r * 1.1 for r in RATES])
    assert lo <= 1.1 <= hi


def record(prompt_id: str, rep: int, rate: float, **kw) -> PromptRecord:
    base = dict(
        run_id="r", prompt_id=prompt_id, repetition=rep, warmup=False, backend="b", model="m", prompt="p",
        response="x", status="ok", error=None, started_at=0.0, first_token_at=0.1, ended_at=1.0,
        ttft_seconds=0.1, request_duration_seconds=1.0, prefill_seconds=0.1, decode_seconds=0.9,
        decode_tokens_per_second=rate, mean_itl_seconds=None, load_seconds=None, input_tokens=10,
        output_tokens=20, energy_joules=4.0,
    )  # fmt: skip
    return PromptRecord(**{**base, **kw})


def test_the_summary_gives_the_interval_the_overall_row_and_the_mean_score() -> None:
    recs = [record("a", i, r, score=1 if i % 2 else 0) for i, r in enumerate(RATES, 1)]
    recs += [record("b", i, r * 2) for i, r in enumerate(RATES[:3], 1)]
    recs.append(record("b", 4, 500.0, throttled=True))
    lines = summary(recs).splitlines()
    header, a, b, overall = (line.split() for line in lines[:4])
    assert header[-2:] == ["J/tok", "score"]
    lo, hi = stats.interval(RATES)
    assert a[4] == "100.0" and a[5] == f"{lo:.1f}-{hi:.1f}" and a[-2] == "0.2000" and a[-1] == "0.57"
    assert b[1] == "3" and b[4] == "199.0"  # the throttled run is not in it
    assert overall[0] == "all" and overall[1] == "10"
    assert "1 throttled prompt left out (--include-throttled keeps them)" in lines
    assert summary(recs, include_throttled=True).splitlines()[2].split()[1] == "4"


def test_export_summary_writes_the_same_figures(tmp_path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    recs = [record("a", i, r) for i, r in enumerate(RATES, 1)]
    (results / "r.jsonl").write_text("".join(json.dumps(r.to_json()) + "\n" for r in recs))
    out = tmp_path / "s.csv"
    done = run_runner("export", "--summary", "--run", "r", "--results", str(results), "--out", str(out))
    assert done.returncode == 0, done.stderr
    [row] = list(csv.DictReader(out.open()))
    lo, hi = stats.interval(RATES)
    assert row["prompt_id"] == "a" and row["runs"] == "7"
    assert float(row["decode_tokens_per_second_median"]) == 100.0
    assert float(row["decode_tokens_per_second_ci95_low"]) == pytest.approx(lo)
    assert float(row["decode_tokens_per_second_ci95_high"]) == pytest.approx(hi)
    assert float(row["joules_per_output_token_median"]) == pytest.approx(0.2)
    missing = run_runner(
        "export", "--summary", "--run", "nope", "--results", str(results), "--out", str(out), "--force"
    )
    assert (
        missing.returncode == 2 and "no results file" in missing.stderr and "Traceback" not in missing.stderr
    )


def until_run(tmp_path, pct: str, max_repeat: str) -> list[dict]:
    from fake_ollama import FakeOllama

    from helpers import read_jsonl

    prompts = tmp_path / "p.txt"
    prompts.write_text("one\ntwo\n")
    results = tmp_path / f"results-{pct}"
    with FakeOllama(token_delay=0.01) as ollama:
        run = run_runner(
            "--prompts", str(prompts), "--backend", "ollama", "--model", "smollm2:135m", "--host", ollama.url,
            "--results", str(results), "--no-push", "--max-tokens", "8",
            "--repeat-until", pct, "--max-repeat", max_repeat,
        )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return read_jsonl(next(results.glob("*.jsonl")))


def test_repeat_until_stops_each_prompt_once_its_interval_is_tight(tmp_path) -> None:
    from edgemeter.runner.session import Plan

    plan = Plan([], 3, 0, 3, until_pct=5)
    assert not plan.converged([100.0, 100.0])  # fewer than three: no interval yet
    assert plan.converged([100.0, 101.0, 99.0, 100.5])
    assert not plan.converged([100.0, 130.0, 70.0, 115.0])
    recs = until_run(tmp_path, "50", "8")  # a steady stand-in: three runs are enough
    assert sorted((r["prompt_id"], r["repetition"]) for r in recs) == [
        (p, rep) for p in ("1", "2") for rep in (1, 2, 3)
    ]


def test_repeat_until_stops_at_max_repeat_when_it_never_gets_tight(tmp_path) -> None:
    recs = until_run(tmp_path, "0.000001", "5")
    assert sorted((r["prompt_id"], r["repetition"]) for r in recs) == [
        (p, rep) for p in ("1", "2") for rep in range(1, 6)
    ]
