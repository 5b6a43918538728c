"""What Jetson users read in jtop, from files on the Nano, Xavier NX and Orin trees: GPU clock,
EMC, nvpmodel power mode, jetson_clocks, fan profile and target."""

from __future__ import annotations

import logging

import pytest

from edgemeter.exporter.sensors import sysfs

from boardtrees import BOARDS, write_tree
from conftest import board_config, default_names, make_scraper
from helpers import samples, select, value

JETSONS = ("jetson_nano", "jetson_xavier_nx", "jetson_orin")
# (gpu devfreq name, cur/min/max Hz, power mode (id, name), EMC Hz, EMC busy share)
EXPECTED = {
    "jetson_nano": ("57000000.gpu", (76.8e6, 76.8e6, 921.6e6), ("0", "MAXN"), 1.6e9, 182490 / 1.6e6),
    "jetson_xavier_nx": (
        "17000000.gv11b",
        (114.75e6, 114.75e6, 1109.25e6),
        ("8", "MODE_20W_6CORE"),
        1.6e9,
        0.06,
    ),
    "jetson_orin": ("17000000.gpu", (306e6, 306e6, 624.75e6), ("0", "15W"), 2.133e9, 298620 / 2.133e6),
}


@pytest.fixture(params=JETSONS)
def jetson(request, tmp_path):
    return request.param, BOARDS[request.param](tmp_path / request.param)


def test_the_jetson_profile_runs_it_and_others_do_not(tmp_path) -> None:
    for board in BOARDS:
        names = default_names(board_config(BOARDS[board](tmp_path / board)))
        assert ("jetson" in names) == board.startswith("jetson"), board


def test_gpu_clock_emc_and_power_mode_on_each_jetson(jetson) -> None:
    board, tree = jetson
    gpu, (cur, low, high), (mode_id, mode_name), emc_hz, emc_busy = EXPECTED[board]
    data = samples(make_scraper(board_config(tree))())
    assert value(data, "edge_collector_success", collector="jetson") == 1
    assert value(data, "edge_gpu_frequency_hertz", gpu=gpu) == cur
    assert value(data, "edge_gpu_frequency_min_hertz", gpu=gpu) == low
    assert value(data, "edge_gpu_frequency_max_hertz", gpu=gpu) == high
    assert value(data, "edge_gpu_governor_info", gpu=gpu, governor="nvhost_podgov") == 1
    assert value(data, "edge_memory_controller_frequency_hertz") == emc_hz
    assert value(data, "edge_memory_controller_utilization_ratio") == pytest.approx(emc_busy)
    assert select(data, "edge_jetson_power_mode_info") == {
        frozenset({("id", mode_id), ("name", mode_name)}): 1.0
    }
    assert value(data, "edge_jetson_clocks_pinned") == 0


def test_jetson_clocks_pinned_is_every_cpu_policy_and_the_gpu_at_its_max(tmp_path) -> None:
    tree = BOARDS["jetson_orin"](tmp_path / "orin")
    cpufreq = tree.sysfs / "devices/system/cpu/cpufreq"
    gpu = tree.sysfs / "class/devfreq/17000000.gpu"
    for policy in cpufreq.glob("policy*"):
        (policy / "scaling_min_freq").write_text((policy / "scaling_max_freq").read_text())
    scrape = make_scraper(board_config(tree))
    assert value(samples(scrape()), "edge_jetson_clocks_pinned") == 0  # the GPU still scales
    (gpu / "min_freq").write_text((gpu / "max_freq").read_text())
    assert value(samples(scrape()), "edge_jetson_clocks_pinned") == 1
    (cpufreq / "policy4/scaling_min_freq").write_text("115200\n")  # one cluster let go
    assert value(samples(scrape()), "edge_jetson_clocks_pinned") == 0


def test_only_gpu_devfreq_devices_are_the_gpu_scrape_after_scrape(tmp_path) -> None:
    """Which devfreq devices are GPUs is remembered per entry: the video engine stays out, and a
    GPU entry that appears later is found."""
    tree = BOARDS["jetson_orin"](tmp_path / "orin")
    write_tree(
        tree.sysfs,
        {
            "class/devfreq/15340000.vic/device/of_node/name": "vic\n",
            "class/devfreq/15340000.vic/cur_freq": "115200000\n",
            "class/devfreq/15340000.vic/min_freq": "115200000\n",
            "class/devfreq/15340000.vic/max_freq": "729600000\n",
        },
    )
    scrape = make_scraper(board_config(tree), ["jetson"])
    for _ in range(2):
        gpus = {dict(k)["gpu"] for k in select(samples(scrape()), "edge_gpu_frequency_hertz")}
        assert gpus == {"17000000.gpu"}
    write_tree(
        tree.sysfs,
        {
            "class/devfreq/17000001.ga10b/device/of_node/name": "ga10b\n",
            "class/devfreq/17000001.ga10b/cur_freq": "306000000\n",
        },
    )
    gpus = {dict(k)["gpu"]: v for k, v in select(samples(scrape()), "edge_gpu_frequency_hertz").items()}
    assert set(gpus) == {"17000000.gpu", "17000001.ga10b"} and gpus["17000001.ga10b"] == 306e6


