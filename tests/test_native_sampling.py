"""The C sampler (exporter/_native_sampler.c): its grid, its values, failed reads, a full buffer,
and the integrator reading the Orin's INA3221 rails through it, against the Python path."""

from __future__ import annotations

import itertools
import logging
import time
from array import array
from collections.abc import Callable
from pathlib import Path

import pytest

from edgemeter.exporter import native_sampling
from edgemeter.exporter.collectors.hwmon import HwmonCollector
from edgemeter.exporter.collectors.ina3221 import Ina3221Collector
from edgemeter.exporter.integrator import Integrator, physical
from edgemeter.exporter.sensors.sysfs import ReadLog

from boardtrees import BOARDS, write_tree
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
def test_it_reads_every_file_and_sees_each_new_value(tmp_path) -> None:
    paths = files(tmp_path, mv="5000\n", ma="1200\n")
    sampler = native_sampling.Sampler(paths, 0.01, 1000)
    began = time.monotonic()
    sampler.start()
    try:
        time.sleep(0.2)
        sensor = SensorFile(tmp_path / "ma")
        sensor.write(-300)  # a driver's fixed-width rewrite; negative current
        sensor.close()
        time.sleep(0.1)
    finally:
        sampler.stop()
    elapsed = time.monotonic() - began
    times, values, failed, dropped = drained(sampler)
    n = len(times)
    # a loaded machine may stall the thread (it then skips the slots it missed), never add slots
    assert 0.5 * elapsed / 0.01 <= n <= elapsed / 0.01 + 2, (n, elapsed)
    # a read racing the rewrite may see it torn (the kernel makes no promise for regular files)
    assert dropped == 0 and sum(1 for f in failed if f) <= 1, (dropped, list(failed))
    assert began <= times[0] and times[-1] <= time.monotonic()  # time.monotonic()'s clock
    pairs = [(values[2 * i], values[2 * i + 1]) for i in range(n)]
    assert pairs[0] == (5000.0, 1200.0) and pairs[-1] == (5000.0, -300.0), (pairs[0], pairs[-1])
    assert drained(sampler)[0] == array("d")  # a drain takes what it returns


