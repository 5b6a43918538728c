"""Power sources: INA3221 both drivers, hwmon power/energy, RAPL wraps, Pi 5 PMIC, Jetson GPU load."""

from __future__ import annotations

import errno
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from edgemeter.exporter.collectors.ina3221 import Ina3221Collector
from edgemeter.exporter.collectors.rapl import ROOT_ONLY, RaplCollector
from edgemeter.exporter.sensors import globbed, sysfs
from edgemeter.exporter.sensors.gpu_load import CANDIDATES
from edgemeter.exporter.sensors.ina3221 import read_ina3221
from edgemeter.exporter.sensors.sysfs import ReadLog

from boardtrees import BOARDS, write_tree
from conftest import board_config, make_scraper
from helpers import samples, select, value


@pytest.fixture
def orin(tmp_path):
    return BOARDS["jetson_orin"](tmp_path / "orin")


@pytest.fixture
def x86(tmp_path):
    return BOARDS["x86_laptop"](tmp_path / "x86")


def ina_dir(tree) -> Path:
    return (tree.sysfs / "bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon1").resolve()


def test_ina3221_hwmon_rails_are_volts_times_amperes(orin) -> None:
    data = samples(make_scraper(board_config(orin))())
    rails = {dict(k)["rail"]: v for k, v in select(data, "edge_power_watts", source="ina3221").items()}
    assert rails == pytest.approx(
        {"VDD_IN": 5.080 * 1.240, "VDD_CPU_GPU_CV": 5.072 * 0.480, "VDD_SOC": 5.076 * 0.720}
    )
    assert value(data, "edge_voltage_volts", rail="VDD_IN") == 5.08
    assert value(data, "edge_current_amperes", rail="VDD_IN") == 1.24


def test_ina3221_shunt_channels_and_unused_channels_are_not_rails(orin) -> None:
    chip = ina_dir(orin)
    (chip / "in2_label").write_text("NC\n")
    (chip / "in3_enable").write_text("0\n")
    rlog = ReadLog()
    rails = read_ina3221(str(orin.sysfs), rlog)
    assert [r.rail for r in rails] == ["VDD_IN"]  # in4-in7 (shunt µV, their sum) never appear
    (chip / "in1_label").unlink()  # an unlabelled channel is not a rail either
    assert read_ina3221(str(orin.sysfs), rlog) == []
    assert rlog.errors == []


