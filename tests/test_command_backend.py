"""``--backend command`` against a fake engine that prints tokens with known delays and
llama2.c's / llama.cpp's statistics lines: timings and figures checked against what the fake did,
prompts with shell metacharacters reaching it verbatim, crashes, hangs, a missing binary."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_runner import meta, records, runner

from helpers import REPO, runner_cmd

FAKE = Path(__file__).with_name("fake_engine.py")
NASTY = """Say "hi"; rm -rf ~ && echo $(id) `uname` 'q' | cat > /tmp/x {seed} \\n %s *"""


def fake_cmd(record: Path, *extra: str) -> str:
    return f"{sys.executable} {FAKE} -i {{prompt}} -n {{max_tokens}} --record {record} {' '.join(extra)}"


def run_fake(tmp: Path, prompts: str, *extra: str, command: str | None = None, **kw: object):
    path = tmp / "p.txt"
    path.write_text(prompts)
    results = tmp / "r"
    command = command or fake_cmd(tmp / "rec.jsonl")
    done = runner(
        "--prompts", str(path), "--backend", "command", "--command", command, "--no-push",
        "--results", str(results), "--max-tokens", "10", "--quiet", *extra, **kw,
    )  # fmt: skip
    return done, results


def fake_runs(tmp: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp / "rec.jsonl").read_text().splitlines()]


def test_llama2c_figures_match_what_the_engine_did(tmp_path: Path) -> None:
    command = fake_cmd(tmp_path / "rec.jsonl", "--echo", "--first-delay", "0.3", "--token-delay", "0.04")
    done, results = run_fake(tmp_path, NASTY + "\n", "--preset", "llama2c", command=command)
    assert done.returncode == 0, done.stderr
    [rec], [fake] = records(results), fake_runs(tmp_path)
    assert fake["prompt"] == NASTY  # one argument, byte for byte: no shell ever saw it
    assert fake["argv"][:4] == ["-i", NASTY, "-n", "10"]
    printed = fake["printed"]
    assert rec["status"] == "ok" and rec["end_reason"] == "exit"
    assert rec["response"].split() == ["Once", *(f"tok{k}" for k in range(1, 10))]  # echo dropped
    # time to first token: the first generated text, not the echoed prompt: the fake's 0.3 s wait
    # plus the process start (a Python interpreter here)
    assert 0.3 <= rec["ttft_seconds"] < 0.3 + 1.5
    assert rec["ttft_seconds"] >= printed[0] - fake["start"]
    span = printed[-1] - printed[0]
    assert rec["decode_seconds"] == pytest.approx(span, abs=0.01)
    assert rec["sources"]["decode_seconds"] == "runner"
    assert rec["decode_tokens_per_second"] == pytest.approx(9 / span, rel=1e-5)  # the printed figure
    assert rec["sources"]["decode_tokens_per_second"] == "engine"
    assert rec["output_tokens"] == 10 and rec["token_count_source"] == "words"
    assert rec["mean_itl_seconds"] == pytest.approx(0.04, abs=0.005)


def test_llama_cli_figures_come_from_its_perf_lines(tmp_path: Path) -> None:
    command = fake_cmd(tmp_path / "rec.jsonl", "--stats", "llama-cli", "--first-delay", "0.25", "--eog")
    done, results = run_fake(tmp_path, "Name three primes.\n", "--preset", "llama-cli", command=command)
    assert done.returncode == 0, done.stderr
    [rec], [fake] = records(results), fake_runs(tmp_path)
    span = fake["printed"][-1] - fake["printed"][0]
    # 8 tokens, then an end of generation: 8 eval runs, 8 tokens (the sampler's runs would
    # include the prompt's 7); cut at the limit it would be runs + 1 (the real llama.cpp test)
    assert rec["output_tokens"] == 8 and rec["token_count_source"] == "engine_decoded"
    assert rec["input_tokens"] == 7
    assert rec["prefill_seconds"] == pytest.approx(0.25, abs=1e-5)
    assert rec["decode_seconds"] == pytest.approx(span, abs=1e-5)  # printed with 10 µs resolution
    assert rec["decode_tokens_per_second"] == pytest.approx(8 / span, rel=1e-3)  # runs / eval time
    assert rec["load_seconds"] == pytest.approx(0.12345)
    assert {rec["sources"][k] for k in ("prefill_seconds", "decode_seconds", "output_tokens")} == {"engine"}
    assert rec["response"] == "Once" + "".join(f" tok{k}" for k in range(1, 8)) + "\n"  # no [end of text]


def test_stats_regex_stdin_and_the_engine_lingering_after_its_last_byte(tmp_path: Path) -> None:
    rec_file = tmp_path / "rec.jsonl"
    command = f"{sys.executable} {FAKE} --stdin -n {{max_tokens}} --record {rec_file} --exit-delay 0.6"
    done, results = run_fake(
        tmp_path,
        json.dumps({"id": "q1", "prompt": NASTY}) + "\n",
        "--prompt-stdin",
        "--stats-regex",
        "tokens_per_second=achieved tok/s: ([0-9.]+)",
        command=command,
    )
    assert done.returncode == 0, done.stderr
    [rec], [fake] = records(results), fake_runs(tmp_path)
    assert fake["prompt"] == NASTY and "-i" not in fake["argv"]
    span = fake["printed"][-1] - fake["printed"][0]
    # decode ends at the last output byte; the engine's 0.6 s of freeing memory is not decoding
    assert rec["decode_seconds"] == pytest.approx(span, abs=0.01)
    assert rec["request_duration_seconds"] > rec["ttft_seconds"] + span + 0.55
    assert rec["decode_tokens_per_second"] == pytest.approx(9 / span, rel=1e-5)
    assert not rec["response"].startswith(NASTY[:4])  # no echo here, nothing stripped either


def test_without_figures_tokens_and_rate_are_the_runners_own(tmp_path: Path) -> None:
    command = fake_cmd(tmp_path / "rec.jsonl", "--stats", "none", "--token-delay", "0.05")
    done, results = run_fake(tmp_path, "hello\n", command=command)
    assert done.returncode == 0, done.stderr
    [rec], [fake] = records(results), fake_runs(tmp_path)
    span = fake["printed"][-1] - fake["printed"][0]
    assert rec["token_count_source"] == "words" and rec["output_tokens"] == 10
    assert rec["sources"]["decode_tokens_per_second"] == "runner"
    assert rec["decode_tokens_per_second"] == pytest.approx(9 / span, rel=0.05)


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("crash", "engine.sh exited with status 3: error: out of memory allocating the KV cache"),
        ("segv", "was killed by SIGSEGV"),
    ],
)
def test_a_failing_engine_is_that_prompts_error_and_the_run_goes_on(
    tmp_path: Path, mode: str, message: str
) -> None:
    rec_file = tmp_path / "rec.jsonl"
    command = f"{sys.executable} {FAKE} -i {{prompt}} --record {rec_file} --mode {mode} -n 6"
    fine = f"{sys.executable} {FAKE} -i {{prompt}} --record {rec_file} -n 6"
    # one template, two behaviours: the prompt chooses through a wrapper script
    wrapper = tmp_path / "engine.sh"
    bad, good = (c.replace("{prompt}", '"$1"') for c in (command, fine))
    wrapper.write_text(f'#!/bin/sh\ncase "$1" in BAD*) exec {bad} ;; esac\nexec {good}\n')
    wrapper.chmod(0o755)
    done, results = run_fake(tmp_path, "good one\nBAD one\ngood two\n", command=f"{wrapper} {{prompt}}")
    assert done.returncode == 1, done.stderr
    recs = records(results)
    assert [r["status"] for r in recs] == ["ok", "error", "ok"]
    assert message in recs[1]["error"]
    assert recs[1]["response"].split()[:2] == ["Once", "tok1"]  # what it printed before dying is kept


def test_a_hanging_engine_is_killed_at_the_timeout(tmp_path: Path) -> None:
    command = fake_cmd(tmp_path / "rec.jsonl", "--mode", "hang")
    start = time.monotonic()
    done, results = run_fake(
        tmp_path, "one\ntwo\n", "--timeout", "1.5", "--max-failures", "1", command=command
    )
    assert time.monotonic() - start < 15
    assert done.returncode == 1, done.stderr
    [rec] = records(results)  # --max-failures 1: the run stopped after it
    assert rec["status"] == "error" and "no end of reply within 1.5 s (--timeout)" in rec["error"]
    # a failed reply is still measured as text: decode ends at its last byte, not at the timeout
    [fake] = fake_runs(tmp_path)
    assert rec["decode_seconds"] == pytest.approx(fake["printed"][-1] - fake["printed"][0], abs=0.02)
    assert rec["output_tokens"] is None and rec["response"].split()[0] == "Once"
    assert meta(results)["status"] == "finished"
    for pid in _fake_pids(tmp_path):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def _fake_pids(tmp: Path) -> list[int]:
    out = subprocess.run(["pgrep", "-f", str(tmp / "rec.jsonl")], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def test_sigint_ends_the_prompt_and_kills_the_engine(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("one\ntwo\n")
    command = fake_cmd(tmp_path / "rec.jsonl", "--mode", "hang")
    proc = subprocess.Popen(
        [*runner_cmd(), "--prompts", str(tmp_path / "p.txt"), "--backend", "command",
         "--command", command, "--no-push", "--results", str(tmp_path / "r"), "--quiet"],
        cwd=REPO, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (tmp_path / "rec.jsonl").exists():
        time.sleep(0.05)
    assert _fake_pids(tmp_path), "the engine should be running"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    [rec] = records(tmp_path / "r")
    assert rec["status"] == "interrupted"
    # the engine's unfinished line was held back to classify it: the stop still keeps it
    # (--max-tokens 128: the hanging fake stops printing after token 64, 390 characters, one line)
    assert rec["response"].split() == ["Once", *(f"tok{k}" for k in range(1, 65))]
    time.sleep(0.2)
    assert not _fake_pids(tmp_path)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--command", "/nonexistent/run {prompt}"],
            "program '/nonexistent/run' not found or not executable",
        ),
        (["--command", "run_llama_that_is_not_installed {prompt}"], "not found or not executable"),
        (["--command", "cat {prompt} {steps}"], "unknown placeholder {steps}"),
        (["--command", "cat -n"], "has no {prompt} argument"),
        (["--command", "cat '{prompt}"], "No closing quotation"),
        ([], "--backend command needs --command TEMPLATE"),
        (["--command", "cat {prompt}", "--port", "/dev/ttyUSB0"], "--port applies to --backend serial"),
        (["--command", "cat {prompt}", "--stats-regex", "speed=([0-9]+)"], "unknown NAME 'speed'"),
        (["--command", "cat {prompt}", "--stats-regex", "tokens_per_second=[0-9]+"], "needs a group"),
        (["--command", "cat {prompt}", "--stats-regex", "output_tokens=(["], "unterminated"),
        (["--command", "cat {prompt}", "--timeout", "0"], "--timeout"),
    ],
)
def test_bad_command_flags_are_one_line_exit_2(tmp_path: Path, extra: list[str], message: str) -> None:
    (tmp_path / "p.txt").write_text("hi\n")
    done = runner("--prompts", str(tmp_path / "p.txt"), "--backend", "command", "--no-push",
                  "--results", str(tmp_path / "r"), *extra)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_flags_of_text_engines_are_refused_elsewhere(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("hi\n")
    done = runner("--prompts", str(tmp_path / "p.txt"), "--backend", "ollama", "--model", "m",
                  "--command", "cat {prompt}", "--no-push")  # fmt: skip
    assert done.returncode == 2 and "--command applies to --backend command, not ollama" in done.stderr


def test_resume_keeps_the_command(tmp_path: Path) -> None:
    command = fake_cmd(tmp_path / "rec.jsonl", "--mode", "hang")
    done, results = run_fake(tmp_path, "one\n", "--timeout", "1", command=command)
    assert done.returncode == 1
    run_id = meta(results)["run_id"]
    # the same run resumed: its command, timeout and preset come back from the meta file; the
    # hanging engine fails again the same way, which proves the saved template was used
    again = runner("--resume", run_id, "--results", str(results), "--no-push", "--quiet")
    assert again.returncode == 1, again.stderr
    assert [r["status"] for r in records(results)] == ["error", "error"]
    assert "within 1 s (--timeout)" in records(results)[1]["error"]


def test_an_engine_that_buffers_stdout_is_named(tmp_path: Path) -> None:
    command = fake_cmd(tmp_path / "rec.jsonl", "--mode", "noflush", "--token-delay", "0.1")
    done, results = run_fake(tmp_path, "one\ntwo\n", command=command)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("wrote its whole reply at once") == 1  # once per run, not per prompt
    assert "stdbuf -o0" in done.stderr
    assert all(r["response"].split()[:2] == ["Once", "tok1"] for r in records(results))


def test_placeholders_are_replaced_inside_arguments_and_never_rescanned() -> None:
    from edgemeter.runner.backends.text.command import fill, parse_template

    argv = parse_template(f"{sys.executable} --in={{prompt}} -n '{{max_tokens}} tokens' {{model}}", False)
    got = fill(
        argv, {"prompt": "a {seed} b; $(x)", "max_tokens": "7", "seed": "1", "temperature": "0", "model": "m"}
    )
    assert got == [sys.executable, "--in=a {seed} b; $(x)", "-n", "7 tokens", "m"]


def test_an_engine_that_exits_leaving_a_child_behind(tmp_path: Path) -> None:
    # the child holds stdout open: the runner stops reading shortly after the engine exits,
    # and the child goes with the engine's process group
    command = "sh -c 'echo \"$1\"; sleep 7.123 & exit 0' sh {prompt}"
    start = time.monotonic()
    done, results = run_fake(tmp_path, "hello there\n", "--timeout", "5", command=command)
    assert time.monotonic() - start < 4
    assert done.returncode == 0, done.stderr
    [rec] = records(results)
    assert rec["status"] == "ok" and rec["response"] == "hello there\n"
    left = subprocess.run(["pgrep", "-f", "sleep 7.123"], capture_output=True, text=True)
    assert left.stdout == ""


def test_a_commands_reply_ends_only_when_it_exits(tmp_path: Path) -> None:
    # [done] and a stats line on stdout are a serial reply's end, not a command's: the text that
    # follows them is still the reply (the stats line itself leaves the response)
    script = tmp_path / "engine.sh"
    script.write_text("#!/bin/sh\nprintf 'Hello %s\\n[done]\\nprompt tokens: 5\\nmore text\\n' \"$1\"\n")
    script.chmod(0o755)
    command = f"{script} {{prompt}}"
    done, results = run_fake(
        tmp_path, "there\n", "--stats-regex", r"input_tokens=prompt tokens: (\d+)", command=command
    )
    assert done.returncode == 0, done.stderr
    [rec] = records(results)
    assert rec["response"] == "Hello there\n[done]\nmore text\n" and rec["input_tokens"] == 5
