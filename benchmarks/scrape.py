#!/usr/bin/env python3
"""Scrape cost of our exporter beside Debian's node_exporter on the same sysfs/procfs tree.

Both serve the same real-machine tree (node_exporter's own fixtures, in ../shared: 12 hwmon
chips, thermal zones, cpufreq, /proc); node_exporter runs the collectors cpu, cpufreq, hwmon,
thermal_zone, meminfo, stat and loadavg, ours its defaults (a superset: board_info,
cooling_device and pressure too). They are scraped alternately the way Prometheus does it: one
kept-alive connection each, Prometheus' Accept and Accept-Encoding: gzip headers, whole body
read. Prints both medians, p99s, the ratio, RSS and CPU seconds per 1,000 scrapes (children
included: vcgencmd).

``--board pi5`` serves the Raspberry Pi 5 fixture tree instead (tests/boardtrees.py) with its
``vcgencmd`` stand-in, a shell script forked like the real tool. There both read the same
sensors: node_exporter adds its pressure collector, and ours runs the collectors that read what
node_exporter's read (cpu, cpufreq, hwmon, thermal_zone with cooling_device, which
node_exporter's thermal_zone collector also serves, meminfo, loadavg, pressure). Issue 14's
target (half node_exporter's median) is for this. ``--pi-profile`` runs our whole Pi profile
instead. Its five more collectors have no node_exporter counterpart: board_info, throttled,
firmware_clock, pmic (from the sampler's cache) and hailo. That figure is what a Pi user's
scrape costs, printed without a target.

``--python PATH`` runs our exporter under another CPython of the same version, with this
checkout's installed packages: Debian's ``/usr/bin/python3``, the interpreter Raspberry Pi OS
ships (built with profile-guided optimisation, unlike a plain source build such as pyenv's),
is what a Pi runs us on. The interpreter is printed with the figures.

usage: .venv/bin/python benchmarks/scrape.py [--scrapes N] [--board node-fixture|pi5] [--pi-profile]
                                               [--exporter-flag F] [--python PATH] [--json FILE]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import site
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
NODE_COLLECTORS = ["cpu", "cpufreq", "hwmon", "thermal_zone", "meminfo", "stat", "loadavg"]
# the Pi tree, both reading the same sensors: node_exporter with its pressure collector (we serve
# PSI too), ours with the collectors that read what those read (its thermal_zone collector serves
# cooling devices as well)
PI_NODE_COLLECTORS = [*NODE_COLLECTORS, "pressure"]
PI_SAME_SENSORS = [
    "cpu",
    "cpufreq",
    "hwmon",
    "thermal_zone",
    "cooling_device",
    "meminfo",
    "loadavg",
    "pressure",
]
TARGETS = {"p99_ms": 5.0, "rss_mb": 40.0}
# median ours/node: the Pi's is issue 14's (half of node_exporter's, as a Pi's scrape must be cheap);
# the whole Pi profile (--pi-profile) reads more than node_exporter can, so it has none
RATIO_TARGETS: dict[str, float | None] = {"node-fixture": 1.0, "pi5": 0.5, "pi5 profile": None}
# our exporter under another interpreter: this checkout's site-packages, then the console script
LAUNCH = (
    "import site, sys; site.addsitedir(sys.argv.pop(1)); "
    "from edgemeter.exporter.cli import main; sys.exit(main())"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(port: int, proc: subprocess.Popen) -> None:
    for _ in range(200):
        if proc.poll() is not None:
            sys.exit(f"benchmark: {proc.args[0]} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"benchmark: nothing listening on {port}")


def proc_stats(pid: int) -> tuple[float, float, float]:
    """(CPU seconds, RSS MB, peak RSS MB) of a process, its reaped children's CPU included."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rfind(")") + 2 :].split()
    cpu = sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return cpu, int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


