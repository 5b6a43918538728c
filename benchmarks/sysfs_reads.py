#!/usr/bin/env python3
"""What one sensor reading costs the board: a fresh open, read and close of the attribute (what
node_exporter and our exporter before 2026-12-02 do at every scrape) against a ``pread`` of the
descriptor the exporter keeps open (exporter/sensors/sysfs.KeptFiles), both through the
exporter's own ``read_number``.

The real kernel's files are what matter (sysfs renders a value at each read; opening one walks
the path and sets up a seq_file), so the default set is this machine's own readable sysfs
attributes (network statistics, thermal zones, hwmon, cpufreq, whatever it has), up to
``--files``. The Jetson Orin fixture tree's files (regular files on disk, which the kept path
also ``fstat``-s before each read, to see one replaced) are measured beside them, so the gain a
fixture-tree benchmark shows can be told from a board's. CPU time of this thread, median of
``--rounds`` passes over every file.

usage: .venv/bin/python benchmarks/sysfs_reads.py [--files 60] [--rounds 300] [--json FILE]
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from edgemeter.exporter.sensors.sysfs import KeptFiles, ReadLog, read_bytes  # noqa: E402

from boardtrees import BOARDS  # noqa: E402 - the same fixture trees the tests use

REAL_ATTRIBUTES = (
    "/sys/class/hwmon/hwmon*/*_input",
    "/sys/class/thermal/thermal_zone*/temp",
    "/sys/devices/system/cpu/cpu*/cpufreq/scaling_cur_freq",
    "/sys/class/net/*/statistics/*",
    "/sys/devices/system/cpu/cpu*/online",
)


def real_files(limit: int) -> list[str]:
    """This machine's readable numeric sysfs attributes, up to ``limit``."""
    found: list[str] = []
    for pattern in REAL_ATTRIBUTES:
        for path in sorted(glob.glob(pattern)):
            if len(found) < limit and _numeric(path):
                found.append(path)
    return found


def _numeric(path: str) -> bool:
    data = read_bytes(path, ReadLog(), keep=False)
    try:
        return data is not None and math.isfinite(float(data))
    except ValueError:
        return False


def fixture_files(tmp: Path) -> list[str]:
    """The value files of the Orin tree that a scrape reads, as regular files on disk."""
    orin = BOARDS["jetson_orin"](tmp / "orin")
    patterns = (
        "class/thermal/thermal_zone*/temp",
        "class/hwmon/hwmon*/*_input",
        "devices/system/cpu/cpufreq/policy*/*_freq",
    )
    return sorted(p for pattern in patterns for p in glob.glob(str(orin.sysfs / pattern)))


def per_pass(read: Callable[[str], object], files: list[str], rounds: int) -> float:
    """Median CPU microseconds of one pass reading every file."""
    times = []
    for _ in range(rounds):
        start = time.thread_time()
        for path in files:
            read(path)
        times.append(time.thread_time() - start)
    return statistics.median(times) * 1e6


def measure(files: list[str], rounds: int) -> dict[str, float]:
    kept = KeptFiles()

    def once(path: str) -> object:
        return read_bytes(path, ReadLog(), keep=False)

    def through_kept(path: str) -> object:
        return kept.read(path)

    for path in files:  # opened and kept before the timing
        through_kept(path)
    figures = {
        "open_read_close_us": per_pass(once, files, rounds),
        "kept_pread_us": per_pass(through_kept, files, rounds),
    }
    kept.close()
    figures["files"] = len(files)
    figures["ratio"] = figures["kept_pread_us"] / figures["open_read_close_us"]
    return figures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=60, help="real attributes to read (default 60)")
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    results: dict[str, dict[str, float]] = {}
    real = real_files(args.files)
    with tempfile.TemporaryDirectory() as d:
        sets = {"this machine's sysfs": real, "Orin fixture tree (on disk)": fixture_files(Path(d))}
        head = f"{'files':30} {'n':>4} {'open+read+close':>16} {'kept pread':>11} {'ratio':>6}"
        print(f"{head}   (µs per pass, per file)")
        for name, files in sets.items():
            if not files:
                print(f"{name:30} none readable here")
                continue
            got = results[name] = measure(files, args.rounds)
            n = got["files"]
            print(
                f"{name:30} {n:4.0f} {got['open_read_close_us']:8.1f} ({got['open_read_close_us'] / n:5.2f})"
                f" {got['kept_pread_us']:6.1f} ({got['kept_pread_us'] / n:4.2f}) {got['ratio']:6.2f}"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
