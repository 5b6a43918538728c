"""``runner export --raw``: a wide CSV of the board's series over a run (or --start/--end) at
--step: one row per step, a ``timestamp`` column then one column per series.

The series are listed first (``/api/v1/series``) so the columns are fixed before any row is
written; then the range is walked in chunks of at most 11,000 steps (Prometheus' points-per-series
limit for one query_range), each chunk's rows written and dropped, so memory stays flat however
long the range is.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from edgemeter.runner.analysis.promql import Prometheus

MAX_POINTS = 11_000
MAX_ROWS = 1_000_000  # a grid larger than this is a typo in --start/--end/--step, not an export
DEFAULT_METRICS = (
    "edge_power_watts",
    "edge_energy_joules_total",
    "edge_temperature_celsius",
    "edge_cpu_frequency_hertz",
    "edge_fan_duty_ratio",
    "edge_memory_available_bytes",
    "edge_throttled",
)
DROP = {"__name__", "job"}


def column(labels: dict[str, str]) -> str:
    """A stable column name: metric{label="value",...} with labels sorted."""
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k not in DROP)
    return f"{labels['__name__']}{{{inner}}}"


def chunks(start: float, end: float, step: float) -> Iterator[tuple[float, float]]:
    span = step * (MAX_POINTS - 1)
    t = start
    while t <= end:
        yield t, min(t + span, end)
        t += span + step


def iso(ts: float | None) -> str:
    """ISO 8601 UTC with milliseconds; empty for an unknown time (an empty CSV cell)."""
    if ts is None:
        return ""
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def timestamp(text: str) -> float:
    """Unix seconds or ISO 8601 (``2026-11-22T21:54:06Z``, an offset, or none for UTC): what users
    paste from the results file, the CSV's own ``timestamp`` column or a Grafana time range."""
    try:
        return float(text)
    except ValueError:
        pass
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).timestamp()


def selectors(metrics: list[str], instance: str) -> list[str]:
    return [f'{m}{{instance=~"{instance}"}}' for m in metrics]


def write_raw(
    prom: Prometheus,
    series: list[dict[str, str]],
    metrics: list[str],
    instance: str,
    start: float,
    end: float,
    step: float,
    out: TextIO,
) -> int:
    """Stream the wide CSV of ``series`` (from /api/v1/series); returns the number of rows."""
    columns = sorted({column(s) for s in series})
    index = {c: i for i, c in enumerate(columns)}
    writer = csv.writer(out)
    writer.writerow(["timestamp", "unix_seconds", *columns])
    rows = 0
    for a, b in chunks(start, end, step):
        steps = round((b - a) / step) + 1
        table: list[list[Any]] = [[""] * len(columns) for _ in range(steps)]
        for selector in selectors(metrics, instance):
            for labels, points in prom.range(selector, a, b, step):
                col = index.get(column(labels))
                if col is None:
                    continue
                for t, v in points:
                    k = round((t - a) / step)
                    if 0 <= k < steps and math.isfinite(v):
                        table[k][col] = v
        for k, values in enumerate(table):
            t = a + k * step
            writer.writerow([iso(t), f"{t:.3f}", *values])
        rows += steps
    return rows


def write_samples(
    prom: Prometheus, metrics: list[str], instance: str, start: float, end: float, out: TextIO
) -> int:
    """Every stored sample at its own scrape timestamp, long format (timestamp, series, value),
    read in windows of 11,000 s: at most 11,000 points per series per request at 1 s scrapes."""
    writer = csv.writer(out)
    writer.writerow(["timestamp", "unix_seconds", "series", "value"])
    rows = 0
    t = start
    while t < end:
        b = min(t + MAX_POINTS, end)
        chunk: list[tuple[float, str, float]] = []
        for m in metrics:
            for labels, points in prom.samples(f'{m}{{instance=~"{instance}"}}', t, b):
                name = column(labels)
                chunk += [(ts, name, v) for ts, v in points if t < ts <= b]
        chunk.sort()
        writer.writerows([iso(ts), f"{ts:.3f}", name, v] for ts, name, v in chunk)
        rows += len(chunk)
        t = b
    return rows


def raw_export(
    prom: Prometheus,
    series: list[dict[str, str]],
    instance: str,
    start: float,
    end: float,
    step: float | None,
    out: Path,
) -> int:
    """``step`` None: every sample at its scrape timestamp; else the wide grid at ``step``. Only
    the metrics that have ``series`` are read."""
    metrics = sorted({s["__name__"] for s in series})
    with out.open("w", newline="", encoding="utf-8") as f:
        if step is None:
            return write_samples(prom, metrics, instance, start, end, f)
        return write_raw(prom, series, metrics, instance, start, end, step, f)