class Target:
    def __init__(self, name: str, cmd: list[str], port: int) -> None:
        self.name, self.port = name, port
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait(port, self.proc)
        except BaseException:
            self.proc.kill()
            self.proc.wait()
            raise
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.times: list[float] = []
        self.bytes = 0

    def scrape(self, record: bool = True) -> None:
        start = time.perf_counter()
        self.conn.request("GET", "/metrics", headers={"Accept": ACCEPT, "Accept-Encoding": "gzip"})
        resp = self.conn.getresponse()
        body = resp.read()
        elapsed = time.perf_counter() - start
        if resp.status != 200:
            sys.exit(f"benchmark: {self.name} answered {resp.status}")
        if record:
            self.times.append(elapsed)
            self.bytes = len(body)

    def stop(self) -> None:
        self.conn.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)


def tree(board: str, tmp: Path, profile: bool = False) -> tuple[str, str, list[str], list[str]]:
    """(sysfs, procfs, extra flags for ours, node_exporter's collectors) for the chosen tree, built
    under ``tmp``; ``profile``: ours runs the whole Pi profile, not the same sensors."""
    if board == "pi5":
        sys.path.insert(0, str(REPO / "tests"))
        from boardtrees import BOARDS

        pi = BOARDS["pi5"](tmp / "pi5")
        ours = ["--vcgencmd", str(pi.vcgencmd)]
        if not profile:
            ours += ["--collector.disable-defaults", *(f"--collector.{c}" for c in PI_SAME_SENSORS)]
        return str(pi.sysfs), str(pi.procfs), ours, PI_NODE_COLLECTORS
    archive = SHARED / "fixtures/node_exporter/sys.ttar"
    if not archive.is_file():
        raise SystemExit(
            f"scrape.py: node_exporter's real-machine tree is not beside this checkout ({archive}); "
            "--board pi5 benchmarks on the project's own Pi 5 tree"
        )
    subprocess.run(
        [sys.executable, str(SHARED / "tools/ttar_extract.py"), str(archive), str(tmp)], check=True
    )
    return str(tmp / "sys"), str(SHARED / "fixtures/node_exporter/proc"), [], NODE_COLLECTORS


def exporter_command(python: str | None) -> list[str]:
    """How to start our exporter: the console script, or ``python`` with this checkout's packages."""
    if python is None:
        return [str(Path(sys.executable).parent / "exporter")]
    try:
        version = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError) as exc:
        sys.exit(f"scrape.py: --python {python}: cannot run it ({exc})")
    if tuple(map(int, version)) != sys.version_info[:2]:
        sys.exit(
            f"scrape.py: --python {python} is Python {'.'.join(version)}; the packages installed here "
            f"are for {sys.version_info[0]}.{sys.version_info[1]}"
        )
    return [python, "-c", LAUNCH, site.getsitepackages()[0]]


