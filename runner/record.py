"""One prompt's measurements: the runner's own clock readings combined with the engine's figures.

Definitions (also in docs/metrics.md, because tools disagree on them):

- ``started_at``: wall clock just before the request is handed to the engine.
- ``ttft_seconds``: from ``started_at`` to the first non-empty piece of text, measured by the
  runner (Ollama has no such field): request overhead + prompt processing + the first token.
- ``request_duration_seconds``: ``started_at`` to the end of the stream.
- ``prefill_seconds`` / ``decode_seconds``: the engine's prompt-eval and eval times where it
  reports them (Ollama ``*_duration``, llama.cpp perf counters, llama-server ``timings``); else
  the runner's: TTFT, and first piece to end of stream.
- ``decode_tokens_per_second``: tokens decoded / decode seconds from the engine (Ollama
  eval_count / eval_duration; llama.cpp n_eval / t_eval, one fewer than generated because the
  last sampled token is never decoded); the runner's own
  figure is (pieces - 1) / (last piece - first piece), i.e. tokens after the first over the time
  after the first.
- ``mean_itl_seconds``: mean gap between consecutive pieces, the first excluded.
- Chunked output (``command`` and ``serial`` engines print text, not tokens): TTFT is the first
  non-blank output after any echo of the prompt; decode ends at the last output byte, not at the
  engine's exit; tokens are the engine's printed count (or follow from its decoded runs), else
  whitespace words
  (``token_count_source`` says which); the runner's rate and ITL use that count in place of pieces;
  an engine's printed rate (llama2.c ``achieved tok/s``) is taken as the engine's figure.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from edgemeter.runner.backends.base import EngineStats


class Clock:
    """Wall-clock timestamps that never jump: one time.time() anchor plus monotonic offsets."""

    def __init__(self) -> None:
        self.wall0 = time.time()
        self.mono0 = time.monotonic()

    def now(self) -> float:
        return self.at(time.monotonic())

    def at(self, monotonic: float) -> float:
        """The wall-clock time of an earlier ``time.monotonic()`` reading."""
        return self.wall0 + (monotonic - self.mono0)


@dataclass
class Timing:
    """Clock readings the runner takes around one streamed generation."""

    started_at: float
    piece_times: list[float] = field(default_factory=list)
    ended_at: float | None = None
    text: list[str] = field(default_factory=list)

    def piece(self, at: float, text: str) -> None:
        self.piece_times.append(at)
        self.text.append(text)


@dataclass
class PromptRecord:
    run_id: str
    prompt_id: str
    repetition: int
    warmup: bool
    backend: str
    model: str
    prompt: str
    response: str
    status: str  # ok, error, interrupted
    error: str | None
    started_at: float
    first_token_at: float | None
    ended_at: float | None
    ttft_seconds: float | None
    request_duration_seconds: float | None
    prefill_seconds: float | None
    decode_seconds: float | None
    decode_tokens_per_second: float | None
    mean_itl_seconds: float | None
    load_seconds: float | None
    input_tokens: int | None
    output_tokens: int | None
    cached_prompt: bool = False
    # engine, engine_decoded (from llama.cpp's decoded runs), stream (one piece per token), words (estimate)
    token_count_source: str | None = None
    end_reason: str | None = None  # chunked replies: exit, marker, stats or idle
    sources: dict[str, str] = field(default_factory=dict)  # figure -> "engine" or "runner"
    # the engine's own figures as it reported them (llama-server's timings, Ollama's counts and
    # durations), so any figure above can be checked against the engine's
    engine_figures: dict[str, float] = field(default_factory=dict)
    energy_joules: float | None = None
    energy_rail: str | None = None
    energy_by_rail: dict[str, float] = field(default_factory=dict)
    system: str | None = None
    expected: str | None = None
    # the energy split at the first token (runner/phases.py), on energy_rail; they sum to energy_joules
    prefill_energy_joules: float | None = None
    decode_energy_joules: float | None = None
    decode_joules_per_token: float | None = None  # decode energy over the tokens after the first
    energy_above_idle_joules: float | None = None  # energy less idle_power_watts x the duration
    # the most energy_joules can be off (runner/window_energy.py), and whether the prompt was too
    # short for the sensor (fewer than four of its updates): its energy is then mostly edge
    energy_uncertainty_joules: float | None = None
    energy_too_short: bool | None = None
    score: int | None = None  # 1/0 against expected (runner/score.py); None without expected
    throttled: bool | None = None  # the firmware throttled during it (runner/throttle_watch.py)
    cooldown_seconds: float | None = None  # --cooldown-to: how long the board was left to cool first
    start_temperature_celsius: float | None = None  # the hottest sensor when it started (--cooldown-to)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _pick(engine: float | int | None, own: float | int | None, name: str, sources: dict[str, str]) -> Any:
    if engine is not None:
        sources[name] = "engine"
        return engine
    if own is not None:
        sources[name] = "runner"
    return own


def _output_tokens(
    stats: EngineStats, own_count: int, status: str, sources: dict[str, str]
) -> tuple[int | None, str | None]:
    """Output tokens and how they were counted: the engine's count (or its decoded runs), else one
    streamed piece per token, else (chunked output) whitespace words, an estimate."""
    output = _pick(stats.output_tokens, own_count if status == "ok" else None, "output_tokens", sources)
    if output is None:
        return None, None
    if stats.output_tokens is not None:
        return output, stats.output_tokens_source or "engine"
    return output, "words" if stats.chunked_output else "stream"


def _decode_rate(
    stats: EngineStats, times: list[float], own_count: int, sources: dict[str, str]
) -> tuple[float | None, float | None]:
    """(decode tokens/s, mean inter-token latency): tokens after the first over the time after the
    first token, the engine's where it gives one (docs/metrics.md has the one definition)."""
    span = times[-1] - times[0] if times else 0.0
    after_first = len(times) - 1
    if stats.chunked_output:
        after_first = (own_count if stats.output_tokens is None else stats.output_tokens) - 1
    itl = span / after_first if after_first > 0 else None
    decoded = stats.decode_tokens if stats.decode_tokens is not None else stats.output_tokens
    if stats.decode_seconds and decoded:
        sources["decode_tokens_per_second"] = "engine"
        return decoded / stats.decode_seconds, itl
    if stats.tokens_per_second:
        sources["decode_tokens_per_second"] = "engine"
        return stats.tokens_per_second, itl
    if after_first > 0 and span > 0:
        sources["decode_tokens_per_second"] = "runner"
        return after_first / span, itl
    return None, itl


