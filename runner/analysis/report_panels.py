"""The report's figures that come from the records themselves, not from Prometheus: each
prompt's energy by phase (with its bound), the board's idle power, and the cooldowns before
prompts. Kept apart from the drawing so what is drawn can be checked without a picture.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PhaseBar:
    label: str  # prompt_id#repetition
    prefill: float
    decode: float
    uncertainty: float | None  # energy_uncertainty_joules: the bar's error bar


def phase_bars(records: list[dict[str, Any]]) -> list[PhaseBar]:
    """One bar per prompt run that has both phases' energy."""
    return [
        PhaseBar(
            f"{r['prompt_id']}#{r.get('repetition', 1)}",
            r["prefill_energy_joules"],
            r["decode_energy_joules"],
            r.get("energy_uncertainty_joules"),
        )
        for r in records
        if r.get("prefill_energy_joules") is not None and r.get("decode_energy_joules") is not None
    ]


def idle_watts(records: list[dict[str, Any]]) -> float | None:
    """The run's idle power (``--idle``), as the records carry it: energy less energy above idle,
    over the duration (the same for every record of a run; the median guards rounding)."""
    found = [
        (r["energy_joules"] - r["energy_above_idle_joules"]) / r["request_duration_seconds"]
        for r in records
        if r.get("energy_above_idle_joules") is not None
        and r.get("energy_joules") is not None
        and r.get("request_duration_seconds")
    ]
    return statistics.median(found) if found else None


@dataclass(frozen=True)
class Cooldown:
    start: float  # Unix seconds: the wait began
    end: float  # the prompt started
    temperature: float | None  # the hottest sensor when it started


def cooldowns(records: list[dict[str, Any]]) -> list[Cooldown]:
    """The waits ``--cooldown-to`` made before prompts (only those that waited at all)."""
    return [
        Cooldown(r["started_at"] - r["cooldown_seconds"], r["started_at"], r.get("start_temperature_celsius"))
        for r in records
        if r.get("cooldown_seconds") and r.get("started_at")
    ]
