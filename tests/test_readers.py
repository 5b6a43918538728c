"""Readers against the board trees: dataclasses in base units, Nones where a board lacks a field."""

from __future__ import annotations

import pytest

from edgemeter.exporter.boards.detect import detect
from edgemeter.exporter.process_accounting import CpuShare, CpuTotals
from edgemeter.exporter.sensors.cpufreq import parse_cpu_list, read_cpu_frequencies
from edgemeter.exporter.sensors.process import ProcessSample, match_processes
from edgemeter.exporter.sensors.procfs import read_pressure
from edgemeter.exporter.sensors.sysfs import ReadLog
from edgemeter.exporter.sensors.vcgencmd import Throttled

from boardtrees import BOARDS


@pytest.fixture
def orin(tmp_path):
    return BOARDS["jetson_orin"](tmp_path / "orin")


def test_shared_cpufreq_policies_fan_out_to_their_cpus(orin) -> None:
    rlog = ReadLog()
    freqs = read_cpu_frequencies(str(orin.sysfs), rlog)
    assert rlog.errors == []
    assert [f.cpu for f in freqs] == ["0", "1", "2", "3", "4", "5"]
    policy0 = orin.sysfs / "devices/system/cpu/cpufreq/policy0"
    policy4 = orin.sysfs / "devices/system/cpu/cpufreq/policy4"
    for f in freqs:
        policy = policy0 if int(f.cpu) < 4 else policy4
        assert f.current_hertz == int((policy / "scaling_cur_freq").read_text()) * 1000
        assert f.max_hertz == int((policy / "cpuinfo_max_freq").read_text()) * 1000


def test_old_per_cpu_cpufreq_directories_without_policies(tmp_path) -> None:
    """Kernels before policy directories: real cpuN/cpufreq/ dirs, read per CPU; an attribute the
    driver lacks is absent (no error) and cpuinfo_cur_freq stands in for a missing scaling_cur_freq."""
    for cpu, attrs in {
        "0": {"scaling_cur_freq": "1200000", "cpuinfo_max_freq": "1500000", "scaling_governor": "ondemand"},
        "1": {"cpuinfo_cur_freq": "600000"},
    }.items():
        d = tmp_path / f"devices/system/cpu/cpu{cpu}/cpufreq"
        d.mkdir(parents=True)
        for name, text in attrs.items():
            (d / name).write_text(text + "\n")
    (tmp_path / "devices/system/cpu/cpuidle").mkdir()  # not a CPU
    rlog = ReadLog()
    freqs = {f.cpu: f for f in read_cpu_frequencies(str(tmp_path), rlog) or []}
    assert rlog.errors == [] and sorted(freqs) == ["0", "1"]
    assert (freqs["0"].current_hertz, freqs["0"].max_hertz, freqs["0"].governor) == (1.2e9, 1.5e9, "ondemand")
    assert freqs["0"].min_hertz is None and freqs["1"].current_hertz == 6e8


def test_garbage_scaling_cur_freq_is_an_error_not_a_fallback(orin) -> None:
    policy0 = orin.sysfs / "devices/system/cpu/cpufreq/policy0"
    (policy0 / "scaling_cur_freq").write_text("garbage\n")
    (policy0 / "cpuinfo_cur_freq").write_text("729600\n")
    rlog = ReadLog()
    freqs = {f.cpu: f for f in read_cpu_frequencies(str(orin.sysfs), rlog) or []}
    assert len(rlog.errors) == 1 and "scaling_cur_freq" in rlog.errors[0]
    assert freqs["0"].current_hertz is None and freqs["4"].current_hertz is not None


@pytest.mark.parametrize(
    ("text", "cpus"),
    [("0-3", ["0", "1", "2", "3"]), ("0 1 4", ["0", "1", "4"]), ("0-1,6", ["0", "1", "6"]), ("", [])],
)
def test_cpu_lists(text: str, cpus: list[str]) -> None:
    assert parse_cpu_list(text) == cpus


@pytest.mark.parametrize(
    ("board", "family", "soc"),
    [
        ("pi5", "raspberry_pi", "brcm,bcm2712"),
        ("jetson_orin", "jetson", "nvidia,tegra234"),
        ("jetson_nano", "jetson", "nvidia,tegra210"),
        ("x86_laptop", "x86", None),
    ],
)
def test_board_detection(tmp_path, board: str, family: str, soc: str | None) -> None:
    tree = BOARDS[board](tmp_path / board)
    found = detect(str(tree.sysfs), str(tree.procfs))
    assert found.family == family
    assert found.soc == soc or (soc is None and found.soc is None)
    assert found.kernel and found.model


