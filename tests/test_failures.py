"""Never fail a scrape: broken, vanished and returning sensors; a wedged vcgencmd; no NaN."""

from __future__ import annotations

import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from edgemeter.exporter.cli import assemble
from edgemeter.exporter.exposition import render
from edgemeter.exporter.sensors import vcgencmd as vcgencmd_sensor
from edgemeter.exporter.sensors.hwmon import read_chips
from edgemeter.exporter.sensors.sysfs import ReadLog

from boardtrees import BOARDS
from conftest import board_config, default_names, make_scraper
from helpers import samples, select, value


def chip_dir(tree, chip: str) -> Path:
    """The real directory of the hwmon chip called ``chip`` in a board tree."""
    base = tree.sysfs / "class" / "hwmon"
    for entry in sorted(base.iterdir()):
        for d in (entry, entry / "device"):
            if (d / "name").is_file() and (d / "name").read_text().strip() == chip:
                return d.resolve()
    raise LookupError(chip)


def cpu_temp(data) -> dict:
    return select(data, "edge_temperature_celsius", source="hwmon", chip="cpu_thermal")


def success(data, collector: str) -> float:
    return value(data, "edge_collector_success", collector=collector)


def errors(data, collector: str) -> float:
    return value(data, "edge_collector_errors_total", collector=collector)


BREAKAGES = {
    "empty": lambda p: p.write_text(""),
    "garbage": lambda p: p.write_text("garbage\n"),
    "not_available": lambda p: p.write_text("N/A\n"),
    "nan": lambda p: p.write_text("nan\n"),
    "directory": lambda p: (p.unlink(), p.mkdir()),
    "dangling_link": lambda p: (p.unlink(), os.symlink(p.parent / "gone", p)),
}


def restore(path: Path, text: str) -> None:
    if path.is_dir() and not path.is_symlink():
        path.rmdir()
    elif path.is_symlink() or path.exists():
        path.unlink()
    path.write_text(text)


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_broken_sensor_drops_only_its_reading_and_comes_back(pi5, breakage: str) -> None:
    scrape = make_scraper(board_config(pi5))
    before = samples(scrape())
    assert cpu_temp(before) and success(before, "hwmon") == 1
    target = chip_dir(pi5, "cpu_thermal") / "temp1_input"
    original = target.read_text()
    BREAKAGES[breakage](target)

    text = scrape()
    broken = samples(text)
    assert cpu_temp(broken) == {}
    assert success(broken, "hwmon") == 0
    assert errors(broken, "hwmon") == errors(before, "hwmon") + 1
    assert "NaN" not in text
    # every other reading is still served, with the same values
    for (name, labels), v in before.items():
        if (
            name.startswith("edge_collector")
            or name.startswith("edge_exporter")
            or (name, labels) in {("edge_temperature_celsius", k) for k in cpu_temp(before)}
        ):
            continue
        assert broken.get((name, labels)) == v, (name, dict(labels))

    restore(target, original)
    again = samples(scrape())
    assert cpu_temp(again) == cpu_temp(before)
    assert success(again, "hwmon") == 1
    assert errors(again, "hwmon") == errors(broken, "hwmon")  # a counter: never goes back


def test_unplugged_chip_vanishes_quietly_and_returns(pi5) -> None:
    """A USB/I2C device unplugged between scrapes: the kernel removes its hwmon directory."""
    scrape = make_scraper(board_config(pi5))
    fan = chip_dir(pi5, "pwmfan")
    assert select(samples(scrape()), "edge_fan_duty_ratio")
    shutil.move(fan, fan.with_name("unplugged"))
    gone = samples(scrape())
    assert select(gone, "edge_fan_duty_ratio") == {}
    assert cpu_temp(gone)
    shutil.move(fan.with_name("unplugged"), fan)
    assert select(samples(scrape()), "edge_fan_duty_ratio")


def test_missing_class_directory_is_no_data(pi5) -> None:
    shutil.rmtree(pi5.sysfs / "class" / "thermal")
    data = samples(make_scraper(board_config(pi5))())
    assert success(data, "thermal_zone") == 0 and errors(data, "thermal_zone") == 0
    assert select(data, "edge_temperature_celsius", source="thermal_zone") == {}
    assert cpu_temp(data) and success(data, "hwmon") == 1


