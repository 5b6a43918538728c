"""``--backend serial`` against a fake ESP32 on a pseudo-terminal pair: timings and figures
checked against what the firmware did, the three ways a reply ends, a device that vanishes
mid-reply, and start-up errors."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from fake_serial import FakeEsp32
from test_runner import meta, records

from helpers import REPO, runner_cmd

pytest.importorskip("serial")
NASTY = """Say "hi"; rm -rf ~ && echo $(id) `uname` {prompt} %s"""


def run_serial(tmp: Path, device: str, prompts: str, *extra: str) -> tuple[subprocess.CompletedProcess, Path]:
    path = tmp / "p.jsonl"
    path.write_text(prompts)
    results = tmp / "r"
    done = subprocess.run(
        [*runner_cmd(), "--prompts", str(path), "--backend", "serial", "--port", device,
         "--model", "stories260K", "--no-push", "--results", str(results), "--quiet", *extra],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return done, results


def jsonl(*texts: str) -> str:
    return "".join(json.dumps({"id": f"p{i}", "prompt": t}) + "\n" for i, t in enumerate(texts, 1))


def test_figures_match_what_the_firmware_did(tmp_path: Path) -> None:
    with FakeEsp32(echo=True, first_delay=0.25, token_delay=0.04) as esp:
        done, results = run_serial(
            tmp_path, esp.device, jsonl(NASTY, "line one\nline two"), "--preset", "llama2c"
        )
    assert done.returncode == 0, done.stderr
    # the prompt reaches the firmware verbatim, one line each (a line break becomes a space)
    assert esp.received == [NASTY, "line one line two"]
    recs = records(results)
    for rec, printed, rate in zip(recs, esp.printed, esp.rates, strict=True):
        assert rec["status"] == "ok" and rec["end_reason"] == "marker"
        assert rec["response"] == "Once w1 w2 w3 w4 w5 w6 w7\n"  # echo, stats line and [done] gone
        assert 0.25 <= rec["ttft_seconds"] < 0.25 + 0.1
        span = printed[-1] - printed[0]
        assert rec["decode_seconds"] == pytest.approx(span, abs=0.01)
        assert rec["decode_tokens_per_second"] == pytest.approx(rate, rel=1e-5)  # the printed figure
        assert rec["output_tokens"] == 8 and rec["token_count_source"] == "words"
    m = meta(results)
    assert m["backend"] == "serial" and m["model"]["details"]["port"] == esp.device
    assert m["load_seconds"] >= 0.3 + 0.5  # the boot log (0.3 s) was read until the line went quiet
    assert esp.opens == 1


def test_without_a_marker_the_stats_line_ends_the_reply(tmp_path: Path) -> None:
    with FakeEsp32(marker=False) as esp:
        done, results = run_serial(tmp_path, esp.device, jsonl("a", "b"), "--preset", "llama2c")
    assert done.returncode == 0, done.stderr
    assert [r["end_reason"] for r in records(results)] == ["stats", "stats"]
    assert esp.received == ["a", "b"]


def test_without_marker_or_stats_silence_ends_the_reply(tmp_path: Path) -> None:
    with FakeEsp32(marker=False, stats=False) as esp:
        done, results = run_serial(tmp_path, esp.device, jsonl("a", "b"), "--idle-timeout", "0.5")
    assert done.returncode == 0, done.stderr
    recs = records(results)
    assert [r["end_reason"] for r in recs] == ["idle", "idle"]
    for rec, printed in zip(recs, esp.printed, strict=True):
        # the idle wait is not decoding: decode still ends at the last byte, and the rate is the runner's
        span = printed[-1] - printed[0]
        assert rec["decode_seconds"] == pytest.approx(span, abs=0.01)
        assert rec["decode_tokens_per_second"] == pytest.approx(7 / span, rel=0.05)
        assert rec["sources"]["decode_tokens_per_second"] == "runner"
        # the runner's own decode, not the device's span: under load the first byte arrives late
        # and the rest in a burst, so ttft + the device's span can exceed what the runner waited
        assert rec["request_duration_seconds"] >= rec["ttft_seconds"] + rec["decode_seconds"] + 0.5


def test_an_explicit_end_marker(tmp_path: Path) -> None:
    with FakeEsp32() as esp:
        done, results = run_serial(
            tmp_path, esp.device, jsonl("a"), "--end-marker", "[done]", "--preset", "llama2c"
        )
    assert done.returncode == 0, done.stderr
    [rec] = records(results)
    assert rec["end_reason"] == "marker"
    assert rec["decode_tokens_per_second"] == pytest.approx(esp.rates[0], rel=1e-5)


@pytest.mark.parametrize(
    ("max_failures", "statuses", "code"), [(1, ["ok", "error"], 1), (5, ["ok", "error", "error"], 1)]
)
def test_a_device_that_vanishes_mid_reply(
    tmp_path: Path, max_failures: int, statuses: list[str], code: int
) -> None:
    with FakeEsp32(vanish_at=2) as esp:
        done, results = run_serial(
            tmp_path, esp.device, jsonl("a", "b", "c"), "--max-failures", str(max_failures)
        )
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    recs = records(results)
    assert [r["status"] for r in recs] == statuses  # the run went on, or stopped, per --max-failures
    assert f"serial device {esp.device} lost" in recs[1]["error"]
    assert recs[1]["response"].split()[:2] == ["Once", "w1"]  # what came before the loss is kept
    assert recs[0]["response"].startswith("Once w1")
    assert meta(results)["status"] == "finished"


def test_a_reply_that_never_ends_fails_at_the_timeout(tmp_path: Path) -> None:
    with FakeEsp32(first_delay=30) as esp:
        done, results = run_serial(tmp_path, esp.device, jsonl("a"), "--timeout", "1")
    assert done.returncode == 1
    [rec] = records(results)
    assert "no end of reply within 1 s (--timeout)" in rec["error"]


def test_ready_marker_waits_for_the_firmware(tmp_path: Path) -> None:
    with FakeEsp32() as esp:
        done, results = run_serial(tmp_path, esp.device, jsonl("a"), "--ready-marker", "loaded")
    assert done.returncode == 0, done.stderr
    # the ready line comes 0.3 s after the open; waiting for quiet would take 0.5 s more
    assert 0.3 <= meta(results)["load_seconds"] < 0.6
    (tmp_path / "2").mkdir()
    with FakeEsp32() as esp:
        done, _ = run_serial(
            tmp_path / "2", esp.device, jsonl("a"), "--ready-marker", "never", "--timeout", "1"
        )
    assert done.returncode == 3 and "no line with 'never'" in done.stderr


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--port", "/dev/does-not-exist"], 3, "cannot open serial port /dev/does-not-exist"),
        ([], 2, "--backend serial needs --port DEV"),
        (["--port", "/dev/x", "--prompt-stdin"], 2, "--prompt-stdin applies to --backend command"),
        (["--port", "/dev/x", "--idle-timeout", "-1"], 2, "--idle-timeout"),
    ],
)
def test_start_up_errors(tmp_path: Path, extra: list[str], code: int, message: str) -> None:
    (tmp_path / "p.txt").write_text("hi\n")
    done = subprocess.run(
        [*runner_cmd(), "--prompts", str(tmp_path / "p.txt"), "--backend", "serial",
         "--model", "m", "--no-push", "--results", str(tmp_path / "r"), *extra],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == code, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_sigint_mid_reply_keeps_what_arrived(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("a\nb\n")
    with FakeEsp32(token_delay=1.0) as esp:
        proc = subprocess.Popen(
            [*runner_cmd(), "--prompts", str(tmp_path / "p.txt"), "--backend", "serial",
             "--port", esp.device, "--model", "m", "--no-push", "--results", str(tmp_path / "r"), "--quiet"],
            cwd=REPO, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (esp.printed and len(esp.printed[0]) >= 2):
            time.sleep(0.05)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    [rec] = records(tmp_path / "r")
    assert rec["status"] == "interrupted"
    assert rec["response"].split() == ["Once", "w1"]  # an unfinished line, held back, still kept


def test_a_reply_cut_off_by_the_timeout_never_leaks_into_the_next(tmp_path: Path) -> None:
    # the firmware goes on generating after the runner gives up: that tail, its stats and [done]
    # must not become the next prompt's reply. The port is reopened (an ESP32 resets) and settled
    # before the next prompt's clock starts.
    with FakeEsp32(tokens=6, long_tokens=40, token_delay=0.05) as esp:
        done, results = run_serial(
            tmp_path, esp.device, jsonl("LONG a", "b", "c"), "--timeout", "1", "--preset", "llama2c"
        )
    assert done.returncode == 1, done.stderr
    recs = records(results)
    assert [r["status"] for r in recs] == ["error", "ok", "ok"]
    assert "within 1 s (--timeout)" in recs[0]["error"]
    for rec in recs[1:]:
        assert rec["response"] == "Once w1 w2 w3 w4 w5\n"  # its own reply, nothing of the cut one
        assert rec["ttft_seconds"] < 0.15 + 0.1  # the reopening wait is not in its time
    assert esp.received == ["LONG a", "b", "c"]


def test_a_cut_off_reply_with_slow_tokens_runs_out_before_the_next_prompt(tmp_path: Path) -> None:
    # gaps between tokens longer than the 0.5 s boot settle: only reading the old reply to its
    # end keeps it out of the next one (the fake, like a board without auto-reset, never resets)
    with FakeEsp32(tokens=2, long_tokens=8, token_delay=0.7) as esp:
        done, results = run_serial(
            tmp_path, esp.device, jsonl("LONG a", "b", "c"), "--timeout", "2", "--preset", "llama2c"
        )
    recs = records(results)
    assert [r["status"] for r in recs] == ["error", "ok", "ok"], done.stderr
    assert [r["response"] for r in recs[1:]] == ["Once w1\n", "Once w1\n"]
    assert all(
        r["decode_tokens_per_second"] == pytest.approx(rate)
        for r, rate in zip(recs[1:], esp.rates[1:], strict=True)
    )
