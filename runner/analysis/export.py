"""``runner export``: one CSV row per prompt (and repetition), aligned with the board's series.

Prompt windows come from the run's results file, or from Prometheus
(``edge_llm_prompt_start/end_timestamp_seconds``) when the file is not at hand. Energy is the
runner's own reading at the prompt's edges where it made one (``--exporter-url``), else the
energy counter interpolated over the exact window. A figure the board cannot give is an empty
cell, never a made-up 0.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgemeter.exporter.boards import rails as board_rails
from edgemeter.runner.analysis import repetitions
from edgemeter.runner.analysis.alignment import MARGIN, Aligner
from edgemeter.runner.analysis.csv_schema import NAMES, RECORD_ENERGY
from edgemeter.runner.analysis.out_file import OutFileError, check_out
from edgemeter.runner.analysis.promql import Prometheus, PrometheusError
from edgemeter.runner.analysis.raw_export import (
    DEFAULT_METRICS,
    MAX_ROWS,
    iso,
    raw_export,
    selectors,
    timestamp,
)
from edgemeter.runner.results import RunIdError, check_run_id, jsonl_path, read_records

COLUMNS = NAMES  # runner/analysis/csv_schema.py
LOOKBACK = "30d"


class ExportError(Exception):
    """One line for the user, exit status 2."""


def _cell(value: Any) -> Any:
    return "" if value is None else value


def _from_results(results: Path, run_id: str) -> list[dict[str, Any]] | None:
    path = jsonl_path(results, run_id)
    if not path.is_file():
        return None
    return [r for r in read_records(path) if not r.get("warmup")]


def _from_prometheus(prom: Prometheus, run_id: str) -> list[dict[str, Any]]:
    now = dt.datetime.now(dt.UTC).timestamp()
    edges: dict[tuple[str, str], dict[str, Any]] = {}
    for edge in ("start", "end"):
        expr = f'last_over_time(edge_llm_prompt_{edge}_timestamp_seconds{{run_id="{run_id}"}}[{LOOKBACK}])'
        for labels, value in prom.instant(expr, now):
            rec = edges.setdefault(
                (labels["prompt_id"], labels.get("repetition", "1")),
                {
                    "run_id": run_id,
                    "prompt_id": labels["prompt_id"],
                    "repetition": int(labels.get("repetition", 1)),
                    "backend": labels.get("backend"),
                    "model": labels.get("model"),
                    "status": "ok",
                },
            )
            rec["started_at" if edge == "start" else "ended_at"] = value
    for name, field in (
        ("edge_llm_time_to_first_token_seconds", "ttft_seconds"),
        ("edge_llm_output_tokens_per_second", "decode_tokens_per_second"),
    ):
        for labels, value in prom.instant(f'last_over_time({name}{{run_id="{run_id}"}}[{LOOKBACK}])', now):
            key = (labels["prompt_id"], labels.get("repetition", "1"))
            if key in edges:
                edges[key][field] = value
    return sorted(edges.values(), key=lambda r: r.get("started_at", 0))


def known_runs(prom: Prometheus, results: Path) -> list[str]:
    runs = {p.name[: -len(".meta.json")] for p in results.glob("*.meta.json")} if results.is_dir() else set()
    with contextlib.suppress(PrometheusError):
        runs |= set(prom.label_values("run_id"))
    return sorted(runs)


def prompt_windows(prom: Prometheus, args: argparse.Namespace) -> list[dict[str, Any]]:
    records = _from_results(Path(args.results), args.run)
    if records is not None:
        return records
    found = _from_prometheus(prom, args.run)
    if found:
        print(
            f"runner: warning: no results file {jsonl_path(Path(args.results), args.run)}: prompt windows, "
            "TTFT and tok/s come from Prometheus (no token counts, no response text)",
            file=sys.stderr,
        )
    return found


def _raw(prom: Prometheus, args: argparse.Namespace, out: Path) -> int:
    if not args.step >= 0.001:  # Prometheus' resolution is the millisecond
        raise ExportError(f"--step {args.step:g}: must be at least 0.001 seconds")
    start, end = args.start, args.end
    if start is None or end is None:
        if not args.run:
            raise ExportError("--raw needs --run RUN_ID or both --start and --end")
        windows = [r for r in prompt_windows(prom, args) if r.get("started_at") and r.get("ended_at")]
        if not windows:
            known = ", ".join(known_runs(prom, Path(args.results))) or "none"
            raise ExportError(f"--run {args.run}: unknown run (known: {known})")
        start = start if start is not None else min(r["started_at"] for r in windows) - 5
        end = end if end is not None else max(r["ended_at"] for r in windows) + 5
    if end <= start:
        raise ExportError(f"empty range: --start {start:.3f} is not before --end {end:.3f}")
    if not args.samples and (end - start) / args.step + 1 > MAX_ROWS:
        rows = int((end - start) / args.step) + 1
        raise ExportError(
            f"--raw: {end - start:.0f} s at --step {args.step:g} is {rows:,} rows (at most {MAX_ROWS:,}): "
            "narrow --start/--end or raise --step"
        )
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    _check_instance(prom, args.instance, start, end)
    series = prom.series(selectors(metrics, args.instance), start, end)
    if not series:
        raise ExportError(f"--metrics {','.join(metrics)}: none of these series is there over that range")
    unknown = sorted(set(metrics) - {s.get("__name__", "") for s in series})
    if unknown:
        print(
            f"runner export: warning: --metrics {','.join(unknown)}: no such series in the range",
            file=sys.stderr,
        )
    try:
        rows = raw_export(prom, series, args.instance, start, end, None if args.samples else args.step, out)
    except OSError as exc:
        raise ExportError(f"--out {out}: {exc.strerror}") from exc
    print(f"wrote {rows} rows to {out}", file=sys.stderr)
    return 0


EXPORTER_SERIES = '{__name__=~"edge_(board_info|cpu_seconds_total|energy_joules_total)"%s}'


def _check_instance(prom: Prometheus, instance: str, start: float, end: float) -> None:
    """One line when --instance matches no exporter over the range, naming the ones there are
    (a CSV of empty columns would say nothing)."""
    if prom.series([EXPORTER_SERIES % f',instance=~"{instance}"'], start, end):
        return
    there = sorted({s.get("instance", "") for s in prom.series([EXPORTER_SERIES % ""], start, end)})
    if not there:
        raise ExportError("no exporter series in Prometheus over that range: was the exporter scraped?")
    raise ExportError(
        f"--instance {instance}: matches no exporter in the range (instances: {', '.join(there)})"
    )


def _check_rail(rail: str, aligner: Aligner, records: list[dict[str, Any]]) -> None:
    start = min(r["started_at"] for r in records if r.get("started_at"))
    end = max(r["ended_at"] for r in records if r.get("ended_at"))
    there = set(aligner.rails(start, end))
    for r in records:
        there |= set(r.get("energy_by_rail") or {})
    complaint = board_rails.unknown(rail, there, "the run's board")
    if complaint:
        raise ExportError(complaint)


def _throttled(rec: dict[str, Any], aligner: Aligner, start: float, end: float) -> float | None:
    """The runner's own watch of the flags (polled through the prompt) where it has one, else the
    highest "now" flag Prometheus scraped in the window."""
    if rec.get("throttled") is not None:
        return 1 if rec["throttled"] else 0
    return aligner.extreme("edge_throttled", ', window="now"', start, end, max)


def row(rec: dict[str, Any], aligner: Aligner, rail: str | None) -> dict[str, Any]:
    start, end = rec.get("started_at"), rec.get("ended_at")
    out: dict[str, Any] = {
        k: rec.get(k)
        for k in (
            "run_id",
            "prompt_id",
            "repetition",
            "backend",
            "model",
            "ttft_seconds",
            "input_tokens",
            "output_tokens",
            "decode_tokens_per_second",
            "status",
            "score",
        )
    }
    out.update(start_time=iso(start), end_time=iso(end))
    if start is None or end is None or end <= start:
        return out
    duration = end - start
    chosen = rail or rec.get("energy_rail") or aligner.input_rail(start, end)
    measured = board_rails.total(chosen, rec.get("energy_by_rail") or {}) if chosen else None
    energy = measured if measured is not None else (aligner.energy(chosen, start, end) if chosen else None)
    tokens = rec.get("output_tokens")
    out.update(
        duration_seconds=duration,
        energy_joules=energy,
        avg_power_watts=energy / duration if energy is not None else None,
        joules_per_output_token=energy / tokens if energy is not None and tokens else None,
        max_temperature_celsius=aligner.extreme("edge_temperature_celsius", "", start, end, max),
        avg_cpu_utilization_ratio=aligner.cpu_utilization(start, end),
        min_cpu_frequency_hertz=aligner.extreme("edge_cpu_frequency_hertz", "", start, end, min),
        throttled=_throttled(rec, aligner, start, end),
        energy_rail=chosen if energy is not None else None,
    )
    if chosen and chosen == rec.get("energy_rail"):
        out.update({k: int(v) if isinstance(v := rec.get(k), bool) else v for k in RECORD_ENERGY})
    return out


def _summary(args: argparse.Namespace, out: Path) -> int:
    """Per prompt and overall: the medians and 95 % intervals the end-of-run summary prints, from
    the results file alone (no Prometheus needed)."""
    if not args.run:
        raise ExportError("--summary needs --run RUN_ID")
    records = _from_results(Path(args.results), args.run)
    if records is None:
        raise ExportError(f"--run {args.run}: no results file {jsonl_path(Path(args.results), args.run)}")
    groups, overall, throttled = repetitions.summarize(records, args.include_throttled)
    try:
        with out.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=repetitions.CSV_COLUMNS)
            writer.writeheader()
            for g in [*groups, *([overall] if overall else [])]:
                writer.writerow({k: _cell(v) for k, v in repetitions.csv_row(g).items()})
    except OSError as exc:
        raise ExportError(f"--out {out}: {exc.strerror}") from exc
    left_out = f"; {throttled} throttled prompts left out (--include-throttled)" if throttled else ""
    print(f"wrote the summary of {len(groups)} prompts to {out}{left_out}", file=sys.stderr)
    return 0


def export(args: argparse.Namespace) -> int:
    prom = Prometheus(args.prometheus)
    try:
        out = check_out(Path(args.out), args.force, "--out")
    except OutFileError as exc:
        raise ExportError(str(exc)) from exc
    if args.summary:
        return _summary(args, out)
    if args.raw:
        return _raw(prom, args, out)
    if not args.run:
        raise ExportError("--run RUN_ID is required (or --raw with --start and --end)")
    records = prompt_windows(prom, args)
    if not records:
        known = ", ".join(known_runs(prom, Path(args.results))) or "none"
        raise ExportError(f"--run {args.run}: unknown run (known: {known})")
    prom.label_values("__name__")  # unreachable Prometheus: say so before writing anything
    aligner = Aligner(prom, args.instance)
    timed = [r for r in records if r.get("started_at") and r.get("ended_at")]
    if timed:
        start = min(r["started_at"] for r in timed) - MARGIN
        end = max(r["ended_at"] for r in timed) + MARGIN
        _check_instance(prom, args.instance, start, end)
        if args.rail:
            _check_rail(args.rail, aligner, timed)
    try:
        with out.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            for rec in records:
                writer.writerow(
                    {k: _cell(v) for k, v in row(rec, aligner, args.rail).items() if k in COLUMNS}
                )
    except OSError as exc:
        raise ExportError(f"--out {out}: {exc.strerror}") from exc
    print(f"wrote {len(records)} prompts to {out}", file=sys.stderr)
    return 0


def build_parser(parser_class: type[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p = parser_class(
        prog="runner export", description="Per-prompt CSV of a run, aligned with the board's series."
    )
    p.add_argument("--prometheus", default="http://127.0.0.1:9090", metavar="URL")
    p.add_argument("--run", metavar="RUN_ID", help="the run (its prompt windows give the range)")
    p.add_argument("--out", required=True, metavar="FILE.csv")
    p.add_argument(
        "--raw", action="store_true", help="wide CSV of the board's series instead of per-prompt rows"
    )
    p.add_argument(
        "--start",
        type=timestamp,
        metavar="TIME",
        help="--raw: range start, Unix seconds or ISO 8601 (default: the run's)",
    )
    p.add_argument(
        "--end", type=timestamp, metavar="TIME", help="--raw: range end, as --start (default: the run's)"
    )
    p.add_argument(
        "--step", type=float, default=1.0, metavar="SECONDS", help="--raw: row spacing (default 1)"
    )
    p.add_argument("--metrics", default=",".join(DEFAULT_METRICS), help="--raw: comma-separated metric names")
    p.add_argument(
        "--samples",
        action="store_true",
        help="--raw: every sample at its scrape time (long format), not a grid",
    )
    p.add_argument("--results", default="results", metavar="DIR", help="where the run's results file is")
    p.add_argument("--rail", help="energy rail (default: the board's input rail, docs/alignment.md)")
    p.add_argument("--instance", default=".*", metavar="REGEX", help="the board's instance label, if several")
    p.add_argument(
        "--summary",
        action="store_true",
        help="per prompt and overall: median and 95 %% interval of tok/s, TTFT, J/token (results file)",
    )
    p.add_argument(
        "--include-throttled", action="store_true", help="--summary: keep prompts the board throttled during"
    )
    p.add_argument("--force", action="store_true", help="overwrite --out")
    return p


def main(argv: Sequence[str], parser_class: type[argparse.ArgumentParser]) -> int:
    args = build_parser(parser_class).parse_args(argv)
    try:
        if args.run is not None:
            check_run_id(args.run)
        return export(args)
    except (ExportError, PrometheusError, RunIdError) as exc:
        print(f"runner export: error: {exc}", file=sys.stderr)
        return 2