@needs_c
def test_it_keeps_an_absolute_grid_rather_than_sleeping_a_period_after_each_read(tmp_path) -> None:
    period = 0.005
    sampler = native_sampling.Sampler(files(tmp_path, a="1\n"), period, 1000)
    sampler.start()
    time.sleep(0.4)
    sampler.stop()
    times = drained(sampler)[0]
    phase = sorted(min((t - times[0]) % period, period - (t - times[0]) % period) for t in times)
    # a sleep after each read drifts by its read and wake-up time every sample: ~2 ms by the middle
    assert len(times) >= 40 and phase[len(phase) // 2] < 0.0005, phase[len(phase) // 2]


@needs_c
def test_each_value_parses_as_pythons_float_reads_it_or_sets_its_bit(tmp_path) -> None:
    texts = ["1\n", "N/A\n", "3", "", "4 5\n", "0x10\n", "12\0junk", "+7\n", "-0\n", "1e-320\n"]
    texts += ["-", "1234567890123456789012\n", " 42 \n", "2.5\n", "1e999\n"]
    paths = files(tmp_path, **{f"v{i}": t for i, t in enumerate(texts)})
    sampler = native_sampling.Sampler(paths, 0.01, 100)
    sampler.start()
    time.sleep(0.08)
    sampler.stop()
    _, values, failed, _ = drained(sampler)
    assert failed, "no sample taken"
    for i, text in enumerate(texts):
        try:
            expected: float | None = float(text)
        except ValueError:
            expected = None
        if expected is not None and (expected != expected or abs(expected) == float("inf")):
            expected = None  # not finite: an error on both paths
        bad = bool(failed[0] >> i & 1)
        assert bad == (expected is None), (text, values[i])
        if expected is not None:
            assert values[i] == expected and str(values[i]) == str(expected), text  # -0.0 too


@needs_c
def test_start_after_stop_or_a_second_init_is_refused_and_a_dropped_sampler_stops(tmp_path) -> None:
    sampler = native_sampling.Sampler(files(tmp_path, a="1\n"), 0.01, 10)
    sampler.start()
    sampler.stop()
    sampler.stop()  # twice is nothing
    with pytest.raises(RuntimeError):
        sampler.start()
    with pytest.raises(RuntimeError):
        sampler.__init__([str(tmp_path / "a")], 0.01, 10)
    with pytest.raises(TypeError):
        native_sampling.Sampler(str(tmp_path / "a"), 0.01, 10)  # one path, not a list of them
    for period in (0.0, 1e-9, 3600.0):
        with pytest.raises(ValueError):
            native_sampling.Sampler([str(tmp_path / "a")], period, 10)
    running = native_sampling.Sampler([str(tmp_path / "a")], 0.01, 10)
    running.start()
    del running  # its thread is joined and its file closed, not left behind


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


def window(read: Callable[[], float], seconds: float, settle: float = 0.3) -> tuple[float, float, float]:
    """(start, duration, joules) of a window on a running integrator's counter, after ``settle``."""
    time.sleep(settle)
    t0, e0 = time.monotonic(), read()
    time.sleep(seconds)
    return t0, time.monotonic() - t0, read() - e0


@pytest.mark.parametrize("native", [pytest.param(True, marks=needs_c), False])
def test_both_paths_integrate_the_same_rail_exactly(tmp_path, native: bool) -> None:
    collector, _, volts, amps = orin_rail(tmp_path)
    integrator = Integrator([collector], 100, native=native)
    integrator.start()
    try:
        t0, seconds, joules = window(lambda: vdd_in(integrator), 1.0)
        assert integrator.natively["ina3221"] is native
        history = integrator.history(t0, t0 + seconds, ["ina3221"])[0]
    finally:
        integrator.stop()
    assert joules == pytest.approx(volts * amps * seconds, rel=0.005)
    rail = next(r for r in history.rails if r.labels["rail"] == "VDD_IN")
    gaps = sorted(b - a for a, b in itertools.pairwise(rail.t))
    assert gaps[len(gaps) // 2] == pytest.approx(0.01, abs=0.002)
    assert integrator.stats["ina3221"].errors == 0


@needs_c
def test_a_rail_that_fails_is_counted_at_each_sample_while_c_reads_the_others(tmp_path, caplog) -> None:
    collector, chip, volts, _ = orin_rail(tmp_path)
    integrator = Integrator([collector], 100)
    caplog.set_level(logging.INFO, logger="edgemeter.exporter.integrator")
    integrator.start()
    try:
        time.sleep(0.3)
        (chip / "curr1_input").write_text("garbage\n")  # VDD_IN's current no longer reads
        broke = time.monotonic()
        time.sleep(1.5)
        integrator.energy("ina3221")  # a drain: what C read is counted now
        errors = integrator.stats["ina3221"].errors
        assert errors >= 50  # about one a sample, as from Python
        assert integrator.natively["ina3221"]  # C went on reading the other rails
        kept = integrator.history(broke, time.monotonic(), ["ina3221"])[0].rails
        rails = {r.labels["rail"]: r for r in kept}
        assert sum(t > broke + 0.1 for t in rails["VDD_SOC"].t) >= 50  # sampled all along
        assert sum(t > broke + 0.1 for t in rails["VDD_IN"].t) == 0  # nothing read, nothing kept
        sensor = SensorFile(chip / "curr1_input")
        sensor.write(2000)  # it reads again: 2 A
        sensor.close()
        time.sleep(0.3)
        t0, e0 = time.monotonic(), vdd_in(integrator)
        time.sleep(0.5)
        t1, e1 = time.monotonic(), vdd_in(integrator)
    finally:
        integrator.stop()
    assert e1 - e0 == pytest.approx(volts * 2.0 * (t1 - t0), rel=0.01)
    assert "read in C: VDD_CPU_GPU_CV, VDD_IN, VDD_SOC" in caplog.text


@needs_c
def test_c_and_python_compute_the_same_watts_from_the_same_files(tmp_path) -> None:
    collector, chip, _, _ = orin_rail(tmp_path)
    for name, text in (("in1_input", "19128\n"), ("curr1_input", "1337\n"), ("in2_input", "4999\n")):
        (chip / name).write_text(text)
    plan = collector.file_plan(ReadLog())
    run = native_sampling.NativeRun(plan, 0.01, physical)
    time.sleep(0.05)
    run.stop()
    batch = run.drain()
    from_c = {rail.labels["rail"]: watts[0] for rail, watts in batch.watts}
    from_python = {r.rail: r.watts for r in collector.read_power(ReadLog())}
    assert from_c == from_python and len(from_c) == 3  # bit for bit, not approximately


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
        sensor = SensorFile(chip / "curr1_input")
        sensor.write(999_999_999)  # 5 MW: a glitch, not a load
        time.sleep(0.3)
        sensor.write(round(amps * 1000))
        sensor.close()
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
        _, seconds, joules = window(lambda: vdd_in(integrator), 0.5)
        assert not integrator.natively["ina3221"]
    finally:
        integrator.stop()
    assert joules == pytest.approx(volts * amps * seconds, rel=0.01)


@needs_c
def test_a_power_hat_on_a_pi_is_read_in_c_as_python_reads_it(tmp_path) -> None:
    pi = BOARDS["pi5"](tmp_path / "pi5")
    hat = {"class/hwmon/hwmon9/name": "ina219\n", "class/hwmon/hwmon9/power1_input": "3120457\n"}
    write_tree(pi.sysfs, hat)  # an INA219 power HAT (the hwmon ina2xx driver)
    collector = HwmonCollector(board_config(pi))
    plan = collector.file_plan(ReadLog())
    assert [r.labels["rail"] for r in plan.rails] == ["power1"]
    integrator = Integrator([collector], 100)
    integrator.start()
    try:
        t0, seconds, joules = window(lambda: integrator.energy("hwmon")[0][1], 0.5)
        assert integrator.natively["hwmon"]
        history = integrator.history(t0, t0 + seconds, ["hwmon"])[0].rails[0]
    finally:
        integrator.stop()
    assert joules == pytest.approx(3.120457 * seconds, rel=0.01)
    from_python = [r.watts for r in collector.read_power(ReadLog())]
    assert set(history.watts) == set(from_python) == {3.120457}


@needs_c
def test_unread_the_integrator_drains_the_c_buffer_only_every_half_of_it(tmp_path, monkeypatch) -> None:
    """Reads of energy and samples drain the C buffer themselves, so the integrator's own thread
    wakes only to keep it from filling (every BUFFER_SECONDS / 2), not once a second: each wake
    costs a busy board CPU. Nothing is lost meanwhile."""
    drains = []
    real = native_sampling.NativeRun.drain
    monkeypatch.setattr(native_sampling.NativeRun, "drain", lambda run: drains.append(1) or real(run))
    collector, _, _, _ = orin_rail(tmp_path)
    integrator = Integrator([collector], 10)
    integrator.start()
    try:
        time.sleep(3.0)  # nobody reads
        own = len(drains)
        time.sleep(native_sampling.DRAIN_PERIOD)
        integrator.energy("ina3221")
    finally:
        integrator.stop()
    assert native_sampling.DRAIN_PERIOD <= native_sampling.BUFFER_SECONDS / 2
    assert own <= 1, f"{own} drains in 3 s"
    stats = integrator.stats["ina3221"]
    assert stats.errors == 0 and stats.samples >= 60  # 7 s at 10 Hz: none dropped from the buffer
