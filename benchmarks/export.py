#!/usr/bin/env python3
"""``runner export --raw`` on a day of 1 s data: 24 h x 1 s x 20 series backfilled into a test
Prometheus with ``promtool tsdb create-blocks-from openmetrics``, then exported raw at 1 s.
Prints wall time and the runner's peak RSS (targets: < 10 s, < 200 MB).

usage: .venv/bin/python benchmarks/export.py [--hours 24] [--series 20]
"""

from __future__ import annotations

import argparse
import csv
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def openmetrics(path: Path, start: int, seconds: int, series: int) -> None:
    with path.open("w") as f:
        f.write(
            "# HELP edge_power_watts Backfilled for the export benchmark.\n# TYPE edge_power_watts gauge\n"
        )
        for s in range(series):
            labels = f'instance="bench:19477",job="edgemeter",rail="rail{s:02d}",source="bench"'
            f.writelines(
                f"edge_power_watts{{{labels}}} {5 + (t % 60) / 60 + s} {start + t}\n" for t in range(seconds)
            )
        f.write("# EOF\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hours", type=float, default=24)
    ap.add_argument("--series", type=int, default=20)
    args = ap.parse_args()
    seconds = int(args.hours * 3600)
    end = int(time.time()) - 3600  # whole blocks in the past, inside the default retention
    start = end - seconds
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        t0 = time.monotonic()
        openmetrics(tmp / "data.om", start, seconds, args.series)
        subprocess.run(
            [
                "promtool",
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                str(tmp / "data.om"),
                str(tmp / "tsdb"),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        backfill = time.monotonic() - t0
        port = free_port()
        prom = subprocess.Popen(
            [
                "prometheus",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=30d",
                f"--config.file={tmp / 'p.yml'}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        (tmp / "p.yml").write_text("global: {}\n")
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.2)
            out = tmp / "raw.csv"
            t1 = time.monotonic()
            # the runner's own peak RSS, reported by the process itself as it exits
            wrapper = (
                "import resource, runpy, sys\nsys.argv = ['runner'] + sys.argv[1:]\ntry:\n"
                "    runpy.run_module('edgemeter.runner', run_name='__main__')\n"
                "except SystemExit as e:\n    code = e.code\n"
                "print('maxrss', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
                "sys.exit(code)\n"
            )
            done = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    wrapper,
                    "export",
                    "--raw",
                    "--prometheus",
                    f"http://127.0.0.1:{port}",
                    "--start",
                    str(start),
                    "--end",
                    str(end - 1),
                    "--step",
                    "1",
                    "--metrics",
                    "edge_power_watts",
                    "--out",
                    str(out),
                ],
                cwd=REPO,
                capture_output=True,
                text=True,
            )
            wall = time.monotonic() - t1
            peak_mb = next(
                (
                    int(line.split()[1]) / 1024
                    for line in done.stderr.splitlines()
                    if line.startswith("maxrss")
                ),
                float("nan"),
            )
            if done.returncode != 0:
                sys.exit(f"benchmark: export failed: {done.stderr.strip()}")
            with out.open(newline="") as f:
                reader = csv.reader(f)
                cols = len(next(reader)) - 2
                rows = sum(1 for _ in reader)
        finally:
            prom.terminate()
            prom.wait()
    print(f"{args.hours:g} h x 1 s x {args.series} series backfilled in {backfill:.1f} s")
    print(
        f"runner export --raw: {rows} rows x {cols} series in {wall:.2f} s (target < 10 s), "
        f"peak RSS {peak_mb:.0f} MB (target < 200 MB)"
    )
    print("targets met" if wall < 10 and peak_mb < 200 else "TARGETS MISSED")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
