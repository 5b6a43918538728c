"""The C sampler (exporter/_native_sampler.c): its grid, its values, failed reads, a full buffer,
and the integrator reading the Orin's INA3221 rails through it, against the Python path."""

from __future__ import annotations

import itertools
import logging
import time
from array import array
from pathlib import Path

import pytest

from edgemeter.exporter import native_sampling
from edgemeter.exporter.collectors.ina3221 import Ina3221Collector
from edgemeter.exporter.integrator import Integrator

from boardtrees import BOARDS
from conftest import board_config
from helpers import SensorFile

needs_c = pytest.mark.skipif(
    not native_sampling.available(), reason="the C sampler was not built (no C compiler at install)"
)


def drained(sampler: object) -> tuple[array, array, array, int]:
    t, v, f, dropped = sampler.drain()  # type: ignore[attr-defined]
    times, values, failed = array("d"), array("d"), array("Q")
    times.frombytes(t)
    values.frombytes(v)
    failed.frombytes(f)
    return times, values, failed, dropped


def files(tmp_path: Path, **values: str) -> list[str]:
    for name, text in values.items():
        (tmp_path / name).write_text(text)
    return [str(tmp_path / name) for name in values]


@needs_c
def test_it_reads_every_file_on_its_grid_and_sees_each_new_value(tmp_path) -> None:
    paths = files(tmp_path, mv="5000\n", ma="1200\n")
    sampler = native_sampling.Sampler(paths, 0.01, 1000)
    sampler.start()
    try:
        time.sleep(0.2)
        SensorFile(tmp_path / "ma").write(-300)  # a driver's fixed-width rewrite; negative current
        time.sleep(0.1)
    finally:
        sampler.stop()
    times, values, failed, dropped = drained(sampler)
    n = len(times)
    assert 25 <= n <= 32 and dropped == 0 and not any(failed)
    gaps = sorted(b - a for a, b in itertools.pairwise(times))
    assert gaps[len(gaps) // 2] == pytest.approx(0.01, abs=0.002)  # the grid, not sleep-after-work
    assert abs(times[-1] - time.monotonic()) < 1.0  # time.monotonic()'s clock
    pairs = [(values[2 * i], values[2 * i + 1]) for i in range(n)]
    assert pairs[0] == (5000.0, 1200.0) and pairs[-1] == (5000.0, -300.0)
    assert drained(sampler)[0] == array("d")  # a drain takes what it returns


@needs_c
def test_a_file_that_does_not_parse_sets_its_bit_and_not_the_others(tmp_path) -> None:
    paths = files(tmp_path, a="1\n", b="N/A\n", c="3", d="", e="4 5\n")
    sampler = native_sampling.Sampler(paths, 0.01, 100)
    sampler.start()
    time.sleep(0.05)
    sampler.stop()
    _, values, failed, _ = drained(sampler)
    assert set(failed) == {0b11010}
    assert (values[0], values[2]) == (1.0, 3.0)


@needs_c
def test_a_full_buffer_drops_its_oldest_samples_and_counts_them(tmp_path) -> None:
    sampler = native_sampling.Sampler(files(tmp_path, a="7\n"), 0.005, 4)
    sampler.start()
    time.sleep(0.2)
    sampler.stop()
    times, _, _, dropped = drained(sampler)
    assert len(times) == 4 and dropped >= 20
    assert time.monotonic() - times[-1] < 0.1  # the newest are kept


@needs_c
def test_a_file_that_cannot_be_opened_is_an_error_naming_it(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="gone"):
        native_sampling.Sampler([str(tmp_path / "gone")], 0.01, 10)
    with pytest.raises(ValueError):
        native_sampling.Sampler([str(tmp_path)] * 65, 0.01, 10)


# --- the integrator through it, on the Orin tree -----------------------------------------------


def orin_rail(tmp_path: Path) -> tuple[Ina3221Collector, Path, float, float]:
    orin = BOARDS["jetson_orin"](tmp_path / "orin")
    chip = (orin.sysfs / "bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon1").resolve()
    volts = int((chip / "in1_input").read_text()) / 1000
    amps = int((chip / "curr1_input").read_text()) / 1000
    return Ina3221Collector(board_config(orin)), chip, volts, amps


def vdd_in(integrator: Integrator) -> float:
    return next(j for labels, j in integrator.energy("ina3221") if labels["rail"] == "VDD_IN")


@pytest.mark.parametrize("native", [pytest.param(True, marks=needs_c), False])
def test_both_paths_integrate_the_same_rail_exactly(tmp_path, native: bool) -> None:
    collector, _, volts, amps = orin_rail(tmp_path)
    integrator = Integrator([collector], 100, native=native)
    integrator.start()
    try:
        time.sleep(0.3)
        t0, e0 = time.monotonic(), vdd_in(integrator)
        time.sleep(1.0)
        t1, e1 = time.monotonic(), vdd_in(integrator)
        assert integrator.natively["ina3221"] is native
        history = integrator.history(t0, t1, ["ina3221"])[0]
    finally:
        integrator.stop()
    assert e1 - e0 == pytest.approx(volts * amps * (t1 - t0), rel=0.005)
    rail = next(r for r in history.rails if r.labels["rail"] == "VDD_IN")
    gaps = sorted(b - a for a, b in itertools.pairwise(rail.t))
    assert gaps[len(gaps) // 2] == pytest.approx(0.01, abs=0.002)
    assert integrator.stats["ina3221"].errors == 0


@needs_c
def test_a_rail_that_fails_mid_run_is_counted_and_the_others_go_on(tmp_path, caplog) -> None:
    collector, chip, volts, _ = orin_rail(tmp_path)
    integrator = Integrator([collector], 100)
    caplog.set_level(logging.INFO, logger="edgemeter.exporter.integrator")
    integrator.start()
    try:
        time.sleep(0.3)
        soc = next(j for labels, j in integrator.energy("ina3221") if labels["rail"] == "VDD_SOC")
        (chip / "curr1_input").write_text("garbage\n")  # VDD_IN's current no longer reads
        time.sleep(0.8)
        assert integrator.stats["ina3221"].errors > 0
        soc_after = next(j for labels, j in integrator.energy("ina3221") if labels["rail"] == "VDD_SOC")
        assert soc_after > soc  # the other rails kept integrating
        SensorFile(chip / "curr1_input").write(2000)  # it reads again: 2 A
        time.sleep(1.6)  # the second of Python samples, then C again
        t0, e0 = time.monotonic(), vdd_in(integrator)
        time.sleep(0.5)
        t1, e1 = time.monotonic(), vdd_in(integrator)
        assert integrator.natively["ina3221"]
    finally:
        integrator.stop()
    assert e1 - e0 == pytest.approx(volts * 2.0 * (t1 - t0), rel=0.01)
    assert "read in C: VDD_CPU_GPU_CV, VDD_IN, VDD_SOC" in caplog.text


@needs_c
def test_a_rail_added_later_is_found_at_the_next_search(tmp_path, monkeypatch) -> None:
    from edgemeter.exporter import integrator as integrator_module

    monkeypatch.setattr(integrator_module, "REPLAN", 0.5)
    collector, chip, _, _ = orin_rail(tmp_path)
    (chip / "in3_label").write_text("NC\n")  # channel 3 unused at first
    integrator = Integrator([collector], 50)
    integrator.start()
    try:
        time.sleep(0.4)
        before = {labels["rail"] for labels, _ in integrator.energy("ina3221")}
        (chip / "in3_label").write_text("VDD_SOC\n")
        time.sleep(1.5)
        after = {labels["rail"] for labels, _ in integrator.energy("ina3221")}
    finally:
        integrator.stop()
    assert "VDD_SOC" not in before and "VDD_SOC" in after


@needs_c
def test_an_unphysical_reading_from_c_is_counted_and_never_integrated(tmp_path) -> None:
    collector, chip, volts, amps = orin_rail(tmp_path)
    integrator = Integrator([collector], 100)
    integrator.start()
    try:
        time.sleep(0.3)
        t0, e0 = time.monotonic(), vdd_in(integrator)
        SensorFile(chip / "curr1_input").write(999_999_999)  # 5 MW: a glitch, not a load
        time.sleep(0.3)
        SensorFile(chip / "curr1_input").write(round(amps * 1000))
        time.sleep(0.3)
        t1, e1 = time.monotonic(), vdd_in(integrator)
        assert integrator.natively["ina3221"]
    finally:
        integrator.stop()
    assert integrator.stats["ina3221"].errors >= 20
    assert e1 - e0 == pytest.approx(volts * amps * (t1 - t0), rel=0.02)  # bridged, not spiked


def test_without_the_extension_the_rails_are_sampled_from_python(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(native_sampling, "Sampler", None)  # as installed without a C compiler
    collector, _, volts, amps = orin_rail(tmp_path)
    integrator = Integrator([collector], 100)
    integrator.start()
    try:
        time.sleep(0.3)
        t0, e0 = time.monotonic(), vdd_in(integrator)
        time.sleep(0.5)
        t1, e1 = time.monotonic(), vdd_in(integrator)
        assert not integrator.natively["ina3221"]
    finally:
        integrator.stop()
    assert e1 - e0 == pytest.approx(volts * amps * (t1 - t0), rel=0.01)
