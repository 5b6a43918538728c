"""``--resume`` keeps the run what it was: every option restored from the meta, every missing or
failed (prompt, repetition) completed, measured options never changed, operational ones allowed
to change and recorded per part, and the Pushgateway group rebuilt with every prompt."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from fake_ollama import FakeOllama

from boardtrees import BOARDS
from helpers import (
    PUSHGATEWAY_BIN,
    exporter_on,
    get,
    interrupt_after,
    pushgateway,
    read_jsonl,
    run_runner,
    runner_cmd,
    samples,
    select,
)

pytestmark = pytest.mark.skipif(PUSHGATEWAY_BIN is None, reason="Debian prometheus-pushgateway not installed")
MODEL = "smollm2:135m"


def _meta(results: Path) -> dict:
    [path] = results.glob("*.meta.json")
    return json.loads(path.read_text())


def _records(results: Path) -> list[dict]:
    [path] = results.glob("*.jsonl")
    return read_jsonl(path)


@pytest.fixture
def interrupted(tmp_path: Path):
    """A run of 3 prompts x 2 repetitions with a warm-up and non-default options, interrupted by
    SIGINT after its first measured prompt; yields (results dir, run id, ollama, pushgateway URL,
    exporter URL)."""
    prompts = tmp_path / "p.txt"
    prompts.write_text("SLOW one\nSLOW two\nSLOW three\n")
    results = tmp_path / "r"
    orin = BOARDS["jetson_orin"](tmp_path / "orin")
    with FakeOllama() as ollama, pushgateway(tmp_path) as pg, exporter_on(orin) as exporter:
        cmd = runner_cmd(
            "--prompts", str(prompts), "--backend", "ollama", "--model", MODEL, "--host", ollama.url,
            "--results", str(results), "--repeat", "2", "--warmup", "1", "--max-tokens", "3",
            "--seed", "7", "--temperature", "0.5", "--pushgateway", pg, "--exporter-url", exporter,
        )  # fmt: skip
        code, err = interrupt_after(cmd, results, lines=2, sig=signal.SIGINT)
        assert code == 130, err
        yield results, _meta(results)["run_id"], ollama, pg, exporter


def test_resume_restores_every_option_and_completes_the_run(interrupted) -> None:
    results, run_id, ollama, pg, _ = interrupted
    first = _meta(results)
    sent_before = len([r for r in ollama.requests if r["path"] == "/api/generate" and r.get("prompt")])
    done = run_runner("--resume", run_id, "--results", str(results), "--max-failures", "5")
    assert done.returncode == 0, done.stderr
    recs = _records(results)
    measured = [r for r in recs if not r["warmup"]]
    ok = sorted((r["prompt_id"], r["repetition"]) for r in measured if r["status"] == "ok")
    assert ok == [(p, rep) for p in ("1", "2", "3") for rep in (1, 2)]  # each exactly once
    assert sum(r["warmup"] for r in recs) == 2  # the warm-up rule holds in the resumed part too
    resumed = [r for r in ollama.requests if r["path"] == "/api/generate" and r.get("prompt")][sent_before:]
    assert resumed and all(
        r["options"]["num_predict"] == 3 and r["options"]["seed"] == 7 and r["options"]["temperature"] == 0.5
        for r in resumed
    )
    assert all(r["energy_joules"] is not None for r in measured if r["status"] == "ok")  # same exporter
    m = _meta(results)
    assert m["options"] == first["options"]  # never overwritten by a resume
    assert m["status"] == "finished" and [p["status"] for p in m["parts"]] == ["interrupted", "finished"]
    assert m["parts"][0]["options"]["max_failures"] == 3 and m["parts"][1]["options"]["max_failures"] == 5
    assert m["parts"][1]["options"]["pushgateway"] == pg
    # the group holds every prompt of the run, the first part's too
    data = samples(get(f"{pg}/metrics"))
    starts = select(data, "edge_llm_prompt_start_timestamp_seconds", run_id=run_id)
    assert sorted((dict(k)["prompt_id"], dict(k)["repetition"]) for k in starts) == [
        (p, str(rep)) for p in ("1", "2", "3") for rep in (1, 2)
    ]
    ok_total = select(data, "edge_llm_prompts_total", run_id=run_id, status="ok")
    assert sum(ok_total.values()) == 6


@pytest.mark.parametrize(
    ("flag", "value", "theirs"),
    [
        ("--seed", "9", "7"),
        ("--max-tokens", "128", "3"),
        ("--repeat", "1", "2"),
        ("--temperature", "0", "0.5"),
    ],
)
def test_resume_refuses_a_measured_option_given_with_another_value(interrupted, flag, value, theirs) -> None:
    results, run_id, *_ = interrupted
    before = (results / f"{run_id}.jsonl").read_text()
    done = run_runner("--resume", run_id, "--results", str(results), flag, value)
    assert done.returncode == 2
    line = done.stderr.strip()
    assert "\n" not in line and flag in line and value in line and theirs in line, line
    assert (results / f"{run_id}.jsonl").read_text() == before  # nothing ran


def test_resume_accepts_a_measured_option_given_with_the_same_value(interrupted) -> None:
    results, run_id, *_ = interrupted
    done = run_runner("--resume", run_id, "--results", str(results), "--seed", "7", "--repeat", "2")
    assert done.returncode == 0, done.stderr


def test_resume_refuses_an_edited_prompt_file(interrupted) -> None:
    results, run_id, *_ = interrupted
    prompts = Path(_meta(results)["prompts_file"])
    prompts.write_text(prompts.read_text() + "SLOW four\n")
    done = run_runner("--resume", run_id, "--results", str(results))
    assert done.returncode == 2 and "changed since the run began" in done.stderr


def test_resume_of_a_complete_run_runs_nothing(interrupted) -> None:
    results, run_id, *_ = interrupted
    assert run_runner("--resume", run_id, "--results", str(results)).returncode == 0
    lines = len(_records(results))
    again = run_runner("--resume", run_id, "--results", str(results))
    assert again.returncode == 0 and "nothing left" in again.stderr
    assert len(_records(results)) == lines
