"""``runner report --run RUN_ID --out run.png``: a picture of one run and a table in the terminal.

Three stacked timelines over the run (the board's input power, its hottest temperature, the CPU
frequency) with each prompt's window shaded and labelled by its prompt id, and decode tokens/s
per prompt underneath. Data: the run's windows and figures from the results file, the board's
series from Prometheus (``--prometheus``) at 1 s resolution.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgemeter.exporter.boards import rails as board_rails
from edgemeter.extras import missing
from edgemeter.runner.alignment import Aligner
from edgemeter.runner.export import ExportError, known_runs, prompt_windows
from edgemeter.runner.progress import summary
from edgemeter.runner.promql import Prometheus, PrometheusError
from edgemeter.runner.record import PromptRecord
from edgemeter.runner.results import RunIdError, check_run_id

PANELS = (
    ("Power (W)", "edge_power_watts{{{m}}}"),
    ("Hottest sensor (°C)", "max(edge_temperature_celsius{{{m}}})"),
    ("CPU frequency (GHz)", "min(edge_cpu_frequency_hertz{{{m}}}) / 1e9"),
)


def _series(
    prom: Prometheus, expr: str, start: float, end: float
) -> list[tuple[str, list[tuple[float, float]]]]:
    step = max((end - start) / 2000, 1.0)
    return [(m.get("rail", ""), pts) for m, pts in prom.range(expr, start, end, step)]


def draw(prom: Prometheus, records: list[dict[str, Any]], instance: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start = min(r["started_at"] for r in records) - 5
    end = max(r["ended_at"] for r in records) + 5
    match = f'instance=~"{instance}"'
    rail = Aligner(prom, instance).input_rail(start, end)
    fig, axes = plt.subplots(len(PANELS) + 1, 1, figsize=(11, 9), sharex=False)
    when = [dt.datetime.fromtimestamp(t, dt.UTC) for t in (start, end)]
    for ax, (title, template) in zip(axes, PANELS, strict=False):
        parts = "|".join(board_rails.parts(rail)) if rail else ""
        expr = template.format(m=match + (f', rail=~"{parts}"' if "power" in template and rail else ""))
        for label, points in _series(prom, expr, start, end):
            ax.plot(
                [dt.datetime.fromtimestamp(t, dt.UTC) for t, _ in points],
                [v for _, v in points],
                label=label or None,
            )
        for r in records:
            a, b = (dt.datetime.fromtimestamp(r[k], dt.UTC) for k in ("started_at", "ended_at"))
            ax.axvspan(a, b, color="orange", alpha=0.25)
            ax.text(a, 1.0, str(r["prompt_id"]), transform=ax.get_xaxis_transform(), fontsize=7, va="bottom")
        ax.set_ylabel(title)
        ax.set_xlim(*when)
        if ax.get_legend_handles_labels()[1]:
            ax.legend(loc="upper right", fontsize=7)
    ok = [r for r in records if r.get("decode_tokens_per_second")]
    bars = axes[-1]
    bars.bar(
        [f"{r['prompt_id']}#{r.get('repetition', 1)}" for r in ok],
        [r["decode_tokens_per_second"] for r in ok],
    )
    bars.set_ylabel("decode tok/s")
    fig.suptitle(
        f"run {records[0]['run_id']}  {records[0].get('backend', '')} {records[0].get('model', '')}  "
        f"(rail {rail or 'n/a'}; shaded: prompt windows)"
    )
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv: Sequence[str], parser_class: type[argparse.ArgumentParser]) -> int:
    p = parser_class(prog="runner report", description="A picture of one run and a per-prompt table.")
    p.add_argument("--run", required=True, metavar="RUN_ID")
    p.add_argument("--out", required=True, metavar="FILE.png")
    p.add_argument("--prometheus", default="http://127.0.0.1:9090", metavar="URL")
    p.add_argument("--results", default="results", metavar="DIR")
    p.add_argument("--instance", default=".*", metavar="REGEX")
    p.add_argument("--force", action="store_true", help="overwrite --out")
    args = p.parse_args(argv)
    prom, out = Prometheus(args.prometheus), Path(args.out)
    try:
        check_run_id(args.run)
        if out.exists() and not args.force:
            raise ExportError(f"--out {out}: exists (add --force to overwrite)")
        records = [r for r in prompt_windows(prom, args) if r.get("started_at") and r.get("ended_at")]
        if not records:
            known = ", ".join(known_runs(prom, Path(args.results))) or "none"
            raise ExportError(f"--run {args.run}: unknown run (known: {known})")
        draw(prom, records, args.instance, out)
    except (ExportError, PrometheusError, RunIdError) as exc:
        print(f"runner report: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"runner report: error: --out {out}: {exc.strerror}", file=sys.stderr)
        return 2
    except ImportError as exc:
        if (exc.name or "").split(".")[0] != "matplotlib":
            raise
        print(f"runner report: error: {missing('matplotlib')}", file=sys.stderr)
        return 2
    print(summary([_as_record(r) for r in records]), file=sys.stderr)
    print(f"wrote {out}", file=sys.stderr)
    return 0


def _as_record(r: dict[str, Any]) -> PromptRecord:
    """A results line (or a Prometheus-built window) as the record the summary table reads."""
    fields = PromptRecord.__dataclass_fields__
    values = {k: r.get(k) for k in fields}
    values.update(
        warmup=bool(r.get("warmup")),
        status=r.get("status") or "ok",
        sources=r.get("sources") or {},
        energy_by_rail=r.get("energy_by_rail") or {},
        cached_prompt=bool(r.get("cached_prompt")),
        repetition=r.get("repetition") or 1,
    )
    return PromptRecord(**values)