def test_fan_profile_from_nvfancontrol_status_else_its_configured_default(tmp_path) -> None:
    tree = BOARDS["jetson_xavier_nx"](tmp_path / "nx")
    scrape = make_scraper(board_config(tree))
    assert select(samples(scrape()), "edge_fan_profile_info") == {
        frozenset({("fan", "1"), ("profile", "cool"), ("source", "status")}): 1.0
    }
    (tree.rootfs / "var/lib/nvfancontrol/status").unlink()
    assert select(samples(scrape()), "edge_fan_profile_info") == {
        frozenset({("fan", "1"), ("profile", "quiet"), ("source", "config default")}): 1.0
    }


def test_the_nanos_pwm_fan_driver_gives_target_duty_and_rpm(tmp_path) -> None:
    tree = BOARDS["jetson_nano"](tmp_path / "nano")
    fan = tree.sysfs / "devices/pwm-fan"
    (fan / "target_pwm").write_text("255\n")  # steering up; the fan has not got there yet
    data = samples(make_scraper(board_config(tree))())
    assert value(data, "edge_fan_target_duty_ratio", fan="1") == 1.0
    assert value(data, "edge_fan_duty_ratio", chip="pwm-fan", fan="fan1") == pytest.approx(90 / 255)
    assert value(data, "edge_fan_speed_rpm", chip="pwm-fan", fan="fan1") == 1780


def test_emc_clock_in_root_only_debugfs_is_said_once_and_is_not_an_error(
    tmp_path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    tree = BOARDS["jetson_nano"](tmp_path / "nano")
    debugfs = str(tree.sysfs / "kernel/debug")
    real_open = sysfs.os.open

    def not_root(path, *args):
        if str(path).startswith(debugfs):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, *args)

    monkeypatch.setattr(sysfs.os, "open", not_root)
    scrape = make_scraper(board_config(tree), ["jetson"])
    with caplog.at_level(logging.INFO, logger="edgemeter.exporter.collectors.jetson"):
        first, second = samples(scrape()), samples(scrape())
    said = [r.message for r in caplog.records if "debugfs" in r.message]
    assert said == ["jetson: the EMC clock is in debugfs, root's only: run the exporter as root for it"]
    for data in (first, second):
        assert value(data, "edge_collector_success", collector="jetson") == 1  # not root is not a fault
        assert select(data, "edge_memory_controller_frequency_hertz") == {}
        assert value(data, "edge_gpu_frequency_hertz", gpu="57000000.gpu") == 76.8e6


def test_the_l4t_release_is_served_and_a_line_that_is_not_one_is_counted(tmp_path) -> None:
    tree = BOARDS["jetson_xavier_nx"](tmp_path / "nx")
    data = samples(make_scraper(board_config(tree), ["jetson"])())
    assert select(data, "edge_firmware_info") == {
        frozenset(
            {("component", "l4t"), ("version", "35.4.1"), ("built", "Tue Aug  1 19:57:35 UTC 2023")}
        ): 1.0
    }
    (tree.rootfs / "etc/nv_tegra_release").write_text("JetPack, I think\n")
    data = samples(make_scraper(board_config(tree), ["jetson"])())
    assert select(data, "edge_firmware_info") == {}
    assert value(data, "edge_collector_errors_total", collector="jetson") == 1


def test_an_nvpmodel_status_without_a_mode_is_counted(tmp_path) -> None:
    tree = BOARDS["jetson_orin"](tmp_path / "orin")
    (tree.rootfs / "var/lib/nvpmodel/status").write_text("garbage\n")
    data = samples(make_scraper(board_config(tree), ["jetson"])())
    assert value(data, "edge_collector_success", collector="jetson") == 0
    assert value(data, "edge_collector_errors_total", collector="jetson") == 1
    assert select(data, "edge_jetson_power_mode_info") == {}
    assert value(data, "edge_gpu_frequency_hertz", gpu="17000000.gpu") == 306e6
