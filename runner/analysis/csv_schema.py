"""The per-prompt CSV (``runner export``), its columns defined once: the writer takes their order
from here, and docs/alignment.md's column table is this module's :func:`markdown` (a test checks
that the two agree). The contract's 20 columns come first, then the ones added since."""

from __future__ import annotations

COLUMNS: tuple[tuple[str, str], ...] = (
    ("run_id", "the run"),
    ("prompt_id", "the JSONL id or the prompt's line number"),
    ("repetition", "1 … `--repeat`"),
    ("backend", "the engine's backend"),
    ("model", "the model as records and labels name it"),
    ("start_time", "the prompt's start, ISO 8601 UTC with milliseconds"),
    ("end_time", "the end of its reply, same form"),
    ("duration_seconds", "end minus start"),
    ("ttft_seconds", "time to first token (docs/metrics.md)"),
    ("input_tokens", "prompt tokens, chat template included"),
    ("output_tokens", "tokens generated"),
    ("decode_tokens_per_second", "tokens after the first over the decode time"),
    ("energy_joules", "energy on `energy_rail` over the window"),
    ("avg_power_watts", "energy / duration"),
    ("joules_per_output_token", "energy / output tokens"),
    ("max_temperature_celsius", "the hottest sensor in the window"),
    ("avg_cpu_utilization_ratio", "busy CPU time over all CPU time in the window"),
    ("min_cpu_frequency_hertz", "the lowest CPU frequency in the window"),
    (
        "throttled",
        "1 when the firmware throttled during the prompt (the runner's watch, else the scrapes)",
    ),
    ("status", "ok, error or interrupted"),
    ("energy_rail", "the rail `energy_joules` is on: the board's input rail, `--rail`, or `A+B`"),
    ("score", "1/0: the reply against the JSONL prompt's `expected` (`--score`); empty without one"),
    ("prefill_energy_joules", "energy from the start to the first token, on `energy_rail`"),
    ("decode_energy_joules", "energy from the first token to the end; the two sum to `energy_joules`"),
    ("decode_joules_per_token", "decode energy over the tokens after the first"),
    (
        "energy_above_idle_joules",
        "`energy_joules` less the run's `idle_power_watts` (`--idle`) times the duration",
    ),
    ("energy_uncertainty_joules", "the most `energy_joules` can be off (docs/metrics.md: how it is bounded)"),
    ("energy_too_short", "1 when the prompt was too short for its sensor (under four of its updates)"),
)
# measured by the runner on the record's own rail: exported only when the row's rail is that one
RECORD_ENERGY = (
    "prefill_energy_joules",
    "decode_energy_joules",
    "decode_joules_per_token",
    "energy_above_idle_joules",
    "energy_uncertainty_joules",
    "energy_too_short",
)
NAMES = [name for name, _ in COLUMNS]


def markdown() -> str:
    rows = ["| column | meaning |", "|---|---|", *(f"| `{name}` | {meaning} |" for name, meaning in COLUMNS)]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