def interpreter(command: list[str]) -> str:
    """The interpreter our exporter runs under, as printed with the figures."""
    python = command[0] if len(command) > 1 else sys.executable
    built = subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{python} (Python {built})"


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scrapes", type=int, default=500, help="scrapes of each exporter (default 500)")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument(
        "--board",
        choices=("node-fixture", "pi5"),
        default="node-fixture",
        help="the tree: node_exporter's real-machine fixtures (default) or the Pi 5 fixture with vcgencmd",
    )
    ap.add_argument(
        "--exporter-flag",
        action="append",
        default=[],
        metavar="FLAG",
        help="one more flag for our exporter (repeatable), e.g. --exporter-flag=--no-collector.throttled",
    )
    ap.add_argument(
        "--python",
        metavar="PATH",
        help="run our exporter under this CPython (same version): /usr/bin/python3 is Debian's, as on a Pi",
    )
    ap.add_argument(
        "--pi-profile",
        action="store_true",
        help="with --board pi5: ours runs its whole Pi profile (five collectors node_exporter lacks too)",
    )
    args = ap.parse_args()
    if args.pi_profile and args.board != "pi5":
        ap.error("--pi-profile: only with --board pi5")
    ours_cmd = exporter_command(args.python)
    case = "pi5 profile" if args.pi_profile else args.board
    node_bin = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if node_bin is None:
        sys.exit("benchmark: install Debian's prometheus-node-exporter (scripts/test.sh does)")
    with tempfile.TemporaryDirectory() as tmp:
        sysfs, procfs, board_args, node_collectors = tree(args.board, Path(tmp), args.pi_profile)
        node_port, our_port = free_port(), free_port()
        node = Target(
            "node_exporter",
            [
                node_bin,
                f"--web.listen-address=127.0.0.1:{node_port}",
                f"--path.sysfs={sysfs}",
                f"--path.procfs={procfs}",
                "--collector.disable-defaults",
                *(f"--collector.{c}" for c in node_collectors),
            ],
            node_port,
        )
        try:
            ours = Target(
                "edgemeter",
                [
                    *ours_cmd,
                    "--listen",
                    f"127.0.0.1:{our_port}",
                    "--sysfs",
                    sysfs,
                    "--procfs",
                    procfs,
                    "--log-level",
                    "error",
                    *board_args,
                    *args.exporter_flag,
                ],
                our_port,
            )
        except BaseException:
            node.stop()  # never leave node_exporter behind when ours fails to start
            raise
        try:
            for _ in range(30):  # warm caches and connections
                node.scrape(record=False)
                ours.scrape(record=False)
            cpu0 = {t.name: proc_stats(t.proc.pid)[0] for t in (node, ours)}
            for _ in range(args.scrapes):
                node.scrape()
                ours.scrape()
            stats = {t.name: proc_stats(t.proc.pid) for t in (node, ours)}
        finally:
            node.stop()
            ours.stop()
    fig = {}
    for t in (node, ours):
        cpu, rss, peak = stats[t.name]
        fig[t.name] = {
            "median_ms": statistics.median(t.times) * 1e3,
            "p99_ms": quantile(t.times, 0.99) * 1e3,
            "rss_mb": rss,
            "peak_rss_mb": peak,
            "cpu_s_per_1000": (cpu - cpu0[t.name]) / args.scrapes * 1000,
            "body_bytes_gzip": t.bytes,
        }
    ratio = fig["edgemeter"]["median_ms"] / fig["node_exporter"]["median_ms"]
    ratio_target = RATIO_TARGETS[case]
    print(f"{args.scrapes} scrapes each, alternating, keep-alive, gzip, same tree ({case})")
    print(f"edgemeter under {interpreter(ours_cmd)}")
    print(f"{'':24}{'node_exporter':>15}{'edgemeter':>12}   target")
    rows = [
        ("median (ms)", "median_ms", ""),
        ("p99 (ms)", "p99_ms", f"ours < {TARGETS['p99_ms']:g}"),
        ("RSS (MB)", "rss_mb", f"ours < {TARGETS['rss_mb']:g}"),
        ("peak RSS (MB)", "peak_rss_mb", ""),
        ("CPU s / 1000 scrapes", "cpu_s_per_1000", ""),
        ("body, gzip (bytes)", "body_bytes_gzip", ""),
    ]
    for label, key, target in rows:
        print(f"{label:24}{fig['node_exporter'][key]:>15.2f}{fig['edgemeter'][key]:>12.2f}   {target}")
    wanted = "none: ours reads more" if ratio_target is None else f"<= {ratio_target:g}"
    print(f"{'median ratio ours/node':24}{ratio:>27.2f}   {wanted}")
    met = (
        (ratio_target is None or ratio <= ratio_target)
        and fig["edgemeter"]["p99_ms"] < TARGETS["p99_ms"]
        and fig["edgemeter"]["rss_mb"] < TARGETS["rss_mb"]
    )
    print("targets met" if met else "TARGETS MISSED")
    if args.json:
        Path(args.json).write_text(
            json.dumps({**fig, "ratio": ratio, "ratio_target": ratio_target, "targets_met": met}, indent=2)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
