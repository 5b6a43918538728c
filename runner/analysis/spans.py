"""``runner spans FILE --exporter-url URL --out OUT.csv``: the energy of every span in a file.

FILE is a CSV or JSONL of ``name,start,end`` (Unix seconds) or a Chrome/Perfetto trace
(runner/span_files.py); ``--offset`` shifts them. Each span is integrated between the
exporter's power samples of the chosen rail (``/samples``, kept ``--history-seconds`` back), so
a 50 ms layer is measured as well as the sampling rate allows: at 200 Hz within 2 % of the exact
integral (docs/performance.md). OUT has one row a span::

    name, start_time, end_time, duration_seconds, energy_joules, avg_power_watts, energy_rail,
    energy_uncertainty_joules, energy_too_short, <the file's other columns>

with times in Unix seconds, as the file gave them; ``--totals FILE.csv`` adds per-name sums.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from edgemeter.runner.analysis.out_file import OutFileError, check_out, write_csv
from edgemeter.runner.exporter_client import ExporterClient, ExporterError, metrics_url
from edgemeter.runner.span_energy import SpanEnergyError, check_reach, choose_rail, history, measure
from edgemeter.runner.span_files import Span, SpanFileError, read_spans

HISTORY_TIMEOUT = 30.0  # seconds: ten minutes of 200 Hz samples of several rails is megabytes of JSON
COLUMNS = (
    "name",
    "start_time",
    "end_time",
    "duration_seconds",
    "energy_joules",
    "avg_power_watts",
    "energy_rail",
    "energy_uncertainty_joules",
    "energy_too_short",
)
TOTALS = (
    "name",
    "spans",
    "duration_seconds",
    "energy_joules",
    "avg_power_watts",
    "energy_per_span_joules",
    "energy_uncertainty_joules",
)


def _carried(spans: Sequence[Span]) -> list[str]:
    seen: dict[str, None] = {}
    for s in spans:
        seen.update(dict.fromkeys(k for k in s.carried if k not in COLUMNS))
    return list(seen)


def rows(client: ExporterClient, spans: Sequence[Span], rail: str | None) -> list[dict[str, object]]:
    """One output row a span (raises ExporterError, SpanEnergyError)."""
    page = client.read()
    samples = history(client, [(s.start, s.end) for s in spans])
    chosen = choose_rail(samples, page.input_rail_candidates, rail)
    out = []
    for s in spans:
        check_reach(samples, chosen, s.start, s.end, f"span {s.name!r} ({s.where})")
        m = measure(samples, chosen, s.start, s.end)
        out.append(
            {
                **s.carried,
                "name": s.name,
                "start_time": f"{s.start:.6f}",
                "end_time": f"{s.end:.6f}",
                "duration_seconds": f"{s.end - s.start:.6f}",
                "energy_joules": f"{m.energy_joules:.6g}",
                "avg_power_watts": "" if m.avg_power_watts is None else f"{m.avg_power_watts:.6g}",
                "energy_rail": chosen,
                "energy_uncertainty_joules": f"{m.uncertainty_joules:.3g}",
                "energy_too_short": int(m.too_short),
                "_energy": m.energy_joules,
                "_uncertainty": m.uncertainty_joules,
                "_duration": s.end - s.start,
            }
        )
    return out


def totals(measured: Sequence[dict[str, object]]) -> list[dict[str, object]]:
    """Per span name: the count, summed duration, energy and bound, mean power and energy a span."""
    by_name: dict[str, list[dict[str, object]]] = {}
    for r in measured:
        by_name.setdefault(str(r["name"]), []).append(r)
    out = []
    for name, group in by_name.items():
        joules = sum(float(r["_energy"]) for r in group)  # type: ignore[arg-type]
        seconds = sum(float(r["_duration"]) for r in group)  # type: ignore[arg-type]
        out.append(
            {
                "name": name,
                "spans": len(group),
                "duration_seconds": f"{seconds:.6f}",
                "energy_joules": f"{joules:.6g}",
                "avg_power_watts": f"{joules / seconds:.6g}" if seconds > 0 else "",
                "energy_per_span_joules": f"{joules / len(group):.6g}",
                "energy_uncertainty_joules": f"{sum(float(r['_uncertainty']) for r in group):.3g}",  # type: ignore[arg-type]
            }
        )
    return out


def build_parser(parser_class: type[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p = parser_class(prog="runner spans", description="The energy of every span in a file.")
    p.add_argument("file", metavar="FILE", help="CSV or JSONL of name,start,end (Unix s), or a Chrome trace")
    p.add_argument("--exporter-url", required=True, metavar="URL")
    p.add_argument("--out", required=True, metavar="OUT.csv")
    p.add_argument("--totals", metavar="FILE.csv", help="also per-name totals")
    p.add_argument("--rail", help="the rail (default: the board's input rail; A+B sums rails)")
    p.add_argument(
        "--offset",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="added to every start and end (a trace whose clock starts at 0: the Unix time it started)",
    )
    p.add_argument("--force", action="store_true", help="overwrite --out and --totals")
    return p


def main(argv: Sequence[str], parser_class: type[argparse.ArgumentParser]) -> int:
    args = build_parser(parser_class).parse_args(argv)
    try:
        out = check_out(Path(args.out), args.force, "--out")
        total_out = check_out(Path(args.totals), args.force, "--totals") if args.totals else None
        spans = read_spans(Path(args.file), args.offset)
        measured = rows(ExporterClient(metrics_url(args.exporter_url), HISTORY_TIMEOUT), spans, args.rail)
        fields = [*COLUMNS, *_carried(spans)]
        write_csv(out, fields, measured, "--out")
        if total_out is not None:
            write_csv(total_out, list(TOTALS), totals(measured), "--totals")
    except (SpanFileError, SpanEnergyError, ExporterError, OutFileError) as exc:
        print(f"runner spans: error: {exc}", file=sys.stderr)
        return 2
    rail = measured[0]["energy_rail"]
    print(f"wrote {len(measured)} spans on {rail} to {out}", file=sys.stderr)
    return 0
