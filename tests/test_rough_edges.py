"""Rough edges a new user hit, each pinned: the runner's help, a garbage model file, the summary
table's shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgemeter.runner.progress import summary
from edgemeter.runner.record import PromptRecord

from helpers import run_runner


def _record(pid: str, **figures: object) -> PromptRecord:
    fields = dict.fromkeys(PromptRecord.__dataclass_fields__)
    fields.update(run_id="r", prompt_id=pid, repetition=1, warmup=False, backend="b", model="m", prompt="p",
                  response="", status="ok", error=None, started_at=0.0, sources={}, energy_by_rail={},
                  engine_figures={}, cached_prompt=False)  # fmt: skip
    fields.update(figures)
    return PromptRecord(**fields)


def test_help_lists_the_subcommands_and_every_default() -> None:
    done = run_runner("--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "runner export --run RUN_ID" in text and "runner report --run RUN_ID" in text
    for default in (
        "--max-tokens N most tokens per reply (default: 128)",
        "--timeout SECONDS longest a prompt may take, every backend (default 600)",
        "--seed S sampling seed (default: 42)",
        "--temperature T sampling temperature (default: 0.0)",
        "--max-failures N stop after N failures in a row (default: 3)",
    ):
        assert default in text, default  # fmt: skip


def test_a_garbage_model_file_is_bad_input_and_leaves_no_results(tmp_path: Path) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"not a model at all" * 200)
    prompts = tmp_path / "p.txt"
    prompts.write_text("hi\n")
    done = run_runner(
        "--prompts", str(prompts), "--model", str(model), "--no-push", "--results", str(tmp_path / "r")
    )
    assert done.returncode == 2 and "cannot load it as a GGUF model" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").iterdir())


def test_summary_columns_line_up_at_any_width_and_counts_are_integers() -> None:
    text = summary([
        _record("1", ttft_seconds=0.1234, decode_tokens_per_second=101.23, input_tokens=36, output_tokens=32),
        _record("a-very-long-prompt-id", ttft_seconds=1.5, input_tokens=7, output_tokens=3),
    ])  # fmt: skip
    header, first, second, overall, total = text.splitlines()
    assert len(header) == len(first) == len(second) == len(overall)
    # tok/s_95%, +-J and J/tok: "-" (one run, no energy)
    assert first.split() == ["1", "1", "0", "0.123", "101.2", "-", "36", "32", "-", "-", "-"]
    assert overall.split()[:3] == ["all", "2", "0"]
    for column in ("ttft_s", "in_tok", "energy_J"):  # right-aligned under its header
        end = header.index(column) + len(column)
        assert first[end - 1] != " " and second[end - 1] != " "
    assert total == "2 prompts, 2 measured"
    one = summary([_record("1", input_tokens=36)]).splitlines()
    assert one[-1] == "1 prompt, 1 measured" and one[1].split()[6] == "36" and len(one) == 3


@pytest.mark.parametrize("values", [[36, 37]])
def test_a_median_between_two_counts_keeps_its_half(values: list[int]) -> None:
    text = summary([_record("1", input_tokens=v) for v in values])
    assert text.splitlines()[1].split()[6] == "36.5"


def test_exporter_help_says_how_process_patterns_match() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "edgemeter.exporter", "--help"], capture_output=True, text=True
    )
    text = " ".join(done.stdout.split())
    assert "at the start of a process's name (comm) or of its executable's base name" in text
    assert "command lines" not in text


def test_thermal_class_without_zones_is_no_data(tmp_path: Path) -> None:
    from edgemeter.exporter.config import Config

    from boardtrees import write_tree
    from conftest import make_scraper
    from helpers import samples, value

    write_tree(
        tmp_path / "sys",
        {"class/thermal/cooling_device0/type": "pwm-fan\n", "class/thermal/cooling_device0/cur_state": "1\n",
         "class/thermal/cooling_device0/max_state": "4\n"},
    )  # fmt: skip
    (tmp_path / "proc").mkdir()
    data = samples(make_scraper(Config(sysfs=str(tmp_path / "sys"), procfs=str(tmp_path / "proc")),
                                ["thermal_zone", "cooling_device"])())  # fmt: skip
    assert value(data, "edge_collector_success", collector="thermal_zone") == 0  # as documented
    assert value(data, "edge_collector_success", collector="cooling_device") == 1


def test_the_power_sampler_announces_only_the_sources_it_found(tmp_path: Path, caplog) -> None:
    import logging

    from edgemeter.exporter.cli import assemble

    from boardtrees import BOARDS
    from conftest import board_config

    orin = BOARDS["jetson_orin"](tmp_path / "orin")
    parts = assemble(board_config(orin), ["ina3221", "rapl", "hwmon", "pmic"])
    with caplog.at_level(logging.INFO, logger="edgemeter.exporter.integrator"):
        for _ in range(2):
            for source in parts.integrator.sources:
                parts.integrator.sample(source)
    said = [r.getMessage() for r in caplog.records if "power sampler" in r.getMessage()]
    assert said == ["power sampler: ina3221 at 10 Hz: VDD_CPU_GPU_CV, VDD_IN, VDD_SOC"]


def test_report_says_no_data_instead_of_empty_axes(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from edgemeter.runner.analysis import report

    class Prom:  # a board with power and temperatures but no cpufreq, CPU or memory series
        def range(self, expr: str, start: float, end: float, step: float):
            if "power" in expr or "temperature" in expr:
                return [({"rail": "VDD_IN"}, [(start + i, 5.0 + i % 2) for i in range(int(end - start))])]
            return []

        def samples(self, selector: str, start: float, end: float):
            return []

    records = [
        {
            "run_id": "r",
            "prompt_id": str(i),
            "repetition": 1,
            "started_at": 1000.0 + 2 * i,
            "ended_at": 1002.0 + 2 * i,
            "decode_tokens_per_second": 50.0 + i,
            "status": "ok",
        }
        for i in range(3)
    ]  # fmt: skip  (back to back: each ends where the next starts)
    had = report.draw(Prom(), records, ".*", tmp_path / "r.png")
    assert had == {"Power (W)": True, "Hottest sensor (°C)": True, "CPU frequency (GHz)": False,
                   "CPU busy": False, "Memory used (GB)": False,
                   "idle line": False, "cooldowns": False, "Energy by phase (J)": False}  # fmt: skip
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


def test_hwmon_chip_and_sensor_filters(tmp_path: Path) -> None:
    from boardtrees import BOARDS
    from conftest import board_config, make_scraper
    from helpers import samples, select

    laptop = BOARDS["x86_laptop"](tmp_path / "laptop")

    def chips(**filters: str) -> dict[str, set[str]]:
        data = samples(make_scraper(board_config(laptop, **filters), ["hwmon"])())
        found: dict[str, set[str]] = {}
        for labels in select(data, "edge_temperature_celsius", source="hwmon"):
            found.setdefault(dict(labels)["chip"], set()).add(dict(labels)["channel"])
        return found

    everything = chips()
    assert {"coretemp", "nvme", "acpitz"} <= set(everything)
    assert "nvme" not in chips(hwmon_chip_exclude="nvme") and "coretemp" in chips(hwmon_chip_exclude="nvme")
    assert set(chips(hwmon_chip_include="^coretemp$")) == {"coretemp"}
    only = chips(hwmon_sensor_include="^coretemp;temp1$")
    assert only == {"coretemp": {"temp1"}}
    dropped = chips(hwmon_sensor_exclude="^coretemp;temp[2-9]")
    assert dropped["coretemp"] == {"temp1"} and dropped["nvme"] == everything["nvme"]


def test_a_bad_hwmon_filter_is_one_line() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "edgemeter.exporter", "--collector.hwmon.chip-exclude", "nct("],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert (
        "--collector.hwmon.chip-exclude 'nct('" in done.stderr and "not a regular expression" in done.stderr
    )
