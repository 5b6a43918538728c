"""One run: warm-up, then every prompt x repetition, each measured, written, pushed.

The loop never lets a side channel stop the measurement: a failed push warns, an unreadable
exporter leaves energy empty, a backend error is that prompt's error (the run stops after
``max_failures`` in a row). A stop request (SIGINT/SIGTERM) ends the prompt in flight at its
next token; it is recorded as ``interrupted`` and redone by ``--resume``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from edgemeter.exporter.boards import rails as board_rails
from edgemeter.runner import phases
from edgemeter.runner.analysis import stats
from edgemeter.runner.backends.base import Backend, BackendError, EngineMisuse, EngineStats, Piece
from edgemeter.runner.cooldown import Cooldown
from edgemeter.runner.energy_bound import prompt_bound
from edgemeter.runner.exporter_client import ExporterClient, ExporterError, ExporterPage, window
from edgemeter.runner.progress import Progress
from edgemeter.runner.prompts import Prompt
from edgemeter.runner.pump import CRASHED, DONE, ERROR, PIECE, STOPPED, Inline, Pump
from edgemeter.runner.push import Pusher
from edgemeter.runner.record import Clock, PromptRecord, Timing, measure
from edgemeter.runner.results import ResultsWriter
from edgemeter.runner.score import score
from edgemeter.runner.span_energy import history
from edgemeter.runner.throttle_watch import ThrottleWatch, any_flag
from edgemeter.runner.window_energy import RailSamples

WAIT = 0.05  # how often the loop looks at the stop flag and the deadline while no piece comes
GRACE = 0.5  # after a stop or the deadline: this long for the next piece, then the reply is cut
SETTLE = 5.0  # how long a cut-off stream gets to end before the engine is used or released again
# text engines keep their own --timeout (they kill the engine and keep what it printed): the
# run's deadline is only their backstop
OWN_TIMEOUT_GRACE = 5.0
# a prompt's split comes from the exporter's samples when it keeps them this many times the
# longest prompt yet, plus this many seconds (the edge reads and the wait for the last samples)
HISTORY_MARGIN = 2.0
SPLIT_SLACK = 10.0


class TimedRead(NamedTuple):
    """An exporter read, the wall-clock instant it stands for (the request's midpoint), and the
    request's start and end."""

    page: ExporterPage
    at: float
    began: float
    ended: float


@dataclass
class Plan:
    prompts: list[Prompt]
    repeat: int
    warmup: int
    max_failures: int
    done: set[tuple[str, int]] = field(default_factory=set)  # (prompt_id, repetition) already ok
    # --repeat-until PCT: more repetitions of a prompt until the 95 % interval of its decode tok/s
    # is within ±PCT % of the median, up to max_repeat runs in all
    until_pct: float | None = None
    max_repeat: int = 20

    def converged(self, rates: list[float]) -> bool:
        """Whether a prompt's decode rates are tight enough to stop repeating it."""
        interval = stats.interval(rates)
        if interval is None:
            return False
        mid = stats.median(rates) or 0.0
        limit = mid * (self.until_pct or 0.0) / 100
        return mid - interval[0] <= limit and interval[1] - mid <= limit

    def measured(self) -> list[tuple[Prompt, int, bool]]:
        """Every (prompt, repetition) not yet measured ok: missing, failed or interrupted."""
        return [
            (p, rep, False)
            for rep in range(1, self.repeat + 1)
            for p in self.prompts
            if (p.id, rep) not in self.done
        ]

    def items(self) -> list[tuple[Prompt, int, bool]]:
        """The warm-up first (also in a resumed part: its engine was loaded anew), then the rest."""
        warm = [(self.prompts[i % len(self.prompts)], i + 1, True) for i in range(self.warmup)]
        return warm + self.measured()


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
        exporter: ExporterClient | None,
        stop: threading.Event,
        timeout: float = 600.0,
        rail: str | None = None,
        score_mode: str = "contains",
    ) -> None:
        self.backend = backend
        self.run_id = run_id
        self.writer = writer
        self.pusher = pusher
        self.progress = progress
        self.exporter = exporter
        self.stop = stop
        self.timeout = timeout
        self.rail = rail
        self.score_mode = score_mode
        self.idle_watts: float | None = None  # measured by --idle before the first prompt
        self.cooldown: Cooldown | None = None  # --cooldown-to
        self.clock = Clock()
        self._first: TimedRead | None = None  # the first-token read
        # why energy_joules is empty, for the summary (the latest reason; None while it is measured)
        self.energy_note: str | None = None if exporter else "no --exporter-url"
        self._warned: set[str] = set()
        self._unreadable = False
        self._pump: Pump | Inline | None = None
        self.fatal: str | None = None  # an engine every prompt would fail on alike: the run stops
        self._longest = 0.0  # seconds: the longest prompt of the run yet (from its first edge read)

    def _why_no_energy(self, kind: str, why: str) -> None:
        """Note why energy is empty; warn once per kind of reason (an exporter that keeps
        failing, or fails in changing ways, is one warning, not one per prompt)."""
        self.energy_note = why
        self._warn_once(kind, f"{why}; energy left empty")

    def read_exporter(self) -> ExporterPage | None:
        if self.exporter is None:
            return None
        try:
            page = self.exporter.read()
        except ExporterError as exc:
            self._unreadable = True
            self._why_no_energy("unreadable", str(exc))
            return None
        if self._unreadable:
            self._unreadable = False
            self.progress.say(f"exporter {self.exporter.url} answers again: energy measured again")
        return page

    def read_timed(self) -> TimedRead | None:
        t0 = self.clock.now()
        page = self.read_exporter()
        t1 = self.clock.now()
        return None if page is None else TimedRead(page, (t0 + t1) / 2, t0, t1)

    def measure_idle(self, seconds: float) -> float | None:
        """The board's mean power on the energy rail over ``seconds`` with nothing running."""
        self.progress.say(f"measuring idle power for {seconds:g} s (model loaded, nothing running)")
        start = self.read_timed()
        if start is None or self.stop.wait(seconds):
            return None
        end = self.read_timed()
        if end is None:
            return None
        rail = self.rail or board_rails.pick(end[0].input_rail_candidates, end[0].energy)
        watts = phases.idle_watts(start[0].energy, end[0].energy, rail, end[1] - start[1]) if rail else None
        if watts is None:
            self._why_no_energy("no idle", "idle power not measured (no energy counter on the energy rail)")
        else:
            self.progress.say(f"idle power: {watts:.3f} W on {rail}")
        return watts

    def _energy(self, rec: PromptRecord, timed: TimedRead | None, after: TimedRead | None) -> None:
        if timed is None or after is None:
            return
        self._longest = max(self._longest, after.ended - timed.began)
        before = timed.page
        rec.energy_by_rail = window(before.energy, after[0].energy)
        if not rec.energy_by_rail:
            url = self.exporter.url if self.exporter else ""
            self._why_no_energy("no counter", f"the exporter at {url} has no energy counter on this board")
            return
        rail = self.rail or board_rails.pick(after[0].input_rail_candidates, rec.energy_by_rail)
        if rail is None:
            self._why_no_energy(
                "no input rail",
                f"no input rail on this board (rails: {', '.join(sorted(rec.energy_by_rail))}; "
                "choose one with --rail)",
            )
            return
        rec.energy_rail = rail
        rec.energy_joules = board_rails.total(rail, rec.energy_by_rail)
        rec.energy_above_idle_joules = phases.above_idle(
            rec.energy_joules, self.idle_watts, rec.request_duration_seconds
        )
        samples = self._samples(rec)
        parts: tuple[float, float] | None = None
        by_samples = False  # whether the split was the samples' to give
        if rec.first_token_at is not None and rec.energy_joules is not None:
            if self._first is not None:
                parts = phases.split(
                    before.energy,
                    self._first[0].energy,
                    after[0].energy,
                    rail,
                    rec.first_token_at,
                    self._first[1],
                    after[1],
                )
            elif samples is not None:
                by_samples = True
                times = (rec.started_at, rec.first_token_at, rec.ended_at or rec.first_token_at)
                parts = phases.split_sampled(samples, rail, rec.energy_joules, *times)
        if parts is not None:
            rec.prefill_energy_joules, rec.decode_energy_joules = parts
            if rec.output_tokens and rec.output_tokens > 1:
                rec.decode_joules_per_token = parts[1] / (rec.output_tokens - 1)
        elif by_samples:
            self._warn_once(
                "no split",
                f"the exporter's samples of {rail} do not cover the prompt; "
                "prefill_energy_joules and decode_energy_joules left empty",
            )
        if samples is not None:
            self._uncertainty(rec, rail, (timed.began, after.ended), samples)

    def _samples(self, rec: PromptRecord) -> dict[str, RailSamples] | None:
        """The exporter's samples over the prompt (its bound, and its split where the rail is
        sampled); None, with one warning, where the exporter keeps none."""
        if self.exporter is None or rec.ended_at is None:
            return None
        try:  # waits (at most a few tenths of a second) for the readings standing for the end
            return history(self.exporter, [(rec.started_at, rec.ended_at)], sleep=self.stop.wait)
        except ExporterError as exc:
            self._why_no_energy_bound(str(exc))
            return None

    def _sampled(self, page: ExporterPage) -> bool:
        """Whether the energy rail's every part was in the exporter's latest ``/samples``, kept
        for over twice the longest prompt yet: the prompt's split then comes from its samples,
        with no read at the first token. (A prompt longer than the history would lose its split
        with its bound: the margin keeps a run of like prompts far from that.)"""
        rail = self.rail or page.input_rail()
        if rail is None or self.exporter is None:
            return False
        kept = self.exporter.history_seconds > HISTORY_MARGIN * self._longest + SPLIT_SLACK
        return kept and all(p in self.exporter.sampled for p in board_rails.parts(rail))

    def _uncertainty(
        self, rec: PromptRecord, rail: str, reads: tuple[float, float], samples: dict[str, RailSamples]
    ) -> None:
        """The bound on the prompt's energy, from the exporter's samples over it."""
        if rec.ended_at is None:
            return
        got = prompt_bound(samples, rail, rec.energy_by_rail, (rec.started_at, rec.ended_at), reads)
        if got is None:
            self._why_no_energy_bound(
                f"the exporter's samples of {rail} do not cover the prompt (a history that does not "
                "reach back to its start, or a sensor that fell silent)"
            )
            return
        rec.energy_uncertainty_joules, rec.energy_too_short = got

    def _why_no_energy_bound(self, why: str) -> None:
        self._warn_once("no bound", f"{why}; energy_uncertainty_joules left empty")

    def _warn_once(self, kind: str, what: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            self.progress.say(f"warning: {what}")

    def _read_first(self) -> threading.Thread:
        """The first-token read, on a thread of its own: the stream never waits for it."""

        def read() -> None:
            self._first = self.read_timed()

        thread = threading.Thread(target=read, name="first-token-read", daemon=True)
        thread.start()
        return thread

    def _settle(self) -> str | None:
        """Wait for a cut-off reply's stream to end before the engine is used again; the error
        for the next prompt when it does not."""
        if self._pump is None or self._pump.finished(SETTLE):
            self._pump = None
            return None
        return f"the engine is still busy with the reply cut off before ({SETTLE:g} s later)"

    def release(self) -> bool:
        """Whether the engine is free to be closed (no cut-off reply still running in it)."""
        return self._settle() is None

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
        status, error = "ok", self._settle()
        if error is None:
            try:
                self.backend.prepare(prompt.text, prompt.system)
            except BackendError as exc:
                error = str(exc)
        if error is not None:
            status = "error"
        cooled: tuple[float, float | None] | None = None
        if self.cooldown is not None and not warmup and status == "ok":
            cooled = self.cooldown.wait()
        timed = None if warmup or status != "ok" else self.read_timed()
        before = timed.page if timed is not None else None
        self._first = None
        timing = Timing(started_at=self.clock.now())
        stats: EngineStats | None = None
        first_read: threading.Thread | None = None
        watch = ThrottleWatch(self.exporter) if before is not None else None
        if status == "ok":
            read_first = before is not None and not self._sampled(before)
            status, error, stats, first_read = self._generate(timing, prompt, max_tokens, read_first)
        else:
            timing.ended_at = timing.started_at
        rec = measure(
            timing, stats or EngineStats(chunked_output=self.backend.chunked_output), base, status, error
        )
        rec.score = score(prompt.expected, rec.response, self.score_mode) if status == "ok" else None
        if cooled is not None:
            rec.cooldown_seconds, rec.start_temperature_celsius = cooled
        after = None if before is None else self.read_timed()
        if watch is not None and before is not None:
            rec.throttled = any_flag(before.throttled, watch.stop(), after[0].throttled if after else None)
        if first_read is not None:
            first_read.join(timeout=self.exporter.timeout + 1 if self.exporter else 1)
        self._energy(rec, timed, after)
        return rec

    def _generate(
        self, timing: Timing, prompt: Prompt, max_tokens: int, read_first: bool = False
    ) -> tuple[str, str | None, EngineStats | None, threading.Thread | None]:
        """Stream one reply, bounded by the stop flag and --timeout: (status, error, stats, and
        the first-token read's thread when ``read_first``)."""
        stream = self.backend.stream(prompt.text, prompt.system, prompt.max_tokens or max_tokens)
        pump = self._pump = Pump(stream) if self.backend.blocks_on_reads else Inline(stream)
        own = OWN_TIMEOUT_GRACE if self.backend.chunked_output else 0.0
        deadline = time.monotonic() + self.timeout + own
        cut_at: float | None = None
        why: str | None = None  # "interrupted" or "timeout" once the reply is being cut
        stats: EngineStats | None = None
        failure: BackendError | None = None
        first_read: threading.Thread | None = None
        while True:
            now = time.monotonic()
            if cut_at is None and (self.stop.is_set() or now >= deadline):
                why = "interrupted" if self.stop.is_set() else "timeout"
                pump.stop()
                cut_at = now
            elif cut_at is not None and now - cut_at > GRACE:
                self.backend.abort()  # it sent nothing since: end it from outside
                break
            event = pump.next(WAIT)
            if event is None:
                continue
            kind, value = event
            if kind == PIECE:
                self._take(timing, value)
                if read_first and first_read is None and timing.piece_times:
                    first_read = self._read_first()
            elif kind == DONE:
                stats = value
                break
            elif kind == ERROR:
                failure = value
                break
            elif kind == STOPPED:
                break
            elif kind == CRASHED:
                raise value
        timing.ended_at = self.clock.now()
        if stats is not None:
            return "ok", None, stats, first_read
        if why == "interrupted":
            return "interrupted", "stopped by signal", None, first_read
        if isinstance(failure, EngineMisuse):
            self.fatal = str(failure)
        if failure is not None and (why is None or own):
            return "error", str(failure), None, first_read
        return "error", f"no end of reply within {self.timeout:g} s (--timeout)", None, first_read

    def _take(self, timing: Timing, piece: str | Piece) -> None:
        if isinstance(piece, Piece):
            if piece.text:
                timing.piece(self.clock.at(piece.at), piece.text)
        elif piece:
            timing.piece(self.clock.now(), piece)

    def run(self, plan: Plan, max_tokens: int) -> Outcome:
        records: list[PromptRecord] = []
        self._failures_in_a_row = 0
        for prompt, repetition, warmup in plan.items():
            stopped = self._item(plan, records, prompt, repetition, warmup, max_tokens)
            if stopped is not None:
                return stopped
        if plan.until_pct is not None:
            return self._until(plan, records, max_tokens)
        return Outcome(records, self.stop.is_set(), False)

    def _until(self, plan: Plan, records: list[PromptRecord], max_tokens: int) -> Outcome:
        """--repeat-until: rounds of one more repetition of each prompt not yet converged."""
        for repetition in range(plan.repeat + 1, plan.max_repeat + 1):
            pending = [
                p
                for p in plan.prompts
                if not plan.converged(
                    [
                        r.decode_tokens_per_second
                        for r in records
                        if r.prompt_id == p.id and not r.warmup and r.decode_tokens_per_second
                    ]
                )
            ]
            if not pending:
                break
            self.progress.total += len(pending)
            for prompt in pending:
                stopped = self._item(plan, records, prompt, repetition, False, max_tokens)
                if stopped is not None:
                    return stopped
        return Outcome(records, self.stop.is_set(), False)

    def _item(
        self,
        plan: Plan,
        records: list[PromptRecord],
        prompt: Prompt,
        repetition: int,
        warmup: bool,
        max_tokens: int,
    ) -> Outcome | None:
        """One prompt run, saved, pushed and shown; the run's outcome when it must stop here."""
        if self.stop.is_set():
            return Outcome(records, True, False)
        rec = self.one(prompt, repetition, warmup, max_tokens)
        data = rec.to_json()
        self.writer.append(data)
        records.append(rec)
        if not warmup:
            self.pusher.record(data)
        self.progress.update(rec)
        if rec.status == "interrupted":
            return Outcome(records, True, False)
        if self.fatal:
            return Outcome(records, False, True)
        self._failures_in_a_row = self._failures_in_a_row + 1 if rec.status == "error" else 0
        if self._failures_in_a_row >= plan.max_failures:
            self.progress.say(f"stopping: {self._failures_in_a_row} prompts failed in a row (--max-failures)")
            return Outcome(records, False, True)
        return None
