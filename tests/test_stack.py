"""The native stack (scripts/stack.sh): Debian's Prometheus and Pushgateway with our config and
rules, our exporter on a fixture board, the runner pushing into it; Prometheus must end up with
the board's series, the run's series and the recording rules' results."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from boardtrees import BOARDS
from helpers import REPO, native_stack, run_prompts_into_stack

sys.path.insert(0, str(REPO / "grafana"))
from build_dashboards import DASHBOARDS

pytestmark = pytest.mark.skipif(
    not (shutil.which("prometheus") and shutil.which("prometheus-pushgateway")),
    reason="Debian prometheus and prometheus-pushgateway not installed (scripts/test.sh installs them)",
)
PROMTOOL = shutil.which("promtool")


def test_promtool_checks_config_and_rules_and_runs_the_rule_unit_tests() -> None:
    prom = REPO / "prometheus"
    for args in (
        ["check", "config", "prometheus.yml"],
        ["check", "rules", *sorted(str(p) for p in (prom / "rules").glob("*.yml"))],
        ["test", "rules", "tests/rules_test.yml"],
    ):
        done = subprocess.run([PROMTOOL, *args], cwd=prom, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def query(port: int, expr: str) -> list[dict]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as r:
        body = json.load(r)
    assert body["status"] == "success", body
    return body["data"]["result"]


def wait_for(port: int, expr: str, timeout: float = 40) -> list[dict]:
    """Prometheus scrapes only after its first service discovery update: poll, never trust /-/ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := query(port, expr):
            return result
        time.sleep(0.5)
    raise AssertionError(f"no data for {expr} after {timeout} s")


# Panels that have no data on a Jetson Orin fixture with every collector healthy.
EMPTY_ON_ORIN = {"Throttling (Raspberry Pi firmware)", "Collectors failing", "Boards throttling now"}


def substitute(expr: str, run_id: str) -> str:
    for var, value in (("$__rate_interval", "30s"), ("$instance", ".*"), ("$run", run_id), ("$model", ".*"),
                       ("$board", ".*"), ("$location", ".*")):  # fmt: skip
        expr = expr.replace(var, value)
    return expr


def check_every_panel(port: int, run_id: str) -> None:
    """Every dashboard panel's query and every annotation query, variables substituted, evaluated
    against the live Prometheus: no errors, and data wherever this board should have some."""
    for name, dashboard in DASHBOARDS.items():
        for annotation in dashboard["annotations"]["list"]:
            assert query(port, substitute(annotation["expr"], run_id)), (name, annotation["name"])
        for panel in dashboard["panels"]:
            results = [query(port, substitute(t["expr"], run_id)) for t in panel["targets"]]
            if panel["title"] in EMPTY_ON_ORIN:
                continue
            deadline = time.monotonic() + 20
            while not any(results) and time.monotonic() < deadline:  # rate() needs two samples
                time.sleep(1)
                results = [query(port, substitute(t["expr"], run_id)) for t in panel["targets"]]
            assert any(results), f"{name}: panel {panel['title']!r} has no data"


def test_native_stack_collects_board_and_run(tmp_path: Path) -> None:
    orin = BOARDS["jetson_orin"](tmp_path / "orin")
    with native_stack(tmp_path / "stack", orin.sysfs, orin.procfs, "--process ollama") as ports:
        prom = ports["PROMETHEUS_PORT"]
        prompts = (
            '{"id": "1", "prompt": "Why is the sky blue?", "expected": "blue"}\n'
            '{"id": "2", "prompt": "Name three primes.", "expected": "2, 3, 5"}\n'
        )
        run = run_prompts_into_stack(
            ports, tmp_path / "p.jsonl", prompts, tmp_path / "r", 8, extra=["--idle", "1"]
        )
        assert run.returncode == 0, run.stderr
        board = wait_for(prom, 'edge_power_watts{rail="VDD_IN", job="edgemeter", board="local"}')
        assert float(board[0]["value"][1]) == pytest.approx(6.2992)
        tokens = wait_for(prom, 'edge_llm_output_tokens_total{job="edgemeter_runner"}')
        assert {r["metric"]["prompt_id"] for r in tokens} == {"1", "2"}
        assert all(r["metric"]["backend"] == "ollama" and r["metric"]["run_id"] for r in tokens)
        assert wait_for(prom, 'rail:edge_power_from_energy_watts:rate30s{rail="VDD_IN"}')
        assert wait_for(prom, "run:edge_llm_output_tokens:sum")[0]["value"][1] == "16"
        assert wait_for(prom, 'up{job="edgemeter"} == 1')
        check_every_panel(prom, tokens[0]["metric"]["run_id"])


def test_a_busy_port_is_an_error_not_another_stacks_exporter(tmp_path: Path) -> None:
    """An exporter already on the port (another stack's) must not pass for ours, which died on it."""
    import os
    import socket

    from helpers import free_port

    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        busy = other.getsockname()[1]
        env = {**os.environ, "STACK_DIR": str(tmp_path / "stack"), "EXPORTER_PORT": str(busy),
               "PROMETHEUS_PORT": str(free_port()), "PUSHGATEWAY_PORT": str(free_port())}  # fmt: skip
        script = str(REPO / "scripts" / "stack.sh")
        try:
            up = subprocess.run(["bash", script, "up"], env=env, capture_output=True, text=True, timeout=120)
        finally:
            subprocess.run(["bash", script, "down"], env=env, capture_output=True, text=True, timeout=60)
    assert up.returncode != 0
    assert f"127.0.0.1:{busy} is already in use" in up.stderr and "running" not in up.stdout
    assert not list((tmp_path / "stack").glob("*.pid"))