def test_process_stat_with_spaces_and_parentheses_in_comm(tmp_path) -> None:
    tree = BOARDS["x86_laptop"](tmp_path / "x86")
    found = {
        s.pid: s for s in match_processes(str(tree.procfs), (r"\(sd-pam\)", "tmux", "nothing"), ReadLog())
    }
    assert set(found) == {"1187", "2210"}
    for pid in found:
        stat = (tree.procfs / pid / "stat").read_text()
        fields = stat[stat.rfind(")") + 2 :].split()
        assert found[pid].cpu_seconds == pytest.approx((int(fields[11]) + int(fields[12])) / 100)
        assert found[pid].start_ticks == int(fields[19])
        assert found[pid].resident_bytes > 0


def test_patterns_match_the_start_of_the_name_not_anywhere(tmp_path) -> None:
    """pi5: pid 812 is ollama, pid 901 llama-server: "llama" must not count ollama too."""
    tree = BOARDS["pi5"](tmp_path / "pi5")
    found = match_processes(str(tree.procfs), ("ollama", "llama"), ReadLog())
    assert sorted((s.pid, s.patterns) for s in found) == [("812", ("ollama",)), ("901", ("llama",))]


def test_cpu_totals_stay_monotonic_when_processes_exit_or_pids_are_reused() -> None:
    totals = CpuTotals(["ollama"])
    server, client = (
        ProcessSample("812", 100, ("ollama",), 50.0, 0),
        ProcessSample("999", 500, ("ollama",), 2.0, 0),
    )
    assert totals.update([server, client]) == {"ollama": 52.0}
    assert totals.update([ProcessSample("812", 100, ("ollama",), 53.0, 0)]) == {
        "ollama": 55.0
    }  # client exited
    reused = ProcessSample("999", 900, ("ollama",), 0.5, 0)  # same pid, a new process
    assert totals.update([ProcessSample("812", 100, ("ollama",), 53.0, 0), reused]) == {"ollama": 55.5}


def test_no_psi_on_old_kernels(tmp_path) -> None:
    tree = BOARDS["jetson_nano"](tmp_path / "nano")
    assert read_pressure(str(tree.procfs), ReadLog()) is None


ALL = {"under_voltage", "frequency_capped", "throttled", "soft_temperature_limit"}


@pytest.mark.parametrize(
    ("mask", "now", "since_boot"),
    [
        (0x50005, {"under_voltage", "throttled"}, {"under_voltage", "throttled"}),
        (0x80000, set(), {"soft_temperature_limit"}),
        (0xF000F, ALL, ALL),
        (0x0, set(), set()),
    ],
)
def test_throttled_bits(mask: int, now: set[str], since_boot: set[str]) -> None:
    state = Throttled(mask)
    assert {c for c in ALL if state.flag(c, since_boot=False)} == now
    assert {c for c in ALL if state.flag(c, since_boot=True)} == since_boot


def test_cpu_share_is_process_time_over_busy_time_per_window() -> None:
    share = CpuShare()
    assert share.update(0.0, 100.0, {"ollama": 10.0}) == {}  # first reading
    assert share.update(0.5, 101.0, {"ollama": 10.5}) == {}  # window < 1 s
    got = share.update(2.0, 104.0, {"ollama": 13.0})  # 3 s of 4 busy seconds
    assert got == {"ollama": pytest.approx(0.75)}
    assert share.update(2.2, 110.0, {"ollama": 19.0}) == got  # too soon: reused
    assert share.update(3.5, 112.0, {"ollama": 13.0}) == {"ollama": 0.0}  # never negative


def test_a_file_found_by_glob_is_remembered_and_a_missing_one_searched_again_later(
    tmp_path, monkeypatch
) -> None:
    from edgemeter.exporter.sensors import globbed

    now = [1000.0]
    monkeypatch.setattr(globbed.time, "monotonic", lambda: now[0])
    patterns = ("devices/platform/*.gpu/load", "devices/gpu.0/load")
    assert globbed.find(str(tmp_path), patterns) is None
    (tmp_path / "devices/gpu.0").mkdir(parents=True)
    (tmp_path / "devices/gpu.0/load").write_text("1\n")
    now[0] += globbed.REGLOB_AFTER - 1
    assert globbed.find(str(tmp_path), patterns) is None  # not searched again yet
    now[0] += 2
    assert globbed.find(str(tmp_path), patterns) == f"{tmp_path}/devices/gpu.0/load"
    (tmp_path / "devices/platform/a.gpu").mkdir(parents=True)  # an earlier pattern matches now
    (tmp_path / "devices/platform/a.gpu/load").write_text("2\n")
    assert globbed.find(str(tmp_path), patterns) == f"{tmp_path}/devices/gpu.0/load"  # remembered
    globbed.forget(str(tmp_path), patterns)
    assert globbed.find(str(tmp_path), patterns) == f"{tmp_path}/devices/platform/a.gpu/load"
