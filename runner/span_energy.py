"""Energy of spans after the fact, from the exporter's samples (``/samples``), on one rail.

Shared by ``runner spans`` (a file of spans) and ``runner wrap`` (its command's window): the
samples over all the spans are fetched once, each span is integrated exactly between them
(runner/window_energy.py), and bounded. A span outside the exporter's history is an error
saying how far back it reaches, never an energy made up from the edge of what is kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from edgemeter.exporter.boards import rails as board_rails
from edgemeter.runner.analysis.raw_export import iso
from edgemeter.runner.energy_bound import MAX_WAIT, complete_by
from edgemeter.runner.exporter_client import ExporterClient
from edgemeter.runner.window_energy import RailSamples, bound, energy, silent_gap, too_short


class SpanEnergyError(Exception):
    """Spans that cannot be measured (outside the history, no such rail): one line."""


@dataclass(frozen=True)
class Measured:
    energy_joules: float
    avg_power_watts: float | None
    uncertainty_joules: float
    too_short: bool


def history(
    client: ExporterClient,
    windows: Sequence[tuple[float, float]],
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, RailSamples]:
    """The samples of every sampled rail over ``windows``, waiting (a few tenths of a second at
    most) for those that stand for the latest window's end when it has only just ended. Once
    the rails' rate is known (``client.settle``), the wait comes before the first request, so
    one request is enough: each costs the measured board a little."""
    lo, hi = min(a for a, _ in windows), max(b for _, b in windows)
    if client.settle is not None:
        early = min(hi + client.settle, hi + MAX_WAIT) + 0.02 - time.time()
        if early > 0:
            sleep(early)
    samples = client.samples(lo - 1.0, hi + 2.0)
    due = max((complete_by(samples, key, hi) or 0.0 for key in samples), default=0.0)
    if due > time.time():
        sleep(due + 0.02 - time.time())
        samples = client.samples(lo - 1.0, hi + 2.0)
    return samples


def choose_rail(samples: dict[str, RailSamples], candidates: Sequence[str], rail: str | None) -> str:
    """``rail`` when every part is sampled, else the board's input rail among the sampled ones."""
    if rail is not None:
        complaint = board_rails.unknown(rail, samples, "the exporter's history")
        if complaint:
            raise SpanEnergyError(complaint + " (rails with a hardware counter keep no samples)")
        return rail
    chosen = board_rails.pick(candidates, samples)
    if chosen is None:
        sampled = ", ".join(sorted(samples)) or "none"
        raise SpanEnergyError(
            f"the exporter keeps no samples of the board's input rail (sampled rails: {sampled}; "
            "choose one with --rail; a rail with a hardware counter, RAPL or NVML, keeps none)"
        )
    return chosen


def check_reach(samples: dict[str, RailSamples], rail: str, start: float, end: float, what: str) -> None:
    """One line when [start, end] is not inside the history of every part of ``rail``."""
    for part in board_rails.parts(rail):
        got = samples[part]
        if got.oldest is not None and start < got.oldest:
            ago = time.time() - got.oldest
            raise SpanEnergyError(
                f"{what} starts at {iso(start)}, before the exporter's history of {part}: it reaches back "
                f"to {iso(got.oldest)} ({ago:.0f} s ago; the exporter's --history-seconds sets it)"
            )
        if end > got.t[-1] + got.resolution() + 1.0:
            raise SpanEnergyError(
                f"{what} ends at {iso(end)}, after the exporter's newest sample of {part} ({iso(got.t[-1])})"
            )
        silent = silent_gap(got, start, end)
        if silent > got.silence():
            raise SpanEnergyError(
                f"{what}: the exporter has no sample of {part} for {silent:.1f} s inside it (the sensor was "
                "silent, or the exporter was not running): its energy is not known"
            )


def measure(samples: dict[str, RailSamples], rail: str, start: float, end: float) -> Measured:
    """The energy over [start, end] on ``rail`` (its parts summed), its bound, and whether it is
    too short for the sensor."""
    joules = unc = 0.0
    short = False
    for part in board_rails.parts(rail):
        got = samples[part]
        joules += energy(got.t, got.watts, start, end)
        unc += bound(got, start, end)
        short = short or too_short(got, start, end)
    duration = end - start
    return Measured(joules, joules / duration if duration > 0 else None, unc, short)
