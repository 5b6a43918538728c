"""Progress on stderr (a bar on a TTY, plain lines otherwise, nothing with --quiet) and the
summary table at the end."""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any, TextIO

from edgemeter.runner.analysis import repetitions
from edgemeter.runner.record import PromptRecord


class Progress:
    def __init__(self, total: int, quiet: bool, stream: TextIO = sys.stderr) -> None:
        self.total = total
        self.quiet = quiet
        self.stream = stream
        self.tty = stream.isatty()
        self.done = 0
        self.start = time.monotonic()

    def say(self, text: str) -> None:
        if not self.quiet:
            if self.tty:
                self.stream.write("\r\033[K")
            print(text, file=self.stream, flush=True)

    def update(self, rec: PromptRecord) -> None:
        self.done += 1
        if self.quiet:
            return
        elapsed = time.monotonic() - self.start
        eta = elapsed / self.done * (self.total - self.done)
        rate = f"{rec.decode_tokens_per_second:.1f} tok/s" if rec.decode_tokens_per_second else "-"
        tag = " (warm-up)" if rec.warmup else ""
        line = f"prompt {self.done}/{self.total} id={rec.prompt_id}{tag} {rec.status} {rate} ETA {eta:.0f}s"
        if self.tty:
            filled = int(30 * self.done / max(self.total, 1))
            self.stream.write(f"\r\033[K[{'#' * filled}{'.' * (30 - filled)}] {line}")
            self.stream.flush()
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self.tty and not self.quiet:
            self.stream.write("\n")


COLUMNS = (  # header, record field, decimals (0: a count, shown as an integer)
    ("ttft_s", "ttft_seconds", 3),
    ("tok/s", "decode_tokens_per_second", 1),
    ("tok/s_95%", "decode_tokens_per_second", -1),  # the interval of the median (3 runs or more)
    ("in_tok", "input_tokens", 0),
    ("out_tok", "output_tokens", 0),
    ("energy_J", "energy_joules", 3),
    ("+-J", "energy_uncertainty_joules", 3),
    ("J/tok", "joules_per_output_token", 4),
)
SHORT_MARK = "~"  # an energy measured over too few of its sensor's updates: one significant figure


def _rough(value: float) -> str:
    return SHORT_MARK + f"{value:.1g}"


def _number(value: float | None, decimals: int) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if decimals == 0 and float(value).is_integer() else f"{value:.{max(decimals, 1)}f}"


def _median(values: list[float], decimals: int) -> str:
    return _number(statistics.median(values), decimals) if values else "-"


def _cells(g: repetitions.Group, recs: list[dict[str, Any]], scored: bool) -> list[str]:
    ok = [r for r in recs if r.get("status") == "ok"]
    cells = [g.prompt_id, str(g.runs), str(g.failed)]
    for _, field, decimals in COLUMNS:
        figure = g.figures.get(field)
        if decimals < 0:  # an interval
            lo_hi = figure.interval if figure else None
            cells.append(f"{lo_hi[0]:.1f}-{lo_hi[1]:.1f}" if lo_hi else "-")
        elif field == "energy_joules" and ok and all(r.get("energy_too_short") for r in ok):
            values = [r[field] for r in ok if isinstance(r.get(field), int | float)]
            cells.append(_rough(statistics.median(values)) if values else "-")
        elif figure is not None:
            cells.append(_number(figure.median, decimals))
        else:
            cells.append(_median([r[field] for r in ok if isinstance(r.get(field), int | float)], decimals))
    if scored:
        cells.append(_number(g.score, 2))
    return cells


def summary(
    records: list[PromptRecord], energy_note: str | None = None, include_throttled: bool = False
) -> str:
    """Per prompt over its repetitions, and over all of them: medians of TTFT, tok/s (with the
    95 % interval of the median from three runs on), tokens, energy and J/token, failures and the
    mean score, in columns as wide as their widest cell; and, where energy is ``-`` for every
    prompt, the reason (no exporter URL, no energy counter, no input rail). Prompts the board
    throttled during are left out (and counted) unless ``include_throttled``."""
    data = [r.to_json() for r in records]
    groups, overall, throttled = repetitions.summarize(data, include_throttled)
    scored = any(g.score is not None for g in groups)
    table = [["prompt_id", "runs", "failed", *(h for h, _, _ in COLUMNS), *(["score"] if scored else [])]]
    kept = [r for r in data if not r.get("warmup") and (include_throttled or not r.get("throttled"))]
    for g in [*groups, *([overall] if overall else [])]:
        recs = kept if g is overall else [r for r in kept if str(r.get("prompt_id")) == g.prompt_id]
        table.append(_cells(g, recs, scored))
    energy_at = table[0].index("energy_J")
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    rows = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in table
    ]
    n = len(groups)
    rows.append(f"{n} prompt{'' if n == 1 else 's'}, {sum(g.runs for g in groups)} measured")
    if throttled:
        plural = "" if throttled == 1 else "s"
        rows.append(f"{throttled} throttled prompt{plural} left out (--include-throttled keeps them)")
    if any(row[energy_at].startswith(SHORT_MARK) for row in table[1:]):
        rows.append(
            f"{SHORT_MARK}: too short for its sensor (under four of its updates): one significant figure"
        )
    if energy_note and all(r.energy_joules is None for r in records):
        rows.append(f"energy_J is - : {energy_note}")
    return "\n".join(rows)
