"""Test helpers: free ports, an exporter subprocess on loopback, exposition parsing."""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class Clock:
    """A monotonic clock a test moves by hand (``clock.now += 1``)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class SensorFile:
    """A fixture's sensor file changed in place, as a driver changes its value: one fixed-width
    ``pwrite`` at offset 0, so a reader never sees it half-written, and the exporter, which keeps
    every attribute open and re-reads it with ``pread``, sees every new value."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_WRONLY)

    def write(self, value: int) -> None:
        os.pwrite(self.fd, f"{value:>10}\n".encode(), 0)

    def close(self) -> None:
        os.close(self.fd)


class PowerSource:
    """A power source the integrator samples, one VDD_IN rail at ``watts`` (set by the test),
    from a sensor stating ``interval`` as its update interval."""

    name, max_sample_hz = "ina3221", None

    def __init__(self, watts: float, interval: float | None) -> None:
        self.watts, self.interval = watts, interval

    def read_power(self, rlog: object) -> list:
        from edgemeter.exporter.sensors.power import PowerReading

        return [PowerReading("VDD_IN", "ina3221", self.watts)]

    def sensor_interval(self) -> float | None:
        return self.interval


def held_integral(amps: Callable[[float], float], step: float, t0: float, t1: float) -> float:
    """The exact integral (A s) over [t0, t1] of ``amps`` as ``driven`` writes it: held for each step."""
    total = 0.0
    for k in range(math.floor(t0 / step), math.floor(t1 / step) + 1):
        a, b = max(k * step, t0), min((k + 1) * step, t1)
        if b > a:
            total += amps(k * step) * (b - a)
    return total


@contextlib.contextmanager
def driven(
    path: Path, amps: Callable[[float], float], step: float, written: list[tuple[float, float]] | None = None
) -> Iterator[None]:
    """The sensor file ``path`` follows ``amps`` (A) of Unix time, as mA, changed every ``step``
    seconds on a thread, for as long as the block runs: the exact integral is known. With
    ``written``, each write's (Unix time just after it, amperes) is appended there, so a test at
    a step too short for the thread to keep exactly integrates what was really written
    (:func:`written_integral`)."""
    done = threading.Event()

    def drive() -> None:
        sensor = SensorFile(path)
        try:
            while not done.is_set():
                k = math.floor(time.time() / step)
                value = round(amps(k * step) * 1000)
                sensor.write(value)
                if written is not None:
                    written.append((time.time(), value / 1000))
                done.wait(max((k + 1) * step - time.time(), 0))
        finally:
            sensor.close()

    driver = threading.Thread(target=drive)
    driver.start()
    try:
        yield
    finally:
        done.set()
        driver.join()


def written_integral(written: list[tuple[float, float]], t0: float, t1: float) -> float:
    """The integral (A s) over [t0, t1] of the values ``driven`` wrote, each held until the next."""
    total = 0.0
    for k, (at, value) in enumerate(written):
        until = written[k + 1][0] if k + 1 < len(written) else math.inf
        total += value * max(min(until, t1) - max(at, t0), 0.0)
    return total


def free_ports(n: int) -> list[int]:
    """``n`` distinct free ports. All are bound at once: ports picked one after another, each
    socket closed before the next bind, can come back equal (a stack's exporter once got the
    Pushgateway's port and failed to start)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port() -> int:
    return free_ports(1)[0]


def samples(text: str) -> Samples:
    """Every sample of an exposition, keyed by (name, labels)."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def select(data: Samples, name: str, **labels: str) -> dict[frozenset[tuple[str, str]], float]:
    """The samples of one metric whose labels include ``labels``."""
    want = set(labels.items())
    return {lab: v for (n, lab), v in data.items() if n == name and want <= lab}


def value(data: Samples, name: str, **labels: str) -> float:
    found = select(data, name, **labels)
    assert len(found) == 1, f"{name}{labels}: {len(found)} matches in {sorted(found, key=str)[:5]}"
    return next(iter(found.values()))


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"process exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
            )
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port}")