@pytest.mark.parametrize("board", ["jetson_orin", "jetson_nano"])
def test_a_kept_open_rail_is_read_fresh_with_one_syscall_and_found_again_when_it_fails(
    tmp_path, board: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = BOARDS[board](tmp_path / board)
    collector = Ina3221Collector(board_config(tree))
    first = {r.rail: r.watts for r in collector.read_power(ReadLog())}
    opened: list[str] = []
    listed: list[str] = []
    real_open, real_listdir = sysfs.os.open, sysfs.os.listdir
    monkeypatch.setattr(sysfs.os, "open", lambda path, *a: opened.append(path) or real_open(path, *a))
    monkeypatch.setattr(sysfs.os, "listdir", lambda path: listed.append(path) or real_listdir(path))
    if board == "jetson_orin":
        rail, path, text = "VDD_IN", ina_dir(tree) / "curr1_input", "2000\n"
    else:
        rail = "POM_5V_IN"
        path = next((tree.sysfs / "bus/i2c/drivers/ina3221x").glob("*/iio:device0/in_power0_input"))
        text = "7000\n"
    path.write_text(text)  # in place, as the driver updates it
    second = {r.rail: r.watts for r in collector.read_power(ReadLog())}
    assert opened == listed == []  # a sample is a pread of each kept file: no open, no scan
    assert second[rail] != first[rail] and second[rail] == pytest.approx(
        5.08 * 2.0 if board == "jetson_orin" else 7.0
    )
    path.write_text("garbage\n")  # a failed read: counted, and the rails are searched again
    rlog = ReadLog()
    assert rail not in {r.rail for r in collector.read_power(rlog)} and rlog.errors
    path.write_text(text)
    assert rail in {r.rail for r in collector.read_power(ReadLog())}
    assert listed  # searched again after the failure


def test_ina3221_iio_driver_on_the_nano(tmp_path) -> None:
    nano = BOARDS["jetson_nano"](tmp_path / "nano")
    data = samples(make_scraper(board_config(nano))())
    watts = {dict(k)["rail"]: v for k, v in select(data, "edge_power_watts").items()}
    assert watts == {"POM_5V_IN": 2.148, "POM_5V_GPU": 0.4, "POM_5V_CPU": 1.208}  # the chip's own mW
    assert value(data, "edge_current_amperes", rail="POM_5V_IN") == 0.423
    assert value(data, "edge_gpu_utilization_ratio", source="nvgpu") == pytest.approx(0.312)


def test_jetson_gpu_load(orin) -> None:
    data = samples(make_scraper(board_config(orin))())
    assert value(data, "edge_gpu_utilization_ratio", gpu="0") == pytest.approx(0.123)


def test_the_gpu_load_file_is_globbed_once_not_at_every_scrape(orin, monkeypatch) -> None:
    """Its place varies by L4T release: eighteen globs a scrape listed devices/platform six times."""
    calls: list[str] = []
    real = globbed.glob.glob
    monkeypatch.setattr(globbed.glob, "glob", lambda pattern: calls.append(pattern) or real(pattern))
    scrape = make_scraper(board_config(orin), ["gpu_load"])
    loads = [value(samples(scrape()), "edge_gpu_utilization_ratio", gpu="0") for _ in range(5)]
    assert loads == [pytest.approx(0.123)] * 5
    assert 0 < len(calls) <= len(CANDIDATES)  # the first scrape's search, then the remembered file


def test_a_gpu_load_file_that_moves_is_found_again(orin) -> None:
    """A driver rebound elsewhere (another L4T's path): the scrape after it reads the new file."""
    scrape = make_scraper(board_config(orin), ["gpu_load"])
    assert value(samples(scrape()), "edge_gpu_utilization_ratio", gpu="0") == pytest.approx(0.123)
    (orin.sysfs / "devices/platform/gpu.0/load").unlink()
    write_tree(orin.sysfs, {"devices/platform/bus@0/17000000.gpu/load": "456\n"})
    data = samples(scrape())
    assert value(data, "edge_collector_success", collector="gpu_load") == 1
    assert value(data, "edge_gpu_utilization_ratio", gpu="0") == pytest.approx(0.456)


def test_hwmon_power_and_energy(orin) -> None:
    """An INA219-style chip (common Pi power HATs) and an energy counter chip, as hwmon."""
    write_tree(
        orin.sysfs,
        {
            "class/hwmon/hwmon7/name": "ina219\n",
            "class/hwmon/hwmon7/power1_input": "2350000\n",
            "class/hwmon/hwmon7/in1_input": "5120\n",
            "class/hwmon/hwmon8/name": "amd_energy\n",
            "class/hwmon/hwmon8/energy1_input": "123456789\n",
            "class/hwmon/hwmon8/energy1_label": "Esocket0\n",
        },
    )
    data = samples(make_scraper(board_config(orin))())
    assert value(data, "edge_power_watts", source="hwmon", chip="ina219", rail="power1") == 2.35
    assert value(data, "edge_energy_joules_total", source="hwmon", rail="Esocket0") == 123.456789
    assert value(data, "edge_collector_success", collector="hwmon") == 1


def rapl_file(tree, zone: str = "intel-rapl:0") -> Path:
    return (tree.sysfs / "class/powercap" / zone / "energy_uj").resolve()


def test_rapl_counter_stays_monotonic_across_a_wrap(x86) -> None:
    """node_exporter 1.5 serves energy_uj raw: increase() would lose the energy before the wrap."""
    top = int((rapl_file(x86).parent / "max_energy_range_uj").read_text())
    scrape = make_scraper(board_config(x86), ["rapl"])
    rapl_file(x86).write_text(f"{top - 5_000_000}\n")  # 5 J before the wrap
    before = value(samples(scrape()), "edge_energy_joules_total", rail="package-0")
    rapl_file(x86).write_text("3000000\n")  # wrapped, then 3 J more
    after = value(samples(scrape()), "edge_energy_joules_total", rail="package-0")
    assert after - before == pytest.approx(8.0)
    rapl_file(x86).write_text("4000000\n")
    assert value(samples(scrape()), "edge_energy_joules_total", rail="package-0") - after == pytest.approx(
        1.0
    )
    # the other zones did not wrap and are untouched
    assert value(samples(scrape()), "edge_energy_joules_total", rail="core") == pytest.approx(21339.812341)


def test_rapl_skips_the_mmio_duplicate_and_labels_zones(x86) -> None:
    data = samples(make_scraper(board_config(x86), ["rapl"])())
    zones = {
        dict(k)["zone"]: dict(k)["rail"] for k in select(data, "edge_energy_joules_total", source="rapl")
    }
    assert zones == {
        "intel-rapl:0": "package-0",
        "intel-rapl:0:0": "core",
        "intel-rapl:0:1": "uncore",
        "intel-rapl:1": "psys",
    }


def test_rapl_concurrent_scrapes_never_invent_a_wrap(x86) -> None:
    """Two scrapes racing must not take each other's older reading for a wrap."""
    collector = RaplCollector(board_config(x86))
    path = rapl_file(x86)
    path.write_text("1000000\n")  # where the writer below starts counting
    started = threading.Barrier(5)
    stop = threading.Event()

    def count_up() -> None:  # the kernel's counter: only ever increases
        started.wait()
        for i in range(2000):
            tmp = path.with_name("energy_uj.tmp")
            tmp.write_text(f"{1_000_000 + i * 1000}\n")
            os.replace(tmp, path)  # atomic: a reader never sees it half-written
        stop.set()

    def scrape() -> list[float]:
        seen: list[float] = []
        started.wait()
        while not stop.is_set() or not seen:
            family = collector.update(ReadLog())[0]
            seen += [s.value for s in family.samples if s.labels["rail"] == "package-0"]
        return seen

    with ThreadPoolExecutor(max_workers=5) as pool:
        writer = pool.submit(count_up)
        results = [pool.submit(scrape) for _ in range(4)]
        writer.result()
        seen = [v for r in results for v in r.result()]
    assert max(seen) < 3.0, sorted(seen)[-5:]  # a false wrap would add 262 kJ


def test_rapl_root_only_is_said_once(x86, monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    real_open = sysfs.os.open

    def root_only(path: str, flags: int) -> int:
        if path.endswith("/energy_uj"):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, flags)

    monkeypatch.setattr(sysfs.os, "open", root_only)
    scrape = make_scraper(board_config(x86), ["rapl", "meminfo"])
    with caplog.at_level(logging.DEBUG, logger="edgemeter.exporter.registry"):
        for _ in range(3):
            data = samples(scrape())
    assert value(data, "edge_collector_success", collector="rapl") == 0
    assert value(data, "edge_collector_success", collector="meminfo") == 1
    said = [r for r in caplog.records if r.levelno >= logging.WARNING and "rapl" in r.getMessage()]
    assert len(said) == 1 and ROOT_ONLY in said[0].getMessage()


def test_pi5_pmic_rails_pair_by_name_and_sum_to_total(pi5) -> None:
    data = samples(make_scraper(board_config(pi5))())
    pmic = {dict(k)["rail"]: v for k, v in select(data, "edge_power_watts", source="pmic").items()}
    assert pmic["VDD_CORE"] == pytest.approx(2.34555 * 0.878433)
    assert pmic["total"] == pytest.approx(sum(v for r, v in pmic.items() if r != "total"))
    assert len(pmic) == 13  # 12 paired rails + total; EXT5V and BATT have no current sense
    assert value(data, "edge_voltage_volts", rail="EXT5V") == 5.1564
    assert select(data, "edge_power_watts", rail="EXT5V") == {}


def test_pi4_without_pmic_reports_no_power_but_the_rest(pi5) -> None:
    state = pi5.vcgencmd.parent.parent / "vcgencmd_state"
    (state / "pmic_read_adc").write_text('error=2 error_msg="Command not registered"\n')
    data = samples(make_scraper(board_config(pi5))())
    assert value(data, "edge_collector_success", collector="pmic") == 0
    assert value(data, "edge_collector_success", collector="throttled") == 1
    assert value(data, "edge_collector_errors_total", collector="pmic") == 0  # a Pi 4: no data, no error


def test_integrated_energy_survives_a_failed_scrape_read(pi5) -> None:
    """A vcgencmd failure at scrape time must not hide the PMIC energy the runner reads."""
    from edgemeter.exporter.collectors.pmic import PmicCollector
    from edgemeter.exporter.integrator import Integrator

    now = [1000.0]
    collector = PmicCollector(board_config(pi5))
    integrator = Integrator([collector], 10, clock=lambda: now[0])
    collector.integrator = integrator
    integrator.sample(collector)
    now[0] += 0.5
    integrator.sample(collector)
    now[0] += 10  # the sampler's reading is stale: the scrape reads vcgencmd itself
    (pi5.vcgencmd.parent.parent / "vcgencmd_state" / "fail").write_text("")
    rlog = ReadLog()
    families = {f.name: f for f in collector.update(rlog)}
    assert rlog.errors  # success 0 for this scrape...
    energy = [s for s in families["edge_energy_joules"].samples if s.labels["rail"] == "total"]
    assert energy and energy[0].value > 0  # ...but the counter is still served


def test_hwmon_power_sampling_visits_only_power_chips(orin, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgemeter.exporter.collectors.hwmon import HwmonCollector

    write_tree(
        orin.sysfs, {"class/hwmon/hwmon7/name": "ina219\n", "class/hwmon/hwmon7/power1_input": "2350000\n"}
    )
    collector = HwmonCollector(board_config(orin))
    first = collector.read_power(ReadLog())
    read: list[str] = []
    real_open, real_read = os.open, sysfs.KEPT.read
    monkeypatch.setattr(sysfs.os, "open", lambda path, flags: read.append(path) or real_open(path, flags))
    monkeypatch.setattr(sysfs.KEPT, "read", lambda path: read.append(path) or real_read(path))
    again = collector.read_power(ReadLog())
    assert [r.watts for r in again] == [r.watts for r in first] == [2.35]
    assert read and all("/hwmon7/" in p for p in read)  # no other chip touched
    (orin.sysfs / "class/hwmon/hwmon7/power1_input").unlink()  # the chip lost its input: full rescan
    assert collector.read_power(ReadLog()) == []


def test_rapl_read_jitter_never_makes_the_counter_go_down(x86) -> None:
    scrape = make_scraper(board_config(x86), ["rapl"])
    rapl_file(x86).write_text("10000000\n")
    first = value(samples(scrape()), "edge_energy_joules_total", rail="package-0")
    rapl_file(x86).write_text("9999999\n")  # 1 µJ behind: a read, not a wrap or a reset
    assert value(samples(scrape()), "edge_energy_joules_total", rail="package-0") == first
    rapl_file(x86).write_text("12000000\n")
    assert value(samples(scrape()), "edge_energy_joules_total", rail="package-0") == pytest.approx(
        first + 2.0
    )


def test_rapl_wrap_is_counted_while_max_energy_range_is_unreadable(x86) -> None:
    top_file = rapl_file(x86).parent / "max_energy_range_uj"
    top = int(top_file.read_text())
    scrape = make_scraper(board_config(x86), ["rapl"])
    rapl_file(x86).write_text(f"{top - 5_000_000}\n")
    before = value(samples(scrape()), "edge_energy_joules_total", rail="package-0")
    top_file.write_text("")  # the attribute fails to read from now on
    rapl_file(x86).write_text("3000000\n")
    after = value(samples(scrape()), "edge_energy_joules_total", rail="package-0")
    assert after - before == pytest.approx(8.0)


def test_rapl_zone_recreated_is_a_reset_not_a_wrap(x86) -> None:
    scrape = make_scraper(board_config(x86), ["rapl"])
    rapl_file(x86).write_text("50000000000\n")  # 50 kJ, below half the range
    scrape()
    rapl_file(x86).write_text("2000000\n")  # a module reload restarted the zone
    assert value(samples(scrape()), "edge_energy_joules_total", rail="package-0") == pytest.approx(2.0)
