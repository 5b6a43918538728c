"""``runner compare RUN_A RUN_B``: is B faster, slower or the same as A, and may they be compared?

Per prompt (those both runs have) and overall: the median of decode tok/s, TTFT, J per output
token and energy above idle for A and B, the ratio B/A, and its 95 % interval (each run's
repetitions resampled on their own: runner/analysis/stats.py). What differs between the runs'
setups (the board the exporter saw, the model file's digest, the measured options, the backend's
version) is printed as a warning: a comparison across two boards or two models is apples to
oranges, and says so. ``--fail-if-slower PCT`` exits 1 when B's median decode tok/s is more than
PCT % below A's: a regression gate for CI.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from edgemeter.runner.analysis import stats
from edgemeter.runner.analysis.repetitions import value_of
from edgemeter.runner.results import RunIdError, check_run_id, jsonl_path, meta_path, read_records
from edgemeter.runner.run_options import MEASURED

METRICS = (  # (figure, header, decimals)
    ("decode_tokens_per_second", "tok/s", 1),
    ("ttft_seconds", "ttft_s", 3),
    ("joules_per_output_token", "J/tok", 4),
    ("energy_above_idle_joules", "J>idle", 3),
)
EXIT_SLOWER = 1
EXIT_USAGE = 2


class CompareError(Exception):
    """One line for the user, exit status 2."""


def _load(results: Path, run_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    try:
        check_run_id(run_id)
    except RunIdError as exc:
        raise CompareError(str(exc)) from exc
    path = jsonl_path(results, run_id)
    if not path.is_file():
        raise CompareError(f"run {run_id}: no results file {path}")
    try:
        meta = json.loads(meta_path(results, run_id).read_text())
    except (OSError, ValueError):
        meta = {}
    return [r for r in read_records(path) if not r.get("warmup") and r.get("status") == "ok"], meta


def _values(recs: Sequence[Mapping[str, Any]], name: str) -> list[float]:
    return [v for r in recs if (v := value_of(r, name)) is not None]


def compared(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per figure: a_median, b_median, ratio (b/a) and ci95 [lo, hi] (None where not enough)."""
    out = {}
    for name, _, _ in METRICS:
        va, vb = _values(a, name), _values(b, name)
        ma, mb = stats.median(va), stats.median(vb)
        ratio = mb / ma if ma and mb is not None else None
        ci = stats.ratio_interval(va, vb) if ma else None
        out[name] = {"a_median": ma, "b_median": mb, "ratio": ratio, "ci95": list(ci) if ci else None}
    return out


def _flat(prefix: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for key, sub in value.items() for k, v in _flat(f"{prefix}.{key}", sub).items()}
    return {prefix: value}


def setup(meta: Mapping[str, Any]) -> dict[str, Any]:
    """What changes results, from a run's meta: the board, the model and its digest, the backend
    and its version, the measured options (and the manifest, where the run has one)."""
    options = meta.get("options") or {}
    facts: dict[str, Any] = {}
    for key in ("board", "model", "backend", "manifest"):
        if key in meta:
            facts.update(_flat(key, meta[key]))
    facts.update({f"options.{k}": options.get(k) for k in MEASURED if k in options})
    for volatile in ("board.exporter", "board.source", "model.path"):
        facts.pop(volatile, None)  # where it was read from, not what was measured
    return facts


def differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[dict[str, Any]]:
    sa, sb = setup(a), setup(b)
    return [
        {"key": k, "a": sa.get(k), "b": sb.get(k)}
        for k in sorted(set(sa) | set(sb))
        if sa.get(k) != sb.get(k)
    ]


def _cell(figure: Mapping[str, Any], decimals: int) -> list[str]:
    def num(v: float | None, d: int = decimals) -> str:
        return "-" if v is None else f"{v:.{d}f}"

    ci = figure["ci95"]
    return [
        num(figure["a_median"]),
        num(figure["b_median"]),
        num(figure["ratio"], 3),
        f"{ci[0]:.3f}-{ci[1]:.3f}" if ci else "-",
    ]


def table(rows: list[tuple[str, dict[str, dict[str, Any]]]]) -> str:
    header = ["prompt_id"]
    for _, h, _ in METRICS:
        header += [f"{h} A", f"{h} B", "B/A", "95%"]
    lines = [header]
    for pid, figures in rows:
        cells = [pid]
        for name, _, decimals in METRICS:
            cells += _cell(figures[name], decimals)
        lines.append(cells)
    widths = [max(len(r[i]) for r in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in lines
    )


def compare(args: argparse.Namespace) -> int:
    results = Path(args.results)
    a, meta_a = _load(results, args.run_a)
    b, meta_b = _load(results, args.run_b)
    if not args.include_throttled:
        a = [r for r in a if not r.get("throttled")]
        b = [r for r in b if not r.get("throttled")]
    if not a or not b:
        raise CompareError(f"run {args.run_a if not a else args.run_b}: no ok prompt to compare")
    ids = [
        pid
        for pid in dict.fromkeys(str(r["prompt_id"]) for r in a)
        if any(str(r["prompt_id"]) == pid for r in b)
    ]
    per_prompt = {
        pid: compared(
            [r for r in a if str(r["prompt_id"]) == pid], [r for r in b if str(r["prompt_id"]) == pid]
        )
        for pid in ids
    }
    overall = compared(a, b)
    diffs = differences(meta_a, meta_b)
    print(table([*per_prompt.items(), ("all", overall)]))
    for d in diffs:
        print(f"warning: {d['key']} differs: A {d['a']!r}, B {d['b']!r}", file=sys.stderr)
    if args.json:
        report = {"metrics": overall, "prompts": per_prompt, "manifest_differences": diffs}
        try:
            Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        except OSError as exc:
            raise CompareError(f"--json {args.json}: {exc.strerror}") from exc
    ratio = overall["decode_tokens_per_second"]["ratio"]
    if args.fail_if_slower is not None and ratio is not None and ratio < 1 - args.fail_if_slower / 100:
        print(
            f"runner compare: B's decode tok/s is {(1 - ratio) * 100:.1f} % below A's (--fail-if-slower "
            f"{args.fail_if_slower:g})",
            file=sys.stderr,
        )
        return EXIT_SLOWER
    return 0


def main(argv: Sequence[str], parser_class: type[argparse.ArgumentParser]) -> int:
    p = parser_class(prog="runner compare", description=__doc__.split("\n\n")[0])
    p.add_argument("run_a", metavar="RUN_A")
    p.add_argument("run_b", metavar="RUN_B")
    p.add_argument("--results", default="results", metavar="DIR", help="where both runs' results files are")
    p.add_argument("--json", metavar="FILE", help="also write the comparison as JSON")
    p.add_argument(
        "--fail-if-slower", type=float, metavar="PCT", help="exit 1 if B's decode tok/s is PCT %% below A's"
    )
    p.add_argument("--include-throttled", action="store_true", help="keep prompts the board throttled during")
    args = p.parse_args(argv)
    try:
        return compare(args)
    except CompareError as exc:
        print(f"runner compare: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
