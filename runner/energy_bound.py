"""A prompt's ``energy_uncertainty_joules`` and ``energy_too_short``, from the exporter's samples.

The prompt's energy comes from the exporter's counters read just before it starts and just
after it ends; the bound on its error is that of the samples over the prompt (sampling, the
sensor's update interval: runner/window_energy.py) plus the edge reads' slack, summed over the
parts of the energy rail. A part with its own hardware counter (RAPL, NVML) has no samples: only
the slack counts there, at its mean power (the counters update every millisecond or so).
"""

from __future__ import annotations

from edgemeter.exporter.boards import rails as board_rails
from edgemeter.runner.window_energy import RailSamples, bound, covered_until, silent_gap, too_short

MAX_WAIT = 2.0  # seconds the runner waits at most for the samples a bound needs after the end


def complete_by(samples: dict[str, RailSamples], rail: str, end: float) -> float | None:
    """When the samples the bound needs after ``end`` will all be kept (Unix seconds); None if
    they already are."""
    due = [
        covered_until(got, end)
        for part in board_rails.parts(rail)
        if (got := samples.get(part)) is not None and got.t[-1] < end + got.lag
    ]
    return min(max(due), end + MAX_WAIT) if due else None


def prompt_bound(
    samples: dict[str, RailSamples],
    rail: str,
    energy_by_rail: dict[str, float],
    window: tuple[float, float],
    reads: tuple[float, float],
) -> tuple[float, bool] | None:
    """(uncertainty in joules, too short) for the prompt over ``window`` (start, end) whose
    counters were read at ``reads`` (the first read's start, the last read's end); None when the
    samples do not reach back to the prompt's start or the sensor fell silent during it."""
    start, end = window
    slack_before, slack_after = max(start - reads[0], 0.0), max(reads[1] - end, 0.0)
    total, short = 0.0, False
    for part in board_rails.parts(rail):
        got = samples.get(part)
        if got is None:
            joules = energy_by_rail.get(part)
            span = reads[1] - reads[0]
            if joules is None or span <= 0:
                return None
            total += joules / span * (slack_before + slack_after)
            continue
        if got.oldest is None or got.oldest > start or silent_gap(got, start, end) > got.silence():
            return None
        total += bound(got, start, end, slack_before, slack_after, counters=True)
        short = short or too_short(got, start, end)
    return total, short
