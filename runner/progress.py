"""Progress on stderr (a bar on a TTY, plain lines otherwise, nothing with --quiet) and the
summary table at the end."""

from __future__ import annotations

import statistics
import sys
import time
from typing import TextIO

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
    ("in_tok", "input_tokens", 0),
    ("out_tok", "output_tokens", 0),
    ("energy_J", "energy_joules", 3),
)


def _median(values: list[float], decimals: int) -> str:
    if not values:
        return "-"
    m = statistics.median(values)
    return f"{m:.0f}" if decimals == 0 and float(m).is_integer() else f"{m:.{max(decimals, 1)}f}"


def summary(
    records: list[PromptRecord], energy_note: str | None = None, include_throttled: bool = False
) -> str:
    """Per-prompt medians over repetitions: TTFT, tok/s, tokens, energy, failures, in columns as
    wide as their widest cell; and, where energy is ``-`` for every prompt, the reason (no
    exporter URL, no energy counter, no input rail). Prompts the board throttled during are left
    out (and counted) unless ``include_throttled``."""
    by_id: dict[str, list[PromptRecord]] = {}
    throttled = [r for r in records if not r.warmup and r.throttled]
    for r in records:
        if not r.warmup and (include_throttled or not r.throttled):
            by_id.setdefault(r.prompt_id, []).append(r)
    table = [["prompt_id", "runs", "failed", *(h for h, _, _ in COLUMNS)]]
    for pid, recs in by_id.items():
        ok = [r for r in recs if r.status == "ok"]
        cells = [pid, str(len(recs)), str(len(recs) - len(ok))]
        for _, field, decimals in COLUMNS:
            cells.append(_median([getattr(r, field) for r in ok if getattr(r, field) is not None], decimals))
        table.append(cells)
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    rows = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in table
    ]
    n = len(by_id)
    rows.append(f"{n} prompt{'' if n == 1 else 's'}, {sum(len(v) for v in by_id.values())} measured")
    if throttled and not include_throttled:
        k = len(throttled)
        rows.append(f"{k} throttled prompt{'' if k == 1 else 's'} left out (--include-throttled keeps them)")
    if energy_note and all(r.energy_joules is None for r in records):
        rows.append(f"energy_J is - : {energy_note}")
    return "\n".join(rows)
