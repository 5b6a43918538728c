"""The report's panels drawn from the records: energy by phase with its bound, the idle line,
the cooldowns; drawn against a Prometheus that has nothing, so only the records speak."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgemeter.runner.analysis import report
from edgemeter.runner.analysis.report_panels import cooldowns, idle_watts, phase_bars


def record(k: int, **kw: object) -> dict:
    start = 1_800_000_000.0 + 10 * k
    base = {
        "run_id": "r", "prompt_id": str(k), "repetition": 1, "status": "ok", "started_at": start,
        "ended_at": start + 2.0, "request_duration_seconds": 2.0, "energy_joules": 12.0,
        "prefill_energy_joules": 4.0, "decode_energy_joules": 8.0, "energy_uncertainty_joules": 0.5,
        "energy_above_idle_joules": 12.0 - 2.5 * 2.0, "cooldown_seconds": 3.0 if k else 0.0,
        "start_temperature_celsius": 44.5, "decode_tokens_per_second": 30.0,
    }  # fmt: skip
    return {**base, **kw}


def test_the_panels_come_from_the_records() -> None:
    recs = [record(0), record(1), record(2, prefill_energy_joules=None)]
    assert [(b.label, b.prefill, b.decode, b.uncertainty) for b in phase_bars(recs)] == [
        ("0#1", 4.0, 8.0, 0.5),
        ("1#1", 4.0, 8.0, 0.5),
    ]
    assert idle_watts(recs) == pytest.approx(2.5)
    assert idle_watts([record(0, energy_above_idle_joules=None)]) is None
    [first, second] = cooldowns(recs)  # the first prompt did not have to wait
    assert (first.start, first.end, first.temperature) == (1_800_000_007.0, 1_800_000_010.0, 44.5)
    assert second.end == 1_800_000_020.0


class NoSeries:
    """A Prometheus with no series at all."""

    def range(self, expr: str, start: float, end: float, step: float) -> list:
        return []

    def samples(self, selector: str, start: float, end: float) -> list:
        return []


def test_the_picture_has_the_phases_the_idle_line_and_the_cooldowns(tmp_path: Path) -> None:
    out = tmp_path / "run.png"
    had = report.draw(NoSeries(), [record(0), record(1)], ".*", out)  # type: ignore[arg-type]
    assert had[report.PHASES] and had["idle line"] and had["cooldowns"]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bare = [record(0, prefill_energy_joules=None, energy_above_idle_joules=None, cooldown_seconds=None)]
    had = report.draw(NoSeries(), bare, ".*", tmp_path / "bare.png")  # type: ignore[arg-type]
    assert not had[report.PHASES] and not had["idle line"] and not had["cooldowns"]
