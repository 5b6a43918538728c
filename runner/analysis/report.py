"""``runner report --run RUN_ID --out run.png``: a picture of one run and a table in the terminal.

Stacked timelines over the run (the board's input power with the idle line of ``--idle``, its
hottest temperature with the cooldowns of ``--cooldown-to`` shaded, the CPU frequency and load,
memory) with each prompt's window shaded and labelled by its prompt id; then decode tokens/s per
prompt and each prompt's energy by phase (prefill, decode) with its bound as an error bar. Data:
the run's windows and figures from the results file, the board's series from Prometheus
(``--prometheus``) at 1 s resolution.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgemeter.exporter.boards import rails as board_rails
from edgemeter.extras import missing
from edgemeter.runner.analysis.alignment import Aligner
from edgemeter.runner.analysis.export import ExportError, known_runs, prompt_windows
from edgemeter.runner.analysis.promql import Prometheus, PrometheusError
from edgemeter.runner.analysis.report_panels import cooldowns, idle_watts, phase_bars
from edgemeter.runner.progress import summary
from edgemeter.runner.record import PromptRecord
from edgemeter.runner.results import RunIdError, check_run_id

PANELS = (  # title, PromQL ({m}: the board matcher), where the board's input rail goes
    ("Power (W)", "edge_power_watts{{{m}}}"),
    ("Hottest sensor (°C)", "max(edge_temperature_celsius{{{m}}})"),
    ("CPU frequency (GHz)", "min(edge_cpu_frequency_hertz{{{m}}}) / 1e9"),
    (
        "CPU busy",
        '1 - sum(rate(edge_cpu_seconds_total{{{m}, mode=~"idle|iowait"}}[5s]))'
        " / sum(rate(edge_cpu_seconds_total{{{m}}}[5s]))",
    ),
    ("Memory used (GB)", "(edge_memory_total_bytes{{{m}}} - edge_memory_available_bytes{{{m}}}) / 1e9"),
)
NO_DATA = "no data on this board"
POWER, HOTTEST = PANELS[0][0], PANELS[1][0]  # where the idle line and the cooldowns are drawn
PHASES = "Energy by phase (J)"
WINDOW_COLOURS = ("orange", "tab:cyan")  # alternating, so prompts run back to back stay apart


def _series(
    prom: Prometheus, expr: str, start: float, end: float
) -> list[tuple[str, list[tuple[float, float]]]]:
    step = max((end - start) / 2000, 1.0)
    found = [
        (m.get("rail", ""), [(t, v) for t, v in pts if math.isfinite(v)])
        for m, pts in prom.range(expr, start, end, step)
    ]
    return [(rail, pts) for rail, pts in found if pts]  # 0/0 (counters that never moved) is no data


def _when(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, dt.UTC)


def _windows(ax: Any, records: list[dict[str, Any]]) -> None:
    for i, r in enumerate(records):
        a, b = _when(r["started_at"]), _when(r["ended_at"])
        ax.axvspan(a, b, color=WINDOW_COLOURS[i % 2], alpha=0.25, linewidth=0)
        ax.axvline(a, color="grey", linewidth=0.5)
        ax.text(a, 1.0, str(r["prompt_id"]), transform=ax.get_xaxis_transform(), fontsize=7, va="bottom")


def _marks(ax: Any, title: str, records: list[dict[str, Any]], had: dict[str, bool]) -> None:
    """The idle line on the power panel, the cooldowns on the temperature panel."""
    if title == POWER:
        idle = idle_watts(records)
        had["idle line"] = idle is not None
        if idle is not None:
            ax.axhline(idle, color="black", linestyle="--", linewidth=1, label=f"idle {idle:.2f} W")
    elif title == HOTTEST:
        waits = cooldowns(records)
        had["cooldowns"] = bool(waits)
        for k, w in enumerate(waits):
            ax.axvspan(_when(w.start), _when(w.end), color="tab:blue", alpha=0.15, linewidth=0,
                       label="cooling (--cooldown-to)" if k == 0 else None)  # fmt: skip
            if w.temperature is not None:
                ax.plot([_when(w.end)], [w.temperature], marker="v", color="tab:blue")


def _phases(ax: Any, records: list[dict[str, Any]]) -> bool:
    """Prefill and decode energy stacked per prompt run, the bound as an error bar."""
    found = phase_bars(records)
    ax.set_ylabel(PHASES)
    if not found:
        why = "no energy by phase (no --exporter-url, or no first-token read)"
        ax.text(0.5, 0.5, why, transform=ax.transAxes, ha="center", va="center", color="grey")
        return False
    labels = [b.label for b in found]
    ax.bar(labels, [b.prefill for b in found], label="prefill")
    ax.bar(labels, [b.decode for b in found], bottom=[b.prefill for b in found], label="decode")
    errors = [b.uncertainty or 0.0 for b in found]
    ax.errorbar(labels, [b.prefill + b.decode for b in found], yerr=errors, fmt="none", ecolor="black",
                capsize=3, label="bound")  # fmt: skip
    ax.legend(loc="upper right", fontsize=7)
    return True


def draw(prom: Prometheus, records: list[dict[str, Any]], instance: str, out: Path) -> dict[str, bool]:
    """The PNG; which timelines had data (one without says so on the picture, never empty axes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start = min(r["started_at"] for r in records) - 5
    end = max(r["ended_at"] for r in records) + 5
    match = f'instance=~"{instance}"'
    rail = Aligner(prom, instance).input_rail(start, end)
    table = summary([_as_record(r) for r in records])
    fig, axes = plt.subplots(
        len(PANELS) + 3, 1, figsize=(11, 18), height_ratios=[3] * (len(PANELS) + 2) + [2]
    )
    had: dict[str, bool] = {}
    for ax, (title, template) in zip(axes, PANELS, strict=False):
        parts = "|".join(board_rails.parts(rail)) if rail else ""
        expr = template.format(m=match + (f', rail=~"{parts}"' if "power" in template and rail else ""))
        series = _series(prom, expr, start, end)
        had[title] = any(points for _, points in series)
        for label, points in series:
            ax.plot([_when(t) for t, _ in points], [v for _, v in points], label=label or None)
        if not had[title]:
            ax.text(0.5, 0.5, NO_DATA, transform=ax.transAxes, ha="center", va="center", color="grey")
            ax.set_yticks([])
        _windows(ax, records)
        _marks(ax, title, records, had)
        ax.set_ylabel(title)
        ax.set_xlim(_when(start), _when(end))
        if ax.get_legend_handles_labels()[1]:
            ax.legend(loc="upper right", fontsize=7)
    ok = [r for r in records if r.get("decode_tokens_per_second")]
    had[PHASES] = _phases(axes[-2], records)
    bars = axes[-3]
    bars.bar(
        [f"{r['prompt_id']}#{r.get('repetition', 1)}" for r in ok],
        [r["decode_tokens_per_second"] for r in ok],
    )
    bars.set_ylabel("decode tok/s")
    if not ok:
        why = "no decode rate (no prompt decoded more than one token)"
        bars.text(0.5, 0.5, why, transform=bars.transAxes, ha="center", va="center", color="grey")
    axes[-1].axis("off")
    axes[-1].text(0, 1, table, family="monospace", fontsize=8, va="top", transform=axes[-1].transAxes)
    fig.suptitle(
        f"run {records[0]['run_id']}  {records[0].get('backend', '')} {records[0].get('model', '')}  "
        f"(power: {'rail ' + rail if rail else 'no input rail on this board'}; shaded: prompt windows)"
    )
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return had


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