def vcgencmd_state(tree) -> Path:
    return tree.vcgencmd.parent.parent / "vcgencmd_state"


@contextmanager
def started(config, names=None):
    """The exporter's assembly with its background work running, as the CLI serves it."""
    parts = assemble(config, names if names is not None else default_names(config))
    parts.start()
    try:
        yield lambda: render(parts.registry).decode()
    finally:
        parts.stop()


def test_a_hanging_vcgencmd_never_delays_a_scrape(pi5) -> None:
    (vcgencmd_state(pi5) / "hang").write_text("")
    with started(board_config(pi5, vcgencmd_timeout=0.3)) as scrape:
        took = []
        for _ in range(5):
            start = time.monotonic()
            data = samples(scrape())
            took.append(time.monotonic() - start)
    # polled in the background: a scrape that ran vcgencmd in line would wait its 0.3 s timeout
    assert max(took) < 0.25, took
    assert success(data, "throttled") == 0 and success(data, "firmware_clock") == 0
    assert success(data, "pmic") == 0
    assert select(data, "edge_throttled") == {}
    assert cpu_temp(data)


def test_concurrent_scrapes_never_queue_behind_a_hanging_vcgencmd(pi5) -> None:
    (vcgencmd_state(pi5) / "hang").write_text("")
    with started(board_config(pi5, vcgencmd_timeout=0.3)) as scrape:
        start = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            bodies = list(pool.map(lambda _: scrape(), range(8)))
        assert time.monotonic() - start < 1.0  # in line, each would wait at least one 0.3 s timeout
    assert all("edge_collector_success" in b for b in bodies)


def test_a_served_scrape_never_forks(pi5, monkeypatch) -> None:
    """vcgencmd runs only on the poller's and the power sampler's threads, never a scrape's."""
    forks: list[str] = []
    real = vcgencmd_sensor.subprocess.run

    def run(*args, **kwargs):
        forks.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(vcgencmd_sensor.subprocess, "run", run)
    with started(board_config(pi5)) as scrape:
        forks.clear()
        bodies = [scrape() for _ in range(10)]
    data = samples(bodies[-1])
    assert {success(data, c) for c in ("throttled", "firmware_clock", "pmic")} == {1}
    assert value(data, "edge_cpu_frequency_hertz", cpu="", source="firmware") == 1500004352
    assert all(name.startswith(("poll-", "power-sampler-")) for name in forks), forks


def test_a_source_without_its_sensor_is_no_data_not_an_error_while_sampled(pi5) -> None:
    """A Pi 4's firmware has no PMIC ADC: with the sampler running that is no data, not an error
    counted at every scrape."""
    (vcgencmd_state(pi5) / "pmic_read_adc").write_text('error=2 error_msg="Command not registered"\n')
    with started(board_config(pi5), ["pmic"]) as scrape:
        scrape()
        data = samples(scrape())
    assert success(data, "pmic") == 0 and errors(data, "pmic") == 0


def test_failing_vcgencmd_and_recovery(pi5) -> None:
    state = vcgencmd_state(pi5)
    scrape = make_scraper(board_config(pi5))
    (state / "fail").write_text("")
    data = samples(scrape())
    assert success(data, "throttled") == 0 and errors(data, "throttled") == 1
    (state / "fail").unlink()
    (state / "get_throttled").write_text("something else\n")
    assert success(samples(scrape()), "throttled") == 0
    (state / "get_throttled").write_text("throttled=0x0\n")
    data = samples(scrape())
    assert success(data, "throttled") == 1
    assert set(select(data, "edge_throttled").values()) == {0.0}


def test_hwmon_reader_reads_old_style_device_attributes(tmp_path) -> None:
    """applesmc keeps name and attributes in hwmonN/device/ (the x86 tree grafts one in)."""
    tree = BOARDS["x86_laptop"](tmp_path / "x86")
    chips = {c.name: c for c in read_chips(str(tree.sysfs), ("temp", "fan"), ReadLog()) or []}
    assert "applesmc" in chips
    old = chips["applesmc"]
    assert not (tree.sysfs / "class/hwmon" / old.hwmon / "name").exists()
    assert old.readings["fan"] and old.readings["temp"]


