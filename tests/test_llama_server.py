"""The llama-server backend against a stand-in that follows the real server's measured facts:
decode rate as the server counts it, one-token replies, the chat template, the served model,
a server restarting between prompts, and a reply that stops coming (--timeout, SIGTERM)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from fake_llama_server import FakeLlamaServer

from helpers import REPO, read_jsonl, run_runner, runner_cmd


def _run(server: FakeLlamaServer, prompts: Path, results: Path, *more: str) -> subprocess.CompletedProcess:
    return run_runner(
        "--prompts", str(prompts), "--backend", "llama-server", "--host", server.url,
        "--results", str(results), "--no-push", *more,
    )  # fmt: skip


def _records(results: Path) -> list[dict]:
    [path] = results.glob("*.jsonl")
    return read_jsonl(path)


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    path = tmp_path / "p.txt"
    path.write_text("Why is the sky blue?\n")
    return path


def test_decode_rate_is_the_servers_own_and_a_one_token_reply_has_none(prompts: Path, tmp_path: Path) -> None:
    with FakeLlamaServer(loading_polls=0) as server:
        many = _run(server, prompts, tmp_path / "a", "--max-tokens", "32")
        one = _run(server, prompts, tmp_path / "b", "--max-tokens", "1")
    assert many.returncode == 0 and one.returncode == 0, many.stderr + one.stderr
    [r] = _records(tmp_path / "a")
    assert r["output_tokens"] == 14  # the stand-in's whole answer
    assert r["decode_tokens_per_second"] == pytest.approx(1e3 / (10.0 * 13) * 13, rel=1e-12)  # 100 tok/s
    [r1] = _records(tmp_path / "b")
    assert r1["output_tokens"] == 1
    assert r1["decode_tokens_per_second"] is None and r1["decode_seconds"] == 0.0  # not 1e6 tok/s


def test_raw_prompt_skips_the_chat_template(prompts: Path, tmp_path: Path) -> None:
    with FakeLlamaServer(loading_polls=0) as server:
        done = _run(server, prompts, tmp_path / "r", "--raw-prompt", "--max-tokens", "4")
        assert done.returncode == 0, done.stderr
        assert server.bodies[0]["prompt"] == "Why is the sky blue?" and not server.templated


def test_a_model_the_server_does_not_serve_is_refused(prompts: Path, tmp_path: Path) -> None:
    with FakeLlamaServer(loading_polls=0) as server:
        done = _run(server, prompts, tmp_path / "r", "--model", "llama3.2-1b.gguf")
        assert not server.bodies
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"runner: error: --model llama3.2-1b.gguf: the llama-server at {server.url} serves "
        "/models/smollm2-135m.gguf"
    )
    assert not list((tmp_path / "r").glob("*.jsonl"))


def test_a_server_restarting_between_prompts_is_waited_for(tmp_path: Path) -> None:
    prompts = tmp_path / "p.txt"
    prompts.write_text("RESTART now\nafter the restart\n")
    with FakeLlamaServer(loading_polls=0) as server:
        server.restart_seconds = 1.5
        done = _run(server, prompts, tmp_path / "r", "--max-tokens", "4")
    first, second = _records(tmp_path / "r")
    assert first["status"] == "error" and "cut short" in first["error"]
    assert second["status"] == "ok", second["error"]  # /health waited for, not counted as failed
    assert done.returncode == 1


def test_a_server_back_with_another_model_fails_the_next_prompt(tmp_path: Path) -> None:
    prompts = tmp_path / "p.txt"
    prompts.write_text("RESTART now\nafter the restart\n")
    with FakeLlamaServer(loading_polls=0) as server:
        server.restart_seconds = 0.3
        server.model_after_restart = "/models/other.gguf"
        _run(server, prompts, tmp_path / "r", "--max-tokens", "4")
    second = _records(tmp_path / "r")[1]
    assert second["status"] == "error" and "/models/other.gguf" in second["error"]


def test_timeout_bounds_a_reply_that_stops_coming(tmp_path: Path) -> None:
    prompts = tmp_path / "p.txt"
    prompts.write_text("HANG here\nnext one\n")
    with FakeLlamaServer(loading_polls=0) as server:
        start = time.monotonic()
        done = _run(server, prompts, tmp_path / "r", "--max-tokens", "6", "--timeout", "1")
        took = time.monotonic() - start
        server.released.set()
    hung, nxt = _records(tmp_path / "r")
    assert hung["status"] == "error" and "--timeout" in hung["error"]
    assert hung["response"] == "Blue light "  # what came before it stopped is kept
    assert 1.0 <= hung["request_duration_seconds"] < 2.0
    assert nxt["status"] == "ok"
    assert took < 10 and done.returncode == 1


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_a_silent_reply_within_a_second(tmp_path: Path, sig: int) -> None:
    prompts = tmp_path / "p.txt"
    prompts.write_text("HANG here\nnever sent\n")
    results = tmp_path / "r"
    with FakeLlamaServer(loading_polls=0) as server:
        cmd = runner_cmd(
            "--prompts", str(prompts), "--backend", "llama-server", "--host", server.url,
            "--results", str(results), "--no-push", "--max-tokens", "6",
        )  # fmt: skip
        proc = subprocess.Popen(cmd, cwd=REPO, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        try:
            deadline = time.monotonic() + 20
            while not server.bodies and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.3)  # the two tokens are out, the server now sends nothing
            sent = time.monotonic()
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=20)
            took = time.monotonic() - sent
        finally:
            server.released.set()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 130, err
    assert took < 1.5, took  # within a second, plus the process' own exit
    assert "Traceback" not in err
    [rec] = _records(results)
    assert rec["status"] == "interrupted" and rec["response"] == "Blue light "
    [meta_file] = results.glob("*.meta.json")
    assert json.loads(meta_file.read_text())["status"] == "interrupted"
