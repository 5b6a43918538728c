"""A prompt's energy split at its first token (prefill, decode), and above the board's idle power.

The runner reads the exporter's counters at the prompt's start and at its end. Where the energy
rail is sampled (its every part in the exporter's ``/samples``), the split comes from the samples
the prompt's bound is taken from anyway: the prompt's energy shared as the samples share it
before and after the token (:func:`split_sampled`), with no read at the token. Elsewhere (RAPL, NVML
counters, or before the first ``/samples`` answer) the counters are read at the first token too,
on a thread of its own (so the engine's stream never waits on it), a few milliseconds after the
token: the decode's own mean power, from that read to the end, takes the gap back, so the split
falls at the token itself (:func:`split`). The two parts always sum to the prompt's energy.
"""

from __future__ import annotations

from edgemeter.exporter.boards import rails as board_rails
from edgemeter.runner.exporter_client import window
from edgemeter.runner.window_energy import RailSamples, energy, silent_gap


def split(
    before: dict[str, float],
    first: dict[str, float],
    after: dict[str, float],
    rail: str,
    first_token_at: float,
    first_read_at: float,
    end_read_at: float,
) -> tuple[float, float] | None:
    """(prefill, decode) joules on ``rail``; None when a counter is missing from a read."""
    whole = board_rails.total(rail, window(before, after))
    to_first = board_rails.total(rail, window(before, first))
    rest = board_rails.total(rail, window(first, after))
    if whole is None or to_first is None or rest is None:
        return None
    span = end_read_at - first_read_at
    late = max(first_read_at - first_token_at, 0.0)
    back = rest / span * late if span > 0 else 0.0
    prefill = min(max(to_first - back, 0.0), whole)
    return prefill, whole - prefill


def split_sampled(
    samples: dict[str, RailSamples], rail: str, whole: float, start: float, first_token_at: float, end: float
) -> tuple[float, float] | None:
    """(prefill, decode) joules on ``rail`` of a prompt over [start, end] whose counters gave
    ``whole``: ``whole`` shared as the samples share the prompt between [start, first token] and
    the rest, so each phase carries its part of the edge reads' slack, as the whole does; None
    when a part has no samples, or none that cover the prompt (an exporter restarted, a sensor
    fallen silent)."""
    prefill = total = 0.0
    for part in board_rails.parts(rail):
        got = samples.get(part)
        if got is None or got.oldest is None or got.oldest > start:
            return None
        if silent_gap(got, start, end) > got.silence():
            return None
        prefill += energy(got.t, got.watts, start, first_token_at)
        total += energy(got.t, got.watts, start, end)
    if total <= 0:
        return None
    share = whole * min(max(prefill / total, 0.0), 1.0)
    return share, whole - share


def idle_watts(before: dict[str, float], after: dict[str, float], rail: str, seconds: float) -> float | None:
    """Mean power on ``rail`` between two reads ``seconds`` apart."""
    joules = board_rails.total(rail, window(before, after))
    return joules / seconds if joules is not None and seconds > 0 else None


def above_idle(energy: float | None, idle: float | None, duration: float | None) -> float | None:
    """The prompt's energy less what the idle board would have drawn over the same time."""
    if energy is None or idle is None or duration is None:
        return None
    return energy - idle * duration
