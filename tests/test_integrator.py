"""The power sampler: trapezoid integration, carried forward to the scrape, monotonic, rate caps;
and end to end, the exporter's energy counter against the exact integral of a known profile."""

from __future__ import annotations

import math
import threading
import time
import urllib.request

import pytest

from edgemeter.exporter.integrator import Integrator
from edgemeter.exporter.sensors.power import PowerReading
from edgemeter.exporter.sensors.sysfs import ReadLog

from boardtrees import BOARDS
from helpers import Clock, SensorFile, exporter_cmd, free_port, running, samples, value


class Source:
    """A power source whose watts the test sets; ``max_sample_hz`` as a vcgencmd source has."""

    def __init__(self, name: str = "fake", max_sample_hz: float | None = None, delay: float = 0.0) -> None:
        self.name = name
        self.max_sample_hz = max_sample_hz
        self.delay = delay  # how long a read takes (vcgencmd forks)
        self.watts: float | None = 0.0
        self.reads = 0

    def read_power(self, rlog: ReadLog) -> list[PowerReading]:
        self.reads += 1
        time.sleep(self.delay)
        if self.watts is None:
            raise OSError("sensor gone")
        return [PowerReading("VDD_IN", "test", self.watts)]


def joules(integrator: Integrator, source: str = "fake") -> float:
    [(labels, value)] = integrator.energy(source)
    assert labels == {"rail": "VDD_IN", "source": "test"}
    return value


def test_trapezoid_is_exact_for_a_ramp() -> None:
    clock, src = Clock(), Source()
    integ = Integrator([src], hz=10, clock=clock)
    for i in range(11):  # 0 W -> 10 W over 1 s, sampled every 0.1 s
        src.watts = 10.0 * i / 10
        integ.sample(src)
        clock.now += 0.1
    clock.now -= 0.1
    assert joules(integ) == pytest.approx(5.0)


def test_scrape_carries_the_latest_reading_forward_to_now() -> None:
    clock, src = Clock(), Source()
    integ = Integrator([src], hz=10, clock=clock)
    src.watts = 4.0
    integ.sample(src)
    clock.now += 0.1
    integ.sample(src)
    assert joules(integ) == pytest.approx(0.4)
    clock.now += 0.05  # a scrape between two samples
    assert joules(integ) == pytest.approx(0.6)


def test_served_energy_never_goes_down_when_power_falls() -> None:
    clock, src = Clock(), Source()
    integ = Integrator([src], hz=10, clock=clock)
    src.watts = 10.0
    integ.sample(src)
    clock.now += 0.09
    high = joules(integ)  # 0.9 J carried forward at 10 W
    clock.now += 0.01
    src.watts = 0.0
    integ.sample(src)  # trapezoid says 0.5 J: below what a scrape already saw
    assert joules(integ) == pytest.approx(high)
    clock.now += 0.5
    integ.sample(src)
    assert joules(integ) == pytest.approx(high)


def test_a_long_silence_is_not_integrated_across() -> None:
    clock, src = Clock(), Source()
    integ = Integrator([src], hz=10, clock=clock)
    src.watts = 5.0
    integ.sample(src)
    src.watts = None  # unplugged for a minute
    for _ in range(600):
        clock.now += 0.1
        integ.sample(src)
    assert integ.stats["fake"].errors == 600
    src.watts = 5.0
    integ.sample(src)
    energy = joules(integ)
    assert energy == pytest.approx(5.0 * 2.0)  # carried forward at most max_gap (2 s), never 60 s


def test_slow_sources_are_sampled_at_their_own_cap() -> None:
    fast, slow = Source("fast"), Source("slow", max_sample_hz=5)
    integ = Integrator([fast, slow], hz=20)
    assert integ.period("fast") == pytest.approx(0.05) and integ.period("slow") == pytest.approx(0.2)
    integ.start()
    time.sleep(1.0)
    integ.stop()
    assert 15 <= fast.reads <= 23 and 4 <= slow.reads <= 7


