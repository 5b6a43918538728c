"""``runner wrap [--exporter-url URL] [--results DIR] -- CMD ARGS…``: run any command, measured.

CMD runs as given (no shell) with the runner's terminal; Ctrl-C at the terminal reaches it
directly (as under a shell), SIGTERM and SIGHUP sent to ``runner wrap`` are passed on to it, and
``runner wrap`` exits with CMD's own status (128 + N when a signal N ended it, as shells
say). Around it the exporter is read as around a prompt (runner/live_window.py), and polled
meanwhile for the hottest temperature and throttling. One JSONL record goes to
``DIR/wrap.jsonl`` (appended; fields in docs/metrics.md), the same figures are pushed to the
Pushgateway with ``span`` labels (runner/span_push.py), and a one-screen summary is printed.
Nothing about the exporter or the gateway changes CMD's run or its exit status: a fault there
leaves those figures empty and says why.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgemeter.runner.energy_bound import prompt_bound
from edgemeter.runner.exporter_client import ExporterClient, ExporterError, metrics_url
from edgemeter.runner.live_window import Edge, LiveEnergy, edge, energy_between
from edgemeter.runner.span_energy import history
from edgemeter.runner.span_push import RESERVED, push_span
from edgemeter.runner.throttle_watch import ThrottleWatch, any_flag

ENV_URL = "EDGEMETER_EXPORTER_URL"
RESULTS_FILE = "wrap.jsonl"
EXIT_NOT_FOUND, EXIT_NOT_RUNNABLE, EXIT_USAGE = 127, 126, 2
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


class WrapError(Exception):
    """CMD cannot be run as asked: one line, and the exit status a shell would give."""

    def __init__(self, message: str, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.status = status


def build_parser(parser_class: type[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p = parser_class(
        prog="runner wrap", description="Run CMD and record its energy, power, heat and CPU time."
    )
    p.add_argument(
        "--exporter-url", default=os.environ.get(ENV_URL), metavar="URL", help=f"default ${ENV_URL}"
    )
    p.add_argument(
        "--results", default="results", metavar="DIR", help=f"appends a record to DIR/{RESULTS_FILE}"
    )
    p.add_argument("--name", help="the span's name (default: CMD's base name)")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="a label; repeatable")
    p.add_argument("--rail", help="the rail energy_joules is on (default: the board's input rail)")
    p.add_argument("--pushgateway", default="http://127.0.0.1:9091", metavar="URL")
    p.add_argument("--no-push", action="store_true")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD ARGS")
    return p


def _labels(items: Sequence[str]) -> dict[str, str]:
    labels = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not LABEL_NAME.fullmatch(key) or key.startswith("__") or key in RESERVED:
            raise WrapError(
                f"--label {item!r}: expected KEY=VALUE, KEY a Prometheus label name not starting with __ "
                f"nor one of {', '.join(sorted(RESERVED))}"
            )
        labels[key] = value
    return labels


class _Forward:
    """While CMD runs: SIGTERM (and SIGHUP) sent to ``runner wrap`` are passed on to CMD once;
    SIGINT is ignored here, as a shell does, because Ctrl-C at the terminal already reaches CMD
    (it is in the terminal's foreground process group with us): passing it on would deliver it
    twice, and many programs read a second Ctrl-C as "abort now"."""

    FORWARDED = (signal.SIGTERM, signal.SIGHUP)

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.old = {s: signal.signal(s, self) for s in self.FORWARDED}
        self.old[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)

    def __call__(self, signum: int, frame: object) -> None:
        # os.kill, never Popen.poll/send_signal: those reap a child that has just died, and the
        # wait4 below would then never see its status. Unreaped, its pid cannot be reused.
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signum)

    def restore(self) -> None:
        for s, handler in self.old.items():
            signal.signal(s, handler)


class _Pending:
    """Until CMD starts: a SIGINT or SIGTERM means "do not start it" (the exporter read before
    it may take up to its timeout)."""

    def __init__(self) -> None:
        self.seen: int | None = None
        self.old = {s: signal.signal(s, self) for s in (signal.SIGINT, signal.SIGTERM)}

    def __call__(self, signum: int, frame: object) -> None:
        self.seen = signum

    def restore(self) -> None:
        for s, handler in self.old.items():
            signal.signal(s, handler)


def _read(client: ExporterClient | None, notes: list[str]) -> Edge | None:
    if client is None:
        return None
    try:
        return edge(client)
    except ExporterError as exc:
        notes.append(str(exc))
        return None


def _run(command: list[str]) -> tuple[int, Any, float, float]:
    """(exit status as a shell gives it, resource usage, started, ended) of CMD."""
    started = time.time()
    try:
        proc = subprocess.Popen(command)
    except FileNotFoundError:
        raise WrapError(f"{command[0]}: no such command", EXIT_NOT_FOUND) from None
    except OSError as exc:  # not executable, no interpreter line, a directory
        raise WrapError(f"{command[0]}: cannot run it ({exc.strerror})", EXIT_NOT_RUNNABLE) from None
    forward = _Forward(proc.pid)
    try:
        while True:
            try:
                _, status, usage = os.wait4(proc.pid, 0)
                break
            except InterruptedError:
                continue
    finally:
        forward.restore()
    ended = time.time()
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # reaped here: Popen must not wait for it again
    return (128 - code if code < 0 else code), usage, started, ended


def record(
    name: str,
    command: list[str],
    labels: dict[str, str],
    status: int,
    usage: Any,
    window: tuple[float, float],
    live: LiveEnergy | None,
    bound: tuple[float, bool] | None,
    watch: tuple[float | None, bool | None],
    notes: list[str],
) -> dict[str, Any]:
    started, ended = window
    duration = ended - started
    joules = live.joules if live else None
    return {
        "kind": "wrap",
        "run_id": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started)) + "-" + secrets.token_hex(2),
        "name": name,
        "command": command,
        "labels": labels,
        "started_at": started,
        "ended_at": ended,
        "duration_seconds": duration,
        "exit_status": status,
        "energy_joules": joules,
        "energy_rail": live.rail if live else None,
        "energy_by_rail": live.by_rail if live else {},
        "avg_power_watts": joules / duration if joules is not None and duration > 0 else None,
        "energy_uncertainty_joules": bound[0] if bound else None,
        "energy_too_short": bound[1] if bound else None,
        "peak_temperature_celsius": watch[0],
        "throttled": watch[1],
        "cpu_user_seconds": usage.ru_utime if usage else None,
        "cpu_system_seconds": usage.ru_stime if usage else None,
        "cpu_seconds": usage.ru_utime + usage.ru_stime if usage else None,
        "energy_note": "; ".join(notes) or None,
    }


def summary(rec: dict[str, Any], where: Path) -> str:
    def num(value: float | None, fmt: str, unit: str) -> str:
        return "-" if value is None else f"{value:{fmt}} {unit}"

    lines = [f"wrap: {rec['name']}: exit {rec['exit_status']}, {rec['duration_seconds']:.3f} s"]
    if rec["energy_joules"] is not None:
        pm = (
            f" ± {rec['energy_uncertainty_joules']:.2g}"
            if rec["energy_uncertainty_joules"] is not None
            else ""
        )
        short = " (too short for its sensor)" if rec["energy_too_short"] else ""
        rails = ", ".join(f"{k} {v:.3f}" for k, v in sorted(rec["energy_by_rail"].items()))
        lines.append(
            f"  energy {rec['energy_joules']:.3f}{pm} J on {rec['energy_rail']}{short}, "
            f"average {num(rec['avg_power_watts'], '.3f', 'W')}"
        )
        lines.append(f"  by rail (J): {rails}")
    else:
        lines.append(f"  energy - : {rec['energy_note'] or 'no --exporter-url'}")
    throttled = {None: "-", True: "yes", False: "no"}[rec["throttled"]]
    lines.append(
        f"  peak temperature {num(rec['peak_temperature_celsius'], '.1f', '°C')}, throttled {throttled}"
    )
    lines.append(
        f"  CPU {num(rec['cpu_seconds'], '.3f', 's')} (user {num(rec['cpu_user_seconds'], '.3f', 's')}, "
        f"system {num(rec['cpu_system_seconds'], '.3f', 's')})"
    )
    lines.append(f"  record: {where}")
    return "\n".join(lines)


def main(argv: Sequence[str], parser_class: type[argparse.ArgumentParser]) -> int:
    args = build_parser(parser_class).parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    try:
        if not command:
            raise WrapError("no command: runner wrap [options] -- CMD ARGS...")
        labels = _labels(args.label)
        results = Path(args.results)
        results.mkdir(parents=True, exist_ok=True)
    except WrapError as exc:
        print(f"runner wrap: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"runner wrap: error: --results {args.results}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    client = ExporterClient(metrics_url(args.exporter_url)) if args.exporter_url else None
    notes: list[str] = []
    pending = _Pending()
    try:
        before = _read(client, notes)
    finally:
        pending.restore()
    if pending.seen is not None:
        print("runner wrap: interrupted before the command started: nothing was run", file=sys.stderr)
        return 128 + pending.seen
    watch = ThrottleWatch(client, hottest=True) if before is not None else None
    try:
        status, usage, started, ended = _run(command)
    except WrapError as exc:
        if watch is not None:
            watch.stop()
        print(f"runner wrap: error: {exc}", file=sys.stderr)
        return exc.status
    after = _read(client, notes) if before is not None else None
    seen = watch.stop() if watch is not None else None
    peak = watch.peak if watch is not None else None
    live = bound = None
    if before is not None and after is not None:
        live = energy_between(before, after, args.rail)
        if live.note:
            notes.append(live.note)
        peak = max(
            (t for t in (peak, before.page.hottest, after.page.hottest) if t is not None), default=None
        )
        seen = any_flag(before.page.throttled, seen, after.page.throttled)
        if live.rail is not None and client is not None:
            try:
                samples = history(client, [(started, ended)])
                bound = prompt_bound(
                    samples, live.rail, live.by_rail, (started, ended), (before.began, after.ended)
                )
            except ExporterError as exc:
                notes.append(f"no bound: {exc}")
    name = args.name or os.path.basename(command[0])
    rec = record(name, command, labels, status, usage, (started, ended), live, bound, (peak, seen), notes)
    where = results / RESULTS_FILE
    try:
        with where.open("a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")
    except OSError as exc:
        print(
            f"runner wrap: warning: {where}: {exc.strerror}; the record is printed instead", file=sys.stderr
        )
        print(json.dumps(rec), file=sys.stderr)
    if not args.no_push:
        why = push_span(args.pushgateway, rec)
        if why:
            print(f"runner wrap: warning: {why}", file=sys.stderr)
    print(summary(rec, where), file=sys.stderr)
    return status
