"""The command and serial backends end to end on a native stack: a fake llama2.c engine and a
fake ESP32 run with pushes and energy per prompt, then ``runner export`` turns each run into rows
aligned with the board's series, the same as for Ollama or llama.cpp."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from fake_serial import FakeEsp32
from test_command_backend import FAKE
from test_export import VDD_IN_WATTS, orin_stack, rows, run_cli
from test_stack import pytestmark as stack_mark
from test_stack import query, wait_for

from helpers import run_prompts_into_stack

pytestmark = stack_mark
PROMPTS = 'Once upon a time\nA prompt with "quotes"; and $(a subshell)\n'


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("text-engines")
    with orin_stack(tmp) as ports:
        yield tmp, ports


def _exported(tmp: Path, ports: dict[str, int], results: Path, name: str) -> tuple[list[dict], list[dict]]:
    """The run's records, and its rows once Prometheus holds its last prompt's end."""
    recs = [json.loads(line) for line in next(results.glob("*.jsonl")).read_text().splitlines()]
    run_id = recs[0]["run_id"]
    prom = ports["PROMETHEUS_PORT"]
    wait_for(prom, f'count(edge_llm_prompt_end_timestamp_seconds{{run_id="{run_id}"}}) == {len(recs)}')
    time.sleep(2)  # a sample after the last prompt's end edge
    out = tmp / f"{name}.csv"
    done = run_cli("export", "--prometheus", f"http://127.0.0.1:{prom}", "--run", run_id, "--out", str(out),
                   "--results", str(results))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return recs, rows(out)


def _check(recs: list[dict], got: list[dict], backend: str, model: str, ports: dict[str, int]) -> None:
    assert [r["prompt_id"] for r in got] == ["1", "2"]
    for row, rec in zip(got, recs, strict=True):
        assert rec["status"] == "ok" and row["status"] == "ok"
        assert (row["backend"], row["model"]) == (backend, model)
        assert int(row["output_tokens"]) == rec["output_tokens"] == 8
        assert float(row["decode_tokens_per_second"]) == pytest.approx(rec["decode_tokens_per_second"])
        assert float(row["ttft_seconds"]) == pytest.approx(rec["ttft_seconds"])
        assert float(row["energy_joules"]) == pytest.approx(rec["energy_joules"])
        assert float(row["avg_power_watts"]) == pytest.approx(VDD_IN_WATTS, rel=0.05)
        pushed = query(
            ports["PROMETHEUS_PORT"],
            f'edge_llm_output_tokens_per_second{{run_id="{rec["run_id"]}",prompt_id="{rec["prompt_id"]}"}}',
        )
        assert [float(p["value"][1]) for p in pushed] == [pytest.approx(rec["decode_tokens_per_second"])]
        assert pushed[0]["metric"]["backend"] == backend


def test_command_backend_pushes_and_exports(stack) -> None:
    tmp, ports = stack
    results = tmp / "command"
    command = (
        f"{sys.executable} {FAKE} -i {{prompt}} -n {{max_tokens}} --echo --first-delay 0.3 --token-delay 0.1"
    )
    flags = ["--backend", "command", "--command", command, "--preset", "llama2c", "--model", "stories15M.bin"]
    done = run_prompts_into_stack(ports, tmp / "p.txt", PROMPTS, results, 8, backend=flags)
    assert done.returncode == 0, done.stderr
    recs, got = _exported(tmp, ports, results, "command")
    _check(recs, got, "command", "stories15M.bin", ports)


def test_serial_backend_pushes_and_exports(stack) -> None:
    tmp, ports = stack
    results = tmp / "serial"
    with FakeEsp32(first_delay=0.3, token_delay=0.1) as esp:
        flags = ["--backend", "serial", "--port", esp.device, "--model", "stories260K", "--preset", "llama2c"]
        done = run_prompts_into_stack(ports, tmp / "p.txt", PROMPTS, results, 8, backend=flags)
    assert done.returncode == 0, done.stderr
    assert esp.received == PROMPTS.splitlines()
    recs, got = _exported(tmp, ports, results, "serial")
    _check(recs, got, "serial", "stories260K", ports)
