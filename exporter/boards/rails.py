"""Which rail is the board's input: declared by each board family, picked here, once.

A family lists its input-rail candidates in order; a candidate is one rail, or several joined
by ``+`` whose sum is the input where the board has no single input monitor. The board's input
is the first candidate whose every rail has an energy counter. The exporter publishes the
candidates (``edge_board_input_rail_info``), and the runner, ``runner export`` and ``runner
report`` all call :func:`pick`, so one rule decides what "the board's energy" is. A board with no
candidate present has no input rail: its sub-rails are never passed off as the whole board.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

SEPARATOR = "+"


def parts(rail: str) -> list[str]:
    """The rails a candidate sums (a single rail is a list of one)."""
    return rail.split(SEPARATOR)


def pick(candidates: Sequence[str], rails: Iterable[str]) -> str | None:
    """The first candidate whose every part is among ``rails``; None when there is none."""
    present = set(rails)
    return next((c for c in candidates if all(p in present for p in parts(c))), None)


def total(rail: str, energy: dict[str, float]) -> float | None:
    """The energy of a candidate: the sum of its parts (None when one is missing)."""
    values = [energy.get(p) for p in parts(rail)]
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def unknown(rail: str, present: Iterable[str], where: str = "this board") -> str | None:
    """The one-line complaint for a ``--rail`` with a part not among ``present`` (None if fine)."""
    there = sorted(set(present))
    if all(p in there for p in parts(rail)):
        return None
    return f"--rail {rail}: no such rail on {where} (rails: {', '.join(there) or 'none'})"
