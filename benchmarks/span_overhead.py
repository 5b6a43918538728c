#!/usr/bin/env python3
"""What ``edgemeter.span()`` costs a frame loop: the two exporter reads, and everything else.

The real exporter runs on the Jetson Orin fixture tree; N empty spans are measured back to
back. Each span's time outside its (empty) block is split into the exporter reads (timed where
the span makes them) and the span's own work (the rest: timestamps, the energy arithmetic,
the record). Target (issue 16): the span's own work under 1 ms.

usage: .venv/bin/python benchmarks/span_overhead.py [--spans 300] [--results]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import edgemeter.measure as measure  # noqa: E402

from boardtrees import BOARDS  # noqa: E402 - the fixture trees the tests use
from helpers import exporter_on  # noqa: E402

TARGET_MS = 1.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spans", type=int, default=300)
    ap.add_argument("--results", action="store_true", help="also append each span to a JSONL file")
    args = ap.parse_args()
    reads: list[float] = []
    real_edge = measure.edge

    def timed_edge(client):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        try:
            return real_edge(client)
        finally:
            reads.append(time.perf_counter() - t0)

    measure.edge = timed_edge  # type: ignore[assignment]
    totals, own, read_times = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        orin = BOARDS["jetson_orin"](Path(tmp) / "orin")
        results = Path(tmp) / "results" if args.results else None
        with exporter_on(orin) as url:
            for _ in range(20):  # warm: the first read learns the collectors
                with measure.span("warm", exporter_url=url):
                    pass
            for _ in range(args.spans):
                reads.clear()
                t0 = time.perf_counter()
                with measure.span("frame", exporter_url=url, results=results) as s:
                    pass
                total = time.perf_counter() - t0
                assert s.energy_joules is not None, s.note
                totals.append(total)
                read_times.append(sum(reads))
                own.append(max(total - sum(reads) - (s.duration_seconds or 0.0), 0.0))
    read_ms = statistics.median(read_times) * 1000
    med_own = statistics.median(own) * 1000
    results_file = "on" if args.results else "off"
    print(f"edgemeter.span() over {args.spans} empty spans, Orin tree, results file {results_file}")
    print(f"{'per span':28}{'median ms':>12}{'p90 ms':>10}")
    p90 = sorted(totals)[int(0.9 * len(totals))] * 1000
    print(f"{'total':28}{statistics.median(totals) * 1000:>12.3f}{p90:>10.3f}")
    print(f"{'the two exporter reads':28}{read_ms:>12.3f}")
    print(f"{'the span itself':28}{med_own:>12.3f}{sorted(own)[int(0.9 * len(own))] * 1000:>10.3f}")
    print(f"target: the span itself under {TARGET_MS:g} ms -> {'met' if med_own < TARGET_MS else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
