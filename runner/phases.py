"""A prompt's energy split at its first token (prefill, decode), and above the board's idle power.

The runner reads the exporter's counters at the prompt's start, at its first token and at its
end. The first-token read is taken on a thread of its own (so the engine's stream never waits on
it), a few milliseconds after the token: the decode's own mean power, from that read to the end,
takes the gap back, so the split falls at the token itself. The two parts always sum to the
prompt's energy.
"""

from __future__ import annotations

from edgemeter.exporter.boards import rails as board_rails
from edgemeter.runner.exporter_client import window


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


def idle_watts(before: dict[str, float], after: dict[str, float], rail: str, seconds: float) -> float | None:
    """Mean power on ``rail`` between two reads ``seconds`` apart."""
    joules = board_rails.total(rail, window(before, after))
    return joules / seconds if joules is not None and seconds > 0 else None


def above_idle(energy: float | None, idle: float | None, duration: float | None) -> float | None:
    """The prompt's energy less what the idle board would have drawn over the same time."""
    if energy is None or idle is None or duration is None:
        return None
    return energy - idle * duration
