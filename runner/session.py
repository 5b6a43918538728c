"""One run: warm-up, then every prompt x repetition, each measured, written, pushed.

The loop never lets a side channel stop the measurement: a failed push warns, an unreadable
exporter leaves energy empty, a backend error is that prompt's error (the run stops after
``max_failures`` in a row). A stop request (SIGINT/SIGTERM) ends the prompt in flight at its
next token; it is recorded as ``interrupted`` and redone by ``--resume``.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

from runner.backends.base import Backend, BackendError, EngineStats, Piece, StopRequested
from runner.energy import EnergyError, board_rail, read_energy, window
from runner.progress import Progress
from runner.prompts import Prompt
from runner.push import Pusher
from runner.record import Clock, PromptRecord, Timing, measure
from runner.results import ResultsWriter


def _stopped(stream: Generator[str | Piece, None, EngineStats]) -> Iterator[str | Piece]:
    """Tell a backend to stop and take what it still held back (text engines hold a line to
    classify it); a backend with nothing held just ends, as with ``close()``."""
    try:
        piece = stream.throw(StopRequested())
        while True:
            yield piece
            piece = next(stream)
    except (StopRequested, StopIteration, BackendError):
        return
    finally:
        stream.close()


@dataclass
class Plan:
    prompts: list[Prompt]
    repeat: int
    warmup: int
    max_failures: int
    done: set[tuple[str, int]] = field(default_factory=set)  # (prompt_id, repetition) already ok

    def items(self) -> list[tuple[Prompt, int, bool]]:
        warm = [(self.prompts[i % len(self.prompts)], i + 1, True) for i in range(self.warmup)]
        measured = [
            (p, rep, False)
            for rep in range(1, self.repeat + 1)
            for p in self.prompts
            if (p.id, rep) not in self.done
        ]
        return warm + measured


@dataclass
class Outcome:
    records: list[PromptRecord]
    interrupted: bool
    stopped_on_failures: bool


class Session:
    def __init__(
        self,
        backend: Backend,
        run_id: str,
        writer: ResultsWriter,
        pusher: Pusher,
        progress: Progress,
        exporter_url: str | None,
        stop: threading.Event,
    ) -> None:
        self.backend = backend
        self.run_id = run_id
        self.writer = writer
        self.pusher = pusher
        self.progress = progress
        self.exporter_url = exporter_url
        self.stop = stop
        self.clock = Clock()
        self._energy_warned = False

    def _energy(self) -> dict[str, float] | None:
        if not self.exporter_url:
            return None
        try:
            return read_energy(self.exporter_url)
        except EnergyError as exc:
            if not self._energy_warned:
                self.progress.say(f"warning: {exc}; energy per prompt left empty")
                self._energy_warned = True
            return None

    def one(self, prompt: Prompt, repetition: int, warmup: bool, max_tokens: int) -> PromptRecord:
        base: dict[str, Any] = {
            "run_id": self.run_id,
            "prompt_id": prompt.id,
            "repetition": repetition,
            "warmup": warmup,
            "backend": self.backend.name,
            "model": self.backend.label,
            "prompt": prompt.text,
            "system": prompt.system,
            "expected": prompt.expected,
        }
        status, error = "ok", None
        try:
            self.backend.prepare()
        except BackendError as exc:
            status, error = "error", str(exc)
        before = None if warmup or status != "ok" else self._energy()
        timing = Timing(started_at=self.clock.now())
        stats: EngineStats | None = None
        stream = self.backend.stream(prompt.text, prompt.system, prompt.max_tokens or max_tokens)
        try:
            while status == "ok":
                try:
                    piece = next(stream)
                except StopIteration as done:
                    stats = done.value
                    break
                self._take(timing, piece)
                if self.stop.is_set():
                    for held in _stopped(stream):
                        self._take(timing, held)
                    status, error = "interrupted", "stopped by signal"
                    break
        except BackendError as exc:
            status, error = "error", str(exc)
        timing.ended_at = self.clock.now()
        stream.close()
        rec = measure(
            timing, stats or EngineStats(chunked_output=self.backend.chunked_output), base, status, error
        )
        after = None if warmup or before is None else self._energy()
        if before is not None and after is not None:
            rec.energy_by_rail = window(before, after)
            rec.energy_rail = board_rail(rec.energy_by_rail)
            rec.energy_joules = rec.energy_by_rail.get(rec.energy_rail) if rec.energy_rail else None
        return rec

    def _take(self, timing: Timing, piece: str | Piece) -> None:
        if isinstance(piece, Piece):
            timing.piece(self.clock.at(piece.at), piece.text)
        elif piece:
            timing.piece(self.clock.now(), piece)

    def run(self, plan: Plan, max_tokens: int) -> Outcome:
        records: list[PromptRecord] = []
        failures_in_a_row = 0
        for prompt, repetition, warmup in plan.items():
            if self.stop.is_set():
                return Outcome(records, True, False)
            rec = self.one(prompt, repetition, warmup, max_tokens)
            self.writer.append(rec.to_json())
            records.append(rec)
            if not warmup:
                self.pusher.record(rec)
            self.progress.update(rec)
            if rec.status == "interrupted":
                return Outcome(records, True, False)
            failures_in_a_row = failures_in_a_row + 1 if rec.status == "error" else 0
            if failures_in_a_row >= plan.max_failures:
                self.progress.say(f"stopping: {failures_in_a_row} prompts failed in a row (--max-failures)")
                return Outcome(records, False, True)
        return Outcome(records, self.stop.is_set(), False)