@contextlib.contextmanager
def running(
    cmd: list[str], port: int, env: dict[str, str] | None = None, timeout: float = 10.0
) -> Iterator[subprocess.Popen]:
    """Run a server on loopback until the block ends; always stopped, never left behind."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}
    )
    try:
        wait_port(port, proc, timeout)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def exporter_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "edgemeter.exporter", *args]


def get(url: str, timeout: float = 10.0, headers: dict[str, str] | None = None) -> str:
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read().decode()


@contextlib.contextmanager
def native_stack(stack_dir: Path, sysfs: Path, procfs: Path, extra: str = "") -> Iterator[dict[str, int]]:
    """scripts/stack.sh up on free ports over a fixture board; always brought down again."""
    names = ("PROMETHEUS_PORT", "PUSHGATEWAY_PORT", "EXPORTER_PORT")
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    env = {
        **os.environ,
        **{k: str(v) for k, v in ports.items()},
        "STACK_DIR": str(stack_dir),
        "EXPORTER_ARGS": f"--sysfs {sysfs} --procfs {procfs} {extra}",
    }
    script = str(REPO / "scripts" / "stack.sh")
    up = subprocess.run(["bash", script, "up"], env=env, capture_output=True, text=True, timeout=120)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield ports
    finally:
        down = subprocess.run(["bash", script, "down"], env=env, capture_output=True, text=True, timeout=60)
        assert down.returncode == 0, down.stderr
        assert not list(stack_dir.glob("*.pid"))


def run_prompts_into_stack(
    ports: dict[str, int],
    prompts: Path,
    text: str,
    results: Path,
    max_tokens: int,
    token_delay: float = 0.01,
    backend: list[str] | None = None,
    extra: Sequence[str] = (),
) -> subprocess.CompletedProcess:
    """The runner pushing to a native stack's Pushgateway and reading the energy from its exporter
    at each prompt's edges: on the Ollama stand-in, or on the engine ``backend`` flags name."""
    from fake_ollama import FakeOllama

    prompts.write_text(text)
    if backend is not None:
        return _runner_into_stack(ports, prompts, results, max_tokens, [*backend, *extra])
    with FakeOllama(token_delay=token_delay) as ollama:
        flags = ["--backend", "ollama", "--model", "smollm2:135m", "--host", ollama.url, *extra]
        return _runner_into_stack(ports, prompts, results, max_tokens, flags)


def _runner_into_stack(
    ports: dict[str, int], prompts: Path, results: Path, max_tokens: int, backend: list[str]
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*runner_cmd(), "--prompts", str(prompts), *backend, "--results", str(results),
         "--max-tokens", str(max_tokens), "--pushgateway", f"http://127.0.0.1:{ports['PUSHGATEWAY_PORT']}",
         "--exporter-url", f"http://127.0.0.1:{ports['EXPORTER_PORT']}"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


PUSHGATEWAY_BIN = shutil.which("prometheus-pushgateway")


@contextlib.contextmanager
def pushgateway(tmp: Path) -> Iterator[str]:
    """Debian's Pushgateway on a free loopback port with its own persistence file; its URL."""
    assert PUSHGATEWAY_BIN, "prometheus-pushgateway is not installed (scripts/test.sh installs it)"
    port = free_port()
    cmd = [PUSHGATEWAY_BIN, f"--web.listen-address=127.0.0.1:{port}", f"--persistence.file={tmp / 'pg.db'}"]
    with running(cmd, port):
        yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def exporter_on(board: object, *flags: str) -> Iterator[str]:
    """The real exporter over a fixture board tree on a free loopback port; its URL."""
    port = free_port()
    cmd = exporter_cmd(
        "--listen",
        f"127.0.0.1:{port}",
        "--sysfs",
        str(board.sysfs),
        "--procfs",
        str(board.procfs),  # type: ignore[attr-defined]
        *(["--rootfs", str(board.rootfs)] if getattr(board, "rootfs", None) else []),
        *flags,
    )
    with running(cmd, port):
        time.sleep(0.3)  # let the sampler take a few readings
        yield f"http://127.0.0.1:{port}"


def runner_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "edgemeter.runner", *args]


def run_runner(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(runner_cmd(*args), capture_output=True, text=True, timeout=timeout, cwd=REPO)


def read_jsonl(path: Path) -> list[dict]:
    import json

    return [json.loads(line) for line in path.read_text().splitlines()]


def interrupt_after(
    cmd: list[str], results: Path, lines: int, sig: int = 2, timeout: float = 30
) -> tuple[int, str]:
    """Start the runner, send ``sig`` once ``lines`` records are on disk; (exit status, stderr)."""
    proc = subprocess.Popen(cmd, cwd=REPO, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            files = list(results.glob("*.jsonl"))
            if files and len(files[0].read_text().splitlines()) >= lines:
                break
            time.sleep(0.02)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=timeout)
        return proc.returncode, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