def test_a_slow_source_never_delays_another() -> None:
    """vcgencmd (the PMIC) can take up to its timeout: the other sources keep their grid."""
    fast, wedged = Source("fast"), Source("wedged", max_sample_hz=2, delay=0.3)
    integ = Integrator([fast, wedged], hz=20)
    integ.start()  # returns once each source was read once (the wedged one after 0.3 s)
    before = fast.reads
    time.sleep(1.0)
    integ.stop()
    assert 15 <= fast.reads - before <= 23  # one thread for both: ~8 (0.3 s lost per wedged read)


# --- end to end: the real exporter, a sensor file changed on a known schedule ----------------


def profile(t: float) -> float:
    """Current on VDD_IN in amperes: 1.2 A ± 0.6 A, a 2 s sine (a slowly varying load)."""
    return 1.2 + 0.6 * math.sin(2 * math.pi * t / 2.0)


def exact_energy(t0: float, t1: float, volts: float, step: float) -> float:
    """Integral of volts x the profile as the test wrote it: held constant for each ``step``."""
    total = 0.0
    for k in range(math.floor(t0 / step), math.floor(t1 / step) + 1):
        start, end = max(k * step, t0), min((k + 1) * step, t1)
        if end > start:
            total += volts * round(profile(k * step) * 1000) / 1000 * (end - start)
    return total


def test_energy_counter_matches_the_exact_integral(tmp_path) -> None:
    orin = BOARDS["jetson_orin"](tmp_path / "orin")
    chip = (orin.sysfs / "bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon1").resolve()
    volts = int((chip / "in1_input").read_text()) / 1000
    step = 0.01  # the "sensor" changes every 10 ms: faster than the 10 Hz sampler
    origin = time.monotonic()
    done = threading.Event()

    def drive() -> None:
        sensor = SensorFile(chip / "curr1_input")
        try:
            while not done.is_set():
                t = time.monotonic() - origin
                k = math.floor(t / step)
                sensor.write(round(profile(k * step) * 1000))
                done.wait(max((k + 1) * step + origin - time.monotonic(), 0))
        finally:
            sensor.close()

    port = free_port()
    roots = ["--sysfs", str(orin.sysfs), "--procfs", str(orin.procfs)]
    only_ina = ["--collector.disable-defaults", "--collector.ina3221", "--sample-hz", "10"]
    cmd = exporter_cmd("--listen", f"127.0.0.1:{port}", *roots, *only_ina)
    driver = threading.Thread(target=drive)
    driver.start()
    try:
        with running(cmd, port):
            url = f"http://127.0.0.1:{port}/metrics"

            def read() -> tuple[float, float]:
                before = time.monotonic()
                with urllib.request.urlopen(url, timeout=5) as r:
                    body = r.read().decode()
                at = (before + time.monotonic()) / 2 - origin
                return at, value(samples(body), "edge_energy_joules_total", rail="VDD_IN")

            time.sleep(1.0)
            t0, e0 = read()
            time.sleep(4.3)  # not a whole number of periods: the varying part must integrate right
            t1, e1 = read()
    finally:
        done.set()
        driver.join()
    expected = exact_energy(t0, t1, volts, step)
    print(f"energy {e1 - e0:.4f} J, exact {expected:.4f} J, error {(e1 - e0) / expected - 1:+.3%}")
    assert e1 - e0 == pytest.approx(expected, rel=0.01), (e1 - e0, expected)


@pytest.mark.parametrize("glitch", [-5.0, 1e300 * 1e300, float("nan"), 1e6])
def test_an_unphysical_reading_is_never_integrated(glitch: float) -> None:
    clock, source = Clock(), Source()
    integrator = Integrator([source], 10, clock=clock)
    source.watts = 2.0
    integrator.sample(source)
    clock.now += 1
    integrator.sample(source)
    assert joules(integrator) == pytest.approx(2.0)
    source.watts = glitch
    clock.now += 1
    integrator.sample(source)
    assert integrator.stats["fake"].errors == 1
    source.watts = 2.0
    clock.now += 0.1
    integrator.sample(source)
    # the glitch took no energy and no infinity; integration goes on across the dropped sample
    assert math.isfinite(joules(integrator)) and joules(integrator) == pytest.approx(2.0 + 2.0 * 1.1)
