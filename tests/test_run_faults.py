"""Faults of the world never cost a run: an exporter that cannot be read, a full disk, a signal
at any moment, a prompt that is not text; and an empty figure always says why."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from fake_http import LocalServer
from fake_ollama import FakeOllama

from boardtrees import BOARDS
from helpers import REPO, exporter_cmd, free_port, read_jsonl, run_runner, runner_cmd, running

GOOD_PAGE = (
    b'# TYPE edge_board_info gauge\nedge_board_info{family="jetson",model="M",soc="s",kernel="k"} 1\n'
    b'# TYPE edge_energy_joules counter\nedge_energy_joules_total{rail="VDD_IN",source="ina3221"} 12.5\n'
    b'# TYPE edge_board_input_rail_info gauge\nedge_board_input_rail_info{rail="VDD_IN",rank="1"} 1\n'
)


class _FaultyExporter(BaseHTTPRequestHandler):
    """Serves a fault by ``server.mode``: cut (a body shorter than its Content-Length), html (a page
    that is not metrics), restarting (503), auth (basic auth wanted: user/pass), drop (no answer)."""

    server: LocalServer

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        mode = self.server.mode  # type: ignore[attr-defined]
        if mode == "drop":
            self.connection.shutdown(2)
            return
        if mode == "auth" and self.headers.get("Authorization") != "Basic dXNlcjpwQHNz":
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="edgemeter"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode == "restarting":
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"<html><body>Router login</body></html>" if mode == "html" else GOOD_PAGE
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body) + (500 if mode == "cut" else 0)))
        self.end_headers()
        self.wfile.write(body)
        if mode == "cut":
            self.wfile.flush()
            self.connection.shutdown(2)


@pytest.fixture
def faulty() -> Iterator[LocalServer]:
    with LocalServer(_FaultyExporter) as server:
        server.mode = "good"  # type: ignore[attr-defined]
        yield server


def _run(tmp: Path, exporter_url: str | None, prompts: str = "Why is the sky blue?\nName three primes.\n",
         *more: str) -> subprocess.CompletedProcess:  # fmt: skip
    path = tmp / "p.txt"
    path.write_text(prompts)
    with FakeOllama() as ollama:
        flags = ["--exporter-url", exporter_url] if exporter_url else []
        return run_runner(
            "--prompts", str(path), "--backend", "ollama", "--model", "smollm2:135m", "--host", ollama.url,
            "--results", str(tmp / "r"), "--no-push", "--max-tokens", "4", *flags, *more,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("mode", "why"),
    [("cut", "cut short"), ("html", "not a metrics page"), ("restarting", "503"), ("drop", "exporter")],
)
def test_an_unreadable_exporter_leaves_energy_empty_with_one_warning(
    faulty: LocalServer, tmp_path: Path, mode: str, why: str
) -> None:
    faulty.mode = mode  # type: ignore[attr-defined]
    done = _run(tmp_path, faulty.url)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    warnings = [line for line in done.stderr.splitlines() if "warning:" in line]
    assert len(warnings) == 1 and why in warnings[0], done.stderr
    recs = read_jsonl(next((tmp_path / "r").glob("*.jsonl")))
    assert [r["status"] for r in recs] == ["ok", "ok"] and all(r["energy_joules"] is None for r in recs)
    meta = json.loads(next((tmp_path / "r").glob("*.meta.json")).read_text())
    assert meta["status"] == "finished"
    assert "energy_J is - :" in done.stderr and why in done.stderr.split("energy_J is - :")[1]


def test_an_exporter_behind_basic_auth_is_read_with_the_urls_credentials(
    faulty: LocalServer, tmp_path: Path
) -> None:
    faulty.mode = "auth"  # type: ignore[attr-defined]
    url = faulty.url.replace("http://", "http://user:p%40ss@")
    done = _run(tmp_path, url)
    assert done.returncode == 0, done.stderr
    recs = read_jsonl(next((tmp_path / "r").glob("*.jsonl")))
    assert all(r["energy_joules"] == 0.0 and r["energy_rail"] == "VDD_IN" for r in recs)  # a constant page
    meta = json.loads(next((tmp_path / "r").glob("*.meta.json")).read_text())
    assert (
        meta["board"]["model"] == "M" and "p%40ss" not in json.dumps(meta) and "p@ss" not in json.dumps(meta)
    )


def test_an_https_exporter_that_cannot_be_verified_is_a_warning(tmp_path: Path) -> None:
    done = _run(tmp_path, "https://127.0.0.1:1/metrics")
    assert done.returncode == 0 and "Traceback" not in done.stderr
    assert any("warning:" in line and "https://127.0.0.1:1" in line for line in done.stderr.splitlines())


def _lines(results: Path) -> int:
    files = list(results.glob("*.jsonl"))
    return len(files[0].read_text().splitlines()) if files else 0


def _wait_lines(results: Path, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while _lines(results) < n and time.monotonic() < deadline:
        time.sleep(0.02)


def test_an_exporter_restarting_mid_run_costs_only_those_prompts(tmp_path: Path) -> None:
    orin = BOARDS["jetson_orin"](tmp_path / "orin")
    port = free_port()
    exporter = exporter_cmd(
        "--listen", f"127.0.0.1:{port}", "--sysfs", str(orin.sysfs), "--procfs", str(orin.procfs)
    )
    results = tmp_path / "r"
    path = tmp_path / "p.txt"
    path.write_text("".join(f"SLOW prompt {i}\n" for i in range(8)))
    with FakeOllama() as ollama:
        cmd = runner_cmd(
            "--prompts", str(path), "--backend", "ollama", "--model", "smollm2:135m", "--host", ollama.url,
            "--results", str(results), "--no-push", "--max-tokens", "3",
            "--exporter-url", f"http://127.0.0.1:{port}",
        )  # fmt: skip
        with running(exporter, port):
            proc = subprocess.Popen(
                cmd, cwd=REPO, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
            )
            _wait_lines(results, 2)
        gone = _lines(results)  # the exporter is down from here ...
        _wait_lines(results, gone + 2)
        with running(exporter, port):  # ... and back, on the same port
            _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    energy = [r["energy_joules"] for r in read_jsonl(next(results.glob("*.jsonl")))]
    assert energy[0] is not None and energy[-1] is not None  # before the restart and after it
    assert None in energy  # the prompts whose edges fell in the gap: empty, not made up
    assert sum("warning:" in line for line in err.splitlines()) == 1


def test_summary_says_why_energy_is_empty_without_an_exporter(tmp_path: Path) -> None:
    done = _run(tmp_path, None)
    assert done.returncode == 0 and "energy_J is - : no --exporter-url" in done.stderr


def test_a_lone_surrogate_is_a_file_line_error(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "a", "prompt": "fine"}\n{"id": "b", "prompt": "bad \\ud800 half"}\n')
    done = run_runner("--prompts", str(path), "--backend", "ollama", "--model", "m", "--no-push")
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == f"runner: error: {path}:2: 'prompt' holds \\ud800, half of a surrogate pair: not text"
    )


def test_no_library_log_lines_on_stderr(tmp_path: Path) -> None:
    done = _run(tmp_path, None)
    assert done.returncode == 0
    assert not [
        line for line in done.stderr.splitlines() if "HTTP Request" in line or line.startswith("INFO")
    ]


# from 0.15 s: before that the signal can land in the interpreter's own start-up, before any of
# edgemeter's code runs (Python's default handler then prints its KeyboardInterrupt)
@pytest.mark.parametrize("delay", [0.15, 0.3, 0.8, 1.5])
def test_a_signal_at_any_moment_never_prints_a_traceback(tmp_path: Path, delay: float) -> None:
    path = tmp_path / "p.txt"
    path.write_text("SLOW one\nSLOW two\n")
    with FakeOllama() as ollama:
        cmd = runner_cmd(
            "--prompts", str(path), "--backend", "ollama", "--model", "smollm2:135m", "--host", ollama.url,
            "--results", str(tmp_path / "r"), "--no-push", "--max-tokens", "6",
        )  # fmt: skip
        proc = subprocess.Popen(cmd, cwd=REPO, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.02)
        proc.send_signal(signal.SIGINT)  # a second Ctrl-C, right after the first
        _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert proc.returncode == 130, err


FULL_DISK_KIB = 96


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of a few KiB mounted for the test (root only; skipped where mounting is not allowed)."""
    where = tmp_path / "disk"
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FULL_DISK_KIB}k", "tmpfs", str(where)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_is_one_line_and_never_a_short_record(small_disk: Path, tmp_path: Path) -> None:
    results = small_disk / "results"
    # fill the disk so that the run's reserve, meta and a few records fit, then no more
    (small_disk / "filler").write_bytes(b"x" * (FULL_DISK_KIB - 64 - 16) * 1024)
    path = tmp_path / "p.txt"
    path.write_text("".join(f"prompt number {i} " + "pad " * 300 + "\n" for i in range(40)))
    with FakeOllama(token_delay=0.001) as ollama:
        args = ["--prompts", str(path), "--backend", "ollama", "--model", "smollm2:135m",
                "--host", ollama.url, "--results", str(results), "--no-push",
                "--max-tokens", "4"]  # fmt: skip
        done = run_runner(*args)
        assert done.returncode == 1, done.stderr
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith("runner: error: results file ") and "No space left on device" in last
        assert str(small_disk) in last and "--resume" in last
        assert "Traceback" not in done.stderr
        jsonl = next(results.glob("*.jsonl"))
        data = jsonl.read_bytes()
        assert data.endswith(b"\n") and all(json.loads(line) for line in data.splitlines())  # whole records
        saved = len(data.splitlines())
        assert 0 < saved < 40 and f"{saved} records saved" in last
        meta = json.loads(next(results.glob("*.meta.json")).read_text())
        assert meta["status"] == "failed" and "No space left" in meta["error"]
        again = run_runner("--resume", meta["run_id"], "--results", str(results))
        assert again.returncode != 0 and "Traceback" not in again.stderr
        assert "No space left on device" in again.stderr.strip().splitlines()[-1]
        assert len(jsonl.read_bytes().splitlines()) == saved
