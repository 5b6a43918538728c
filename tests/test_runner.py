"""The runner end to end against a local server speaking Ollama's API, a real Pushgateway and a
real exporter: records, pushes, energy per prompt, failures, interrupts and resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_ollama import FakeOllama

import contract
from boardtrees import BOARDS
from helpers import REPO, exporter_cmd, free_port, free_ports, get, running, samples, select

PUSHGATEWAY = shutil.which("prometheus-pushgateway")
MODEL = "smollm2:135m"


def runner(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edgemeter.runner", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


def records(results: Path) -> list[dict]:
    [path] = results.glob("*.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def meta(results: Path) -> dict:
    [path] = results.glob("*.meta.json")
    return json.loads(path.read_text())


@pytest.fixture
def ollama():
    with FakeOllama(token_delay=0.02) as server:
        yield server


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    path = tmp_path / "prompts.txt"
    path.write_text("# two prompts\nWhy is the sky blue?\nCACHED Why is the sea blue?\n")
    return path


def ollama_args(url: str, prompts: Path, results: Path, *more: str) -> list[str]:
    return [
        "--prompts",
        str(prompts),
        "--backend",
        "ollama",
        "--model",
        MODEL,
        "--host",
        url,
        "--results",
        str(results),
        "--max-tokens",
        "8",
        *more,
    ]


def test_records_every_figure_with_its_source(ollama, prompts: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    done = runner(*ollama_args(ollama.url, prompts, results, "--no-push", "--repeat", "2", "--warmup", "1"))
    assert done.returncode == 0, done.stderr
    recs = records(results)
    assert [(r["prompt_id"], r["repetition"], r["warmup"]) for r in recs] == [
        ("2", 1, True),
        ("2", 1, False),
        ("3", 1, False),
        ("2", 2, False),
        ("3", 2, False),
    ]
    r = recs[1]
    assert r["status"] == "ok" and r["response"].startswith("The sky looks blue")
    assert r["output_tokens"] == 8 and r["sources"]["output_tokens"] == "engine"
    assert r["input_tokens"] == 5 + 12 and not r["cached_prompt"]  # the fake counts words + 12
    assert 0.015 < r["ttft_seconds"] < 0.5  # the fake's prefill delay, measured by the runner
    assert r["first_token_at"] - r["started_at"] == pytest.approx(r["ttft_seconds"])
    assert r["decode_tokens_per_second"] == pytest.approx(8 / r["decode_seconds"])
    assert 0.015 < r["mean_itl_seconds"] < 0.2
    assert r["ended_at"] > r["first_token_at"] > r["started_at"]
    cached = recs[2]
    assert cached["cached_prompt"] and cached["input_tokens"] is None  # omitted by Ollama: not a 0
    m = meta(results)
    assert m["status"] == "finished" and m["backend_version"] == "0.6.5"
    assert m["model"]["digest"].startswith("9077fe9d") and m["load_seconds"] == pytest.approx(0.412)
    assert m["run_id"] in done.stderr
    generate = [q for q in ollama.requests if q["path"] == "/api/generate" and q.get("prompt")]
    assert generate[0]["options"]["num_predict"] == 8 and generate[0]["stream"] is True


def test_missing_model_says_ollama_pull(ollama, prompts: Path, tmp_path: Path) -> None:
    done = runner(
        *ollama_args(ollama.url, prompts, tmp_path / "r", "--model", "llama9:70b")
    )  # the last --model wins
    assert done.returncode == 2
    assert "ollama pull llama9:70b" in done.stderr and "Traceback" not in done.stderr


def test_unreachable_backend_is_exit_3_before_any_prompt(prompts: Path, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = runner(*ollama_args(url, prompts, tmp_path / "r"))
    assert done.returncode == 3, done.stderr
    assert url in done.stderr and "Traceback" not in done.stderr
    assert (
        not list((tmp_path / "r").glob("*.jsonl")) or not (next((tmp_path / "r").glob("*.jsonl"))).read_text()
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--prompts", "/does/not/exist.txt"], "/does/not/exist.txt: no such file"),
        (["--repeat", "0"], "--repeat"),
        (["--max-tokens", "-3"], "--max-tokens"),
        (["--backend", "vllm"], "--backend"),
        (["--resume", "nope"], "--resume nope: no such run"),
        (["--backend", "ollama"], "needs --model"),
        (["--backend", "llamacpp", "--model", "/no/model.gguf"], "/no/model.gguf: no such GGUF file"),
    ],
)
def test_bad_input_is_one_line_exit_2(prompts: Path, tmp_path: Path, args: list[str], needle: str) -> None:
    base = ["--prompts", str(prompts)] if "--prompts" not in args else []
    done = runner(*base, *args, "--results", str(tmp_path / "r"), "--no-push")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert any(needle in line for line in lines) and "Traceback" not in done.stderr, done.stderr


def test_backend_dying_mid_prompt_is_that_prompts_error(ollama, tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_text("first\nCRASH now\nthird\n")
    results = tmp_path / "r"
    done = runner(*ollama_args(ollama.url, path, results, "--no-push"))
    assert done.returncode == 1, done.stderr
    statuses = [(r["prompt_id"], r["status"]) for r in records(results)]
    assert statuses == [("1", "ok"), ("2", "error"), ("3", "ok")]
    assert records(results)[1]["error"]


def test_stops_after_max_failures_in_a_row(ollama, tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_text("CRASH a\nCRASH b\nCRASH c\nfine\n")
    results = tmp_path / "r"
    done = runner(*ollama_args(ollama.url, path, results, "--no-push", "--max-failures", "2"))
    assert done.returncode == 1
    assert [r["status"] for r in records(results)] == ["error", "error"]
    assert "--max-failures" in done.stderr


def test_sigint_mid_run_then_resume(ollama, tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_text("\n".join(f"SLOW prompt {i}" for i in range(1, 6)) + "\n")
    results = tmp_path / "r"
    args = [
        sys.executable,
        "-m",
        "edgemeter.runner",
        *ollama_args(ollama.url, path, results, "--no-push", "--max-tokens", "4"),
    ]
    proc = subprocess.Popen(args, cwd=REPO, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until two prompts are on disk
        files = list(results.glob("*.jsonl"))
        if files and len(files[0].read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    before = records(results)  # every line valid JSON
    assert meta(results)["status"] == "interrupted"
    ok = {r["prompt_id"] for r in before if r["status"] == "ok"}
    assert 2 <= len(ok) < 5
    run_id = meta(results)["run_id"]
    done = runner("--resume", run_id, "--results", str(results), "--no-push", "--host", ollama.url)
    assert done.returncode == 0, done.stderr
    after = records(results)
    finished = [r["prompt_id"] for r in after if r["status"] == "ok"]
    assert sorted(finished) == ["1", "2", "3", "4", "5"]  # each exactly once: done ones were skipped
    assert meta(results)["status"] == "finished"


@pytest.mark.skipif(PUSHGATEWAY is None, reason="Debian prometheus-pushgateway not installed")
def test_pushes_contract_metrics_and_energy_per_prompt(ollama, prompts: Path, tmp_path: Path) -> None:
    orin = BOARDS["jetson_orin"](tmp_path / "orin")
    pg_port, exp_port = free_ports(2)
    pg_cmd = [
        PUSHGATEWAY,
        f"--web.listen-address=127.0.0.1:{pg_port}",
        f"--persistence.file={tmp_path / 'pg.db'}",
    ]
    exp = exporter_cmd(
        "--listen", f"127.0.0.1:{exp_port}", "--sysfs", str(orin.sysfs), "--procfs", str(orin.procfs)
    )
    results = tmp_path / "r"
    with running(pg_cmd, pg_port), running(exp, exp_port):
        time.sleep(0.5)  # let the sampler take a few readings
        done = runner(
            *ollama_args(
                ollama.url,
                prompts,
                results,
                "--pushgateway",
                f"http://127.0.0.1:{pg_port}",
                "--exporter-url",
                f"http://127.0.0.1:{exp_port}",
            )
        )
        assert done.returncode == 0, done.stderr
        page = get(f"http://127.0.0.1:{pg_port}/metrics")
    data = samples(page)
    run_id = meta(results)["run_id"]
    tokens = select(data, "edge_llm_output_tokens_total", run_id=run_id, prompt_id="2")
    assert list(tokens.values()) == [8.0]
    assert ("backend", "ollama") in next(iter(tokens)) and ("model", MODEL) in next(iter(tokens))
    ttft = select(data, "edge_llm_time_to_first_token_seconds", run_id=run_id, prompt_id="2")
    assert list(ttft.values()) == [pytest.approx(records(results)[0]["ttft_seconds"])]
    assert select(data, "edge_llm_prompts_total", run_id=run_id, status="ok")
    assert all("Why is" not in v for key in data for _, v in key[1])  # never the prompt text in a label
    rec = records(results)[0]
    # VDD_IN is 5.08 V x 1.24 A = 6.2992 W in the fixture: energy = power x the prompt's window
    assert rec["energy_rail"] == "VDD_IN"
    assert rec["energy_joules"] == pytest.approx(6.2992 * rec["request_duration_seconds"], rel=0.5, abs=0.05)
    pushed = select(data, "edge_llm_prompt_energy_joules", run_id=run_id, prompt_id="2", rail="VDD_IN")
    assert list(pushed.values()) == [pytest.approx(rec["energy_joules"])]
    assert contract.problems(page, runner=True) == []
    assert contract.missing(page, runner=True) == []


def test_a_dead_pushgateway_never_stops_the_run(ollama, prompts: Path, tmp_path: Path) -> None:
    results = tmp_path / "r"
    dead = f"http://127.0.0.1:{free_port()}"
    done = runner(*ollama_args(ollama.url, prompts, results, "--pushgateway", dead))
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("push failed") == 1  # warned once
    assert len(records(results)) == 2
    assert os.path.getsize(next(results.glob("*.jsonl"))) > 0


def test_llama_server_backend_uses_the_servers_timings(prompts: Path, tmp_path: Path) -> None:
    from fake_llama_server import FakeLlamaServer

    results = tmp_path / "r"
    with FakeLlamaServer(loading_polls=2) as server:
        done = runner(
            "--prompts",
            str(prompts),
            "--backend",
            "llama-server",
            "--model",
            "smollm2-135m",
            "--host",
            server.url,
            "--results",
            str(results),
            "--no-push",
            "--max-tokens",
            "6",
        )
        bodies = server.bodies
    assert done.returncode == 0, done.stderr
    r = records(results)[0]
    assert r["output_tokens"] == 6 and r["input_tokens"] == 9
    assert r["prefill_seconds"] == pytest.approx(0.0205) and r["decode_seconds"] == pytest.approx(0.05)
    # the server's own predicted_per_second: 5 decoded tokens (the first came from prefill) / 50 ms
    assert r["decode_tokens_per_second"] == pytest.approx(100.0, rel=1e-12)
    assert r["sources"]["decode_seconds"] == "engine"
    assert r["response"].startswith("Blue light is")
    assert bodies[0]["cache_prompt"] is False and bodies[0]["stream"] is True and bodies[0]["n_predict"] == 6
    # through the model's chat template, rendered by the server before the prompt's clock
    assert bodies[0]["prompt"] == "<|im_start|>user\nWhy is the sky blue?<|im_end|>\n<|im_start|>assistant\n"
    m = meta(results)
    assert m["backend_version"] == "b6000-abcdef0" and m["model"]["name"] == "smollm2-135m.gguf"
    assert m["model"]["path"] == "/models/smollm2-135m.gguf" and r["model"] == "smollm2-135m.gguf"


@pytest.mark.skipif(PUSHGATEWAY is None, reason="Debian prometheus-pushgateway not installed")
def test_delete_after_removes_the_runs_group(ollama, prompts: Path, tmp_path: Path) -> None:
    pg_port = free_port()
    pg_cmd = [PUSHGATEWAY, f"--web.listen-address=127.0.0.1:{pg_port}"]
    url = f"http://127.0.0.1:{pg_port}"
    with running(pg_cmd, pg_port):
        kept = runner(*ollama_args(ollama.url, prompts, tmp_path / "kept", "--pushgateway", url))
        deleted = runner(
            *ollama_args(
                ollama.url, prompts, tmp_path / "gone", "--pushgateway", url, "--delete-after", "0.3"
            )
        )
        assert kept.returncode == deleted.returncode == 0, deleted.stderr
        assert "deleting the run's Pushgateway group in 0.3 s" in deleted.stderr
        data = samples(get(f"{url}/metrics"))
    assert select(data, "edge_llm_prompts_total", run_id=meta(tmp_path / "kept")["run_id"])
    assert not select(data, "edge_llm_prompts_total", run_id=meta(tmp_path / "gone")["run_id"])


def test_progress_bar_on_a_terminal(ollama, prompts: Path, tmp_path: Path) -> None:
    """stderr on a pseudo-terminal: a redrawn bar, then the summary on lines of its own."""
    master, slave = os.openpty()
    args = [
        sys.executable,
        "-m",
        "edgemeter.runner",
        *ollama_args(ollama.url, prompts, tmp_path / "r", "--no-push"),
    ]
    proc = subprocess.Popen(args, cwd=REPO, stderr=slave, stdout=subprocess.DEVNULL)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the runner closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert proc.wait(30) == 0
    text = out.decode()
    assert "\r\x1b[K[###############...............] prompt 1/2" in text
    assert "\r\x1b[K[##############################] prompt 2/2" in text
    assert "\nprompt_id  runs  failed" in text.replace("\r\n", "\n")  # the bar ended its line first
