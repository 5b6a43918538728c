"""Hailo-8/8L (the Pi 5 AI Kit) through HailoRT, against stand-ins written from HailoRT's
documented API and CLI output (tests/fakes): HailoRT is not installable here."""

from __future__ import annotations

import importlib
import logging
import sys
import time
from pathlib import Path

import pytest

from edgemeter.exporter.cli import assemble
from edgemeter.exporter.collectors.hailo import HailoCollector
from edgemeter.exporter.exposition import render
from edgemeter.exporter.sensors import hailo as hailo_sensor

from boardtrees import BOARDS
from conftest import board_config
from helpers import REPO, exporter_cmd, free_port, get, running, samples, select, value

FAKES = REPO / "tests" / "fakes"
DEVICE = "0000:01:00.0"


@pytest.fixture
def state(tmp_path, monkeypatch) -> Path:
    """The stand-ins' state: one Hailo-8L at 51.2/52.9 °C drawing 1.85 W."""
    d = tmp_path / "hailo"
    d.mkdir()
    (d / "devices").write_text(f"{DEVICE}\n")
    (d / "ts0").write_text("51.2\n")
    (d / "ts1").write_text("52.9\n")
    (d / "power").write_text("1.85\n")
    monkeypatch.setenv("EDGEMETER_FAKE_HAILO", str(d))
    return d


@pytest.fixture
def python_api(monkeypatch):
    """HailoRT's Python package, as the stand-in."""
    monkeypatch.syspath_prepend(str(FAKES))
    sys.modules.pop("hailo_platform", None)
    yield importlib.import_module("hailo_platform")
    sys.modules.pop("hailo_platform", None)


@pytest.fixture
def pi5(tmp_path):
    return BOARDS["pi5"](tmp_path / "pi5")


def scrape(collector: HailoCollector) -> dict:
    from edgemeter.exporter.registry import build_registry

    return samples(render(build_registry([collector])).decode())


def test_chip_temperatures_and_power_through_the_python_api(state, python_api, pi5) -> None:
    collector = HailoCollector(board_config(pi5, hailortcli=None))
    data = scrape(collector)
    assert value(data, "edge_collector_success", collector="hailo") == 1
    temps = {
        dict(k)["sensor"]: v for k, v in select(data, "edge_temperature_celsius", source="hailo").items()
    }
    assert temps == {"ts0": 51.2, "ts1": 52.9}
    assert value(data, "edge_power_watts", rail="hailo", source="hailo", device=DEVICE) == 1.85
    (state / "ts0").write_text("63.5\n")  # read anew each time
    assert (
        value(scrape(collector), "edge_temperature_celsius", sensor="ts0", source="hailo", device=DEVICE)
        == 63.5
    )
    assert python_api.OPENED == [DEVICE]  # one handle, kept


def test_a_module_without_a_power_sensor_says_so_once_and_serves_temperature(
    state, python_api, pi5, caplog
) -> None:
    (state / "power").write_text("unsupported\n")
    collector = HailoCollector(board_config(pi5, hailortcli=None))
    with caplog.at_level(logging.INFO, logger="edgemeter.exporter.collectors.hailo"):
        first, second = scrape(collector), scrape(collector)
    said = [r.message for r in caplog.records if "no power measurement" in r.message]
    assert len(said) == 1 and DEVICE in said[0] and "HAILO_UNSUPPORTED_OPCODE" in said[0]
    for data in (first, second):
        assert value(data, "edge_collector_success", collector="hailo") == 1
        assert value(data, "edge_temperature_celsius", sensor="ts1", source="hailo", device=DEVICE) == 52.9
        assert select(data, "edge_power_watts") == {}


def test_hailortcli_alone_gives_power_only(state, pi5, monkeypatch) -> None:
    real = importlib.import_module

    def no_python_api(name, *args):
        if name == "hailo_platform":
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(hailo_sensor.importlib, "import_module", no_python_api)
    collector = HailoCollector(board_config(pi5, hailortcli=str(FAKES / "hailortcli")))
    data = scrape(collector)
    assert value(data, "edge_collector_success", collector="hailo") == 1
    assert value(data, "edge_power_watts", rail="hailo", source="hailo", device=DEVICE) == 1.85
    assert select(data, "edge_temperature_celsius", source="hailo") == {}


def test_no_hailort_at_all_is_no_data_not_an_error(pi5, monkeypatch) -> None:
    monkeypatch.delenv("EDGEMETER_FAKE_HAILO", raising=False)
    data = scrape(HailoCollector(board_config(pi5, hailortcli="/nonexistent/hailortcli")))
    assert value(data, "edge_collector_success", collector="hailo") == 0
    assert value(data, "edge_collector_errors_total", collector="hailo") == 0


def test_a_failing_device_is_counted_and_reopened_when_it_answers_again(state, python_api, pi5) -> None:
    collector = HailoCollector(board_config(pi5, hailortcli=None))
    scrape(collector)
    (state / "fail").write_text("")
    data = scrape(collector)
    assert value(data, "edge_collector_success", collector="hailo") == 0
    assert value(data, "edge_collector_errors_total", collector="hailo") >= 1
    (state / "fail").unlink()
    data = scrape(collector)
    assert value(data, "edge_temperature_celsius", sensor="ts0", source="hailo", device=DEVICE) == 51.2
    assert python_api.OPENED == [DEVICE, DEVICE]


def test_served_from_background_threads_and_power_integrated(state, python_api, pi5) -> None:
    parts = assemble(board_config(pi5, hailortcli=None), ["hailo"], sample_hz=10)
    parts.start()
    try:
        time.sleep(1.2)
        calls_before = len(python_api.OPENED)
        data = samples(render(parts.registry).decode())
    finally:
        parts.stop()
    assert value(data, "edge_power_sample_rate_hertz", collector="hailo") == 2  # its cap
    joules = value(data, "edge_energy_joules_total", rail="hailo", source="hailo", device=DEVICE)
    assert 1.85 * 0.9 < joules < 1.85 * 1.6  # ~1.2 s at a constant 1.85 W
    assert value(data, "edge_temperature_celsius", sensor="ts0", source="hailo", device=DEVICE) == 51.2
    assert len(python_api.OPENED) == calls_before  # the scrape opened nothing


def test_the_real_exporter_on_a_pi_with_an_ai_kit(state, pi5) -> None:
    port = free_port()
    roots = ["--sysfs", str(pi5.sysfs), "--procfs", str(pi5.procfs), "--vcgencmd", str(pi5.vcgencmd)]
    cmd = exporter_cmd("--listen", f"127.0.0.1:{port}", *roots, "--hailortcli", str(FAKES / "hailortcli"))
    env = {"PYTHONPATH": str(FAKES), "EDGEMETER_FAKE_HAILO": str(state)}
    with running(cmd, port, env=env):
        data = samples(get(f"http://127.0.0.1:{port}/metrics"))
    assert value(data, "edge_collector_success", collector="hailo") == 1  # on by the Pi profile
    assert value(data, "edge_temperature_celsius", sensor="ts1", source="hailo", device=DEVICE) == 52.9
    assert value(data, "edge_power_watts", rail="hailo", source="hailo", device=DEVICE) == 1.85
