"""Progress on stderr (a bar on a TTY, plain lines otherwise, nothing with --quiet) and the
summary table at the end."""

from __future__ import annotations

import statistics
import sys
import time
from typing import TextIO

from runner.record import PromptRecord


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


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.3f}" if values else "-"


def summary(records: list[PromptRecord], energy_note: str | None = None) -> str:
    """Per-prompt medians over repetitions: TTFT, tok/s, tokens, failures; and, where energy is
    ``-`` for every prompt, the reason (no exporter URL, no energy counter, no input rail)."""
    rows = ["prompt_id  runs  failed  ttft_s  tok/s  in_tok  out_tok  energy_J"]
    by_id: dict[str, list[PromptRecord]] = {}
    for r in records:
        if not r.warmup:
            by_id.setdefault(r.prompt_id, []).append(r)
    for pid, recs in by_id.items():
        ok = [r for r in recs if r.status == "ok"]

        def med(attr: str, ok: list[PromptRecord] = ok) -> str:
            return _median([getattr(r, attr) for r in ok if getattr(r, attr) is not None])

        rows.append(
            f"{pid[:9]:<9}  {len(recs):>4}  {len(recs) - len(ok):>6}  {med('ttft_seconds'):>6}  "
            f"{med('decode_tokens_per_second'):>5}  {med('input_tokens'):>6}  {med('output_tokens'):>7}  "
            f"{med('energy_joules'):>8}"
        )
    if energy_note and all(r.energy_joules is None for r in records):
        rows.append(f"energy_J is - : {energy_note}")
    return "\n".join(rows)
