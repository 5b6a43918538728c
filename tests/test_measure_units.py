"""The figures' arithmetic on its own, without an engine or a stack: measure(), counter
interpolation at a window's edges, and the energy window between two exporter reads."""

from __future__ import annotations

import pytest

from edgemeter.runner.analysis.alignment import counter_increase, interpolate
from edgemeter.runner.backends.base import EngineStats
from edgemeter.runner.exporter_client import parse_page, window
from edgemeter.runner.record import Timing, measure

BASE = {"run_id": "r", "prompt_id": "1", "repetition": 1, "warmup": False, "backend": "b", "model": "m",
        "prompt": "p", "system": None, "expected": None}  # fmt: skip


def _timing(start: float, pieces: list[float], end: float) -> Timing:
    t = Timing(started_at=start)
    for at in pieces:
        t.piece(at, "x")
    t.ended_at = end
    return t


def test_the_engines_rate_counts_the_tokens_after_the_first() -> None:
    stats = EngineStats(output_tokens=32, decode_seconds=0.31, decode_tokens=31, prefill_seconds=0.2)
    rec = measure(_timing(0.0, [0.21 + 0.01 * i for i in range(32)], 0.55), stats, BASE)
    assert rec.decode_tokens_per_second == pytest.approx(100.0)
    assert rec.sources["decode_tokens_per_second"] == "engine" and rec.ttft_seconds == pytest.approx(0.21)


def test_no_decode_phase_no_rate() -> None:
    rec = measure(
        _timing(0.0, [0.2], 0.21), EngineStats(output_tokens=1, decode_seconds=0.0, decode_tokens=0), BASE
    )
    assert rec.decode_tokens_per_second is None and rec.mean_itl_seconds is None


def test_the_runners_own_rate_is_pieces_after_the_first_over_the_time_after_it() -> None:
    rec = measure(_timing(0.0, [0.5, 0.6, 0.7, 0.8, 0.9], 1.0), None, BASE)
    assert rec.decode_tokens_per_second == pytest.approx(4 / 0.4)
    assert rec.sources["decode_tokens_per_second"] == "runner" and rec.output_tokens == 5
    assert rec.mean_itl_seconds == pytest.approx(0.1)


def test_interpolation_at_the_edges_and_a_reset_is_not_measurable() -> None:
    points = [(0.0, 0.0), (1.0, 10.0), (2.0, 30.0)]
    assert interpolate(points, 0.5) == pytest.approx(5.0) and interpolate(points, 1.5) == pytest.approx(20.0)
    assert interpolate(points, 2.5) is None  # off the end: unknown, not extrapolated
    assert interpolate([(0.0, 50.0), (1.0, 1.0)], 0.5) is None  # a counter reset inside the pair
    series = [({"rail": "a"}, points), ({"rail": "b"}, [(0.0, 0.0), (2.0, 2.0)])]
    assert counter_increase(series, 0.5, 1.5) == pytest.approx(15.0 + 1.0)
    assert counter_increase([], 0.0, 1.0) is None


def test_energy_window_between_two_reads() -> None:
    page = (
        '# TYPE edge_energy_joules counter\n'
        'edge_energy_joules_total{rail="VDD_IN",source="ina3221"} 10\n'
        'edge_energy_joules_total{rail="gpu0",source="nvml"} 5\n'
        'edge_energy_joules_total{rail="gpu0",source="hwmon"} 7\n'
        '# TYPE edge_board_input_rail_info gauge\n'
        'edge_board_input_rail_info{rail="POM_5V_IN",rank="2"} 1\n'
        'edge_board_input_rail_info{rail="VDD_IN",rank="1"} 1\n'
    )  # fmt: skip
    before = parse_page(page)
    assert before.energy == {
        "VDD_IN": 10.0,
        "nvml:gpu0": 5.0,
        "hwmon:gpu0": 7.0,
    }  # shared names keep their source
    assert before.input_rail_candidates == ("VDD_IN", "POM_5V_IN") and before.input_rail() == "VDD_IN"
    after = {"VDD_IN": 12.5, "nvml:gpu0": 4.0, "hwmon:gpu0": 7.5}
    assert window(before.energy, after) == {
        "VDD_IN": 2.5,
        "hwmon:gpu0": 0.5,
    }  # a counter that went back: left out


def test_output_tokens_and_how_they_were_counted() -> None:
    from edgemeter.runner.record import _output_tokens

    engine = EngineStats(output_tokens=7, output_tokens_source="engine_decoded")
    assert _output_tokens(engine, 3, "ok", {}) == (7, "engine_decoded")
    assert _output_tokens(EngineStats(), 3, "ok", {}) == (3, "stream")
    assert _output_tokens(EngineStats(chunked_output=True), 5, "ok", {}) == (5, "words")
    assert _output_tokens(EngineStats(), 3, "error", {}) == (
        None,
        None,
    )  # a failed reply's pieces are no count
