"""What a run's repetitions say, per prompt and overall: median and 95 % interval of decode tok/s,
TTFT and J per output token, the failures, and the mean score. One computation for the end-of-run
summary (runner/progress.py) and ``runner export --summary``; throttled prompts are left out
unless asked for."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edgemeter.runner.analysis import stats

# (record field or derived figure, summary header, decimals)
FIGURES: tuple[tuple[str, str, int], ...] = (
    ("ttft_seconds", "ttft_s", 3),
    ("decode_tokens_per_second", "tok/s", 1),
    ("joules_per_output_token", "J/tok", 4),
)
ALL = "all"  # the overall row's prompt_id


def value_of(rec: Mapping[str, Any], name: str) -> float | None:
    if name == "joules_per_output_token":
        energy, tokens = rec.get("energy_joules"), rec.get("output_tokens")
        return energy / tokens if isinstance(energy, int | float) and tokens else None
    value = rec.get(name)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Figure:
    median: float | None
    interval: tuple[float, float] | None
    n: int


@dataclass(frozen=True)
class Group:
    prompt_id: str
    runs: int
    failed: int
    figures: dict[str, Figure]
    score: float | None  # the mean over scored runs; None when none has an expected answer


def group(prompt_id: str, recs: Sequence[Mapping[str, Any]]) -> Group:
    ok = [r for r in recs if r.get("status") == "ok"]
    figures = {}
    for name, _, _ in FIGURES:
        values = [v for r in ok if (v := value_of(r, name)) is not None]
        figures[name] = Figure(stats.median(values), stats.interval(values), len(values))
    scores = [r["score"] for r in ok if isinstance(r.get("score"), int) and not isinstance(r["score"], bool)]
    return Group(
        prompt_id, len(recs), len(recs) - len(ok), figures, sum(scores) / len(scores) if scores else None
    )


def summarize(
    records: Sequence[Mapping[str, Any]], include_throttled: bool = False
) -> tuple[list[Group], Group | None, int]:
    """(a group per prompt in order, the overall group, the throttled records left out)."""
    measured = [r for r in records if not r.get("warmup")]
    kept = [r for r in measured if include_throttled or not r.get("throttled")]
    by_id: dict[str, list[Mapping[str, Any]]] = {}
    for r in kept:
        by_id.setdefault(str(r.get("prompt_id")), []).append(r)
    groups = [group(pid, recs) for pid, recs in by_id.items()]
    overall = group(ALL, kept) if len(by_id) > 1 else None
    return groups, overall, len(measured) - len(kept)


CSV_COLUMNS = [
    "prompt_id",
    "runs",
    "failed",
    *(f"{name}_{part}" for name, _, _ in FIGURES for part in ("median", "ci95_low", "ci95_high", "n")),
    "score_mean",
]


def csv_row(g: Group) -> dict[str, Any]:
    row: dict[str, Any] = {
        "prompt_id": g.prompt_id,
        "runs": g.runs,
        "failed": g.failed,
        "score_mean": g.score,
    }
    for name, f in g.figures.items():
        row[f"{name}_median"] = f.median
        row[f"{name}_ci95_low"] = f.interval[0] if f.interval else None
        row[f"{name}_ci95_high"] = f.interval[1] if f.interval else None
        row[f"{name}_n"] = f.n
    return row