def measure(
    timing: Timing,
    stats: EngineStats | None,
    base: dict[str, Any],
    status: str = "ok",
    error: str | None = None,
) -> PromptRecord:
    """Combine clock readings and engine figures into one record (``base``: ids, prompt, ...)."""
    stats = stats or EngineStats()
    times = timing.piece_times
    first = times[0] if times else None
    end = timing.ended_at
    response = "".join(timing.text)
    sources: dict[str, str] = {}
    ttft = first - timing.started_at if first is not None else None
    # a chunked reply's engine may linger after its last byte (freeing the model, a stats grace)
    decode_end = times[-1] if stats.chunked_output and times else end
    own_decode = decode_end - first if first is not None and decode_end is not None else None
    prefill = _pick(stats.prefill_seconds, ttft, "prefill_seconds", sources)
    decode = _pick(stats.decode_seconds, own_decode, "decode_seconds", sources)
    # one streamed piece is one token, except for chunked output: there, words estimate tokens
    own_count = len(response.split()) if stats.chunked_output else len(times)
    output, count_source = _output_tokens(stats, own_count, status, sources)
    rate, itl = _decode_rate(stats, times, own_count, sources)
    return PromptRecord(
        **base,
        response=response,
        status=status,
        error=error,
        started_at=timing.started_at,
        first_token_at=first,
        ended_at=end,
        ttft_seconds=ttft,
        request_duration_seconds=end - timing.started_at if end is not None else None,
        prefill_seconds=prefill,
        decode_seconds=decode,
        decode_tokens_per_second=rate,
        mean_itl_seconds=itl,
        load_seconds=stats.load_seconds,
        input_tokens=stats.input_tokens,
        output_tokens=output,
        cached_prompt=stats.cached_prompt,
        token_count_source=count_source,
        end_reason=stats.end_reason,
        sources=sources,
        engine_figures=dict(stats.extra),
    )