# (board, file relative to the sysfs or procfs root, collector that reads it)
READER_FILES = [
    ("pi5", "sys/class/thermal/thermal_zone0/temp", "thermal_zone"),
    ("pi5", "sys/class/thermal/cooling_device0/cur_state", "cooling_device"),
    ("pi5", "sys/devices/system/cpu/cpufreq/policy0/scaling_cur_freq", "cpufreq"),
    ("pi5", "proc/stat", "cpu"),
    ("pi5", "proc/meminfo", "meminfo"),
    ("pi5", "proc/loadavg", "loadavg"),
    ("pi5", "proc/pressure/cpu", "pressure"),
    ("jetson_orin", "sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon1/curr1_input", "ina3221"),
    ("jetson_orin", "sys/devices/platform/gpu.0/load", "gpu_load"),
    ("jetson_nano", "sys/bus/i2c/drivers/ina3221x/6-0040/iio:device0/in_power0_input", "ina3221"),
    ("x86_laptop", "sys/class/powercap/intel-rapl:0/energy_uj", "rapl"),
]


@pytest.mark.parametrize(
    ("board", "rel", "collector"), READER_FILES, ids=[f"{b}-{c}" for b, _, c in READER_FILES]
)
@pytest.mark.parametrize("breakage", ["garbage", "empty", "directory"])
def test_every_reader_survives_a_broken_file(
    tmp_path, board: str, rel: str, collector: str, breakage: str
) -> None:
    tree = BOARDS[board](tmp_path / board)
    scrape = make_scraper(board_config(tree))
    before = samples(scrape())
    path = (tree.sysfs.parent / rel).resolve()
    assert path.is_file(), rel
    BREAKAGES[breakage](path)
    text = scrape()
    after = samples(text)  # the scrape still renders and parses
    assert "NaN" not in text
    assert success(after, collector) == 0 and errors(after, collector) >= 1
    others = {dict(k)["collector"]: v for (n, k), v in before.items() if n == "edge_collector_success"}
    also_reads = {"proc/stat": {"process"}}.get(rel, set())  # the CPU share needs /proc/stat too
    for name, ok in others.items():
        if name != collector and name not in also_reads:
            assert success(after, name) == ok, name


def test_a_process_exiting_mid_read_is_skipped(pi5, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading /proc/<pid>/stat of a process that just exited answers ESRCH."""
    from edgemeter.exporter.sensors import sysfs

    real_read = sysfs.os.read
    stat_fds: set[int] = set()
    real_open = sysfs.os.open

    def tracking_open(path: str, flags: int) -> int:
        fd = real_open(path, flags)
        if path.endswith("/812/stat"):
            stat_fds.add(fd)
        return fd

    def exited(fd: int, n: int) -> bytes:
        if fd in stat_fds:
            stat_fds.discard(fd)
            raise ProcessLookupError(3, "No such process")
        return real_read(fd, n)

    monkeypatch.setattr(sysfs.os, "open", tracking_open)
    monkeypatch.setattr(sysfs.os, "read", exited)
    data = samples(make_scraper(board_config(pi5))())
    assert value(data, "edge_collector_success", collector="process") == 1
    assert value(data, "edge_process_instances", process="ollama") == 0  # pid 812 is gone
    assert value(data, "edge_process_instances", process="llama") == 1


def test_throttling_from_the_firmware_drivers_sysfs_needs_no_vcgencmd(pi5) -> None:
    """Kernels since 2018 serve get_throttled under the firmware device: no fork per scrape."""
    attr = pi5.sysfs / "devices/platform/soc/soc:firmware/get_throttled"
    attr.parent.mkdir(parents=True)
    attr.write_text("80008\n")  # soft temperature limit now and since boot (vcgencmd would say 0x50005)
    data = samples(make_scraper(board_config(pi5, vcgencmd=None), ["throttled"])())
    assert value(data, "edge_collector_success", collector="throttled") == 1
    got = {(dict(k)["condition"], dict(k)["window"]): v for k, v in select(data, "edge_throttled").items()}
    assert got[("soft_temperature_limit", "now")] == 1 and got[("soft_temperature_limit", "since_boot")] == 1
    assert got[("under_voltage", "now")] == 0 and sum(got.values()) == 2
    attr.write_text("garbage\n")  # unreadable: counted, and vcgencmd (absent here) is the fallback
    data = samples(make_scraper(board_config(pi5, vcgencmd=None), ["throttled"])())
    assert value(data, "edge_collector_success", collector="throttled") == 0
