"""``exporter``: parse flags, pick collectors for this board, serve /metrics.

User mistakes (a missing root, a bad --listen, a busy port, an unknown collector, a bad
--web-config) end with one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import gc
import logging
import math
import os
import re
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from edgemeter.exporter import __version__
from edgemeter.exporter.boards.detect import Board, detect
from edgemeter.exporter.collectors import COLLECTORS
from edgemeter.exporter.collectors.base import PolledCollector
from edgemeter.exporter.collectors.power_base import PowerCollector
from edgemeter.exporter.config import Config
from edgemeter.exporter.history import DEFAULT_HISTORY_SECONDS, MAX_HISTORY_SECONDS, answer, memory_bytes
from edgemeter.exporter.integrator import Integrator
from edgemeter.exporter.poller import Poller
from edgemeter.exporter.registry import Scrapes
from edgemeter.exporter.self_metrics import SelfProcessCollector
from edgemeter.exporter.sensors import vcgencmd
from edgemeter.exporter.sensors.sysfs import DEFAULT_PROCFS, DEFAULT_SYSFS
from edgemeter.exporter.server import ExporterServer, landing_page
from edgemeter.exporter.webconfig import WebConfigError, load_web_config

# Outside Prometheus' allocated exporter range (9100-9999) and below Linux's ephemeral ports.
DEFAULT_PORT = 19477
HWMON_FILTERS = {  # node_exporter's: unanchored regular expressions
    "chip_include": "hwmon: keep only the chips whose driver name matches (e.g. coretemp)",
    "chip_exclude": "hwmon: drop the chips whose driver name matches (e.g. nct6775)",
    "sensor_include": 'hwmon: keep only the sensors whose "chip;channel" matches (e.g. "coretemp;temp1")',
    "sensor_exclude": 'hwmon: drop the sensors whose "chip;channel" matches',
}
DEFAULT_SAMPLE_HZ = 10.0
MAX_SAMPLE_HZ = 1000.0  # beyond this the sampler would only burn the CPU it is meant to measure
EXIT_USAGE = 2

log = logging.getLogger("edgemeter.exporter")


class UsageError(Exception):
    """A user mistake: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="exporter", description="edgemeter's Prometheus exporter for edge boards.")
    p.add_argument(
        "--listen",
        default=f"0.0.0.0:{DEFAULT_PORT}",
        metavar="HOST:PORT",
        help=f"address to serve /metrics on (default 0.0.0.0:{DEFAULT_PORT}; [::1]:PORT for IPv6)",
    )
    p.add_argument("--sysfs", default=DEFAULT_SYSFS, metavar="DIR", help="sysfs root (default /sys)")
    p.add_argument("--procfs", default=DEFAULT_PROCFS, metavar="DIR", help="procfs root (default /proc)")
    p.add_argument(
        "--rootfs",
        default="/",
        metavar="DIR",
        help="root of /etc and /var, for Jetson's nvpmodel and nvfancontrol state (default /)",
    )
    p.add_argument(
        "--vcgencmd",
        default="vcgencmd",
        metavar="PATH",
        help="Raspberry Pi vcgencmd binary (name on PATH or a path; default vcgencmd)",
    )
    p.add_argument(
        "--vcgencmd-timeout",
        type=float,
        default=0.3,
        metavar="SECONDS",
        help="kill a vcgencmd call that takes longer (default 0.3: three calls must fit a 1 s scrape)",
    )
    p.add_argument(
        "--hailortcli",
        default="hailortcli",
        metavar="PATH",
        help="HailoRT's CLI, for Hailo NPU power where its Python API is missing (default hailortcli)",
    )
    p.add_argument(
        "--sample-hz",
        type=float,
        default=DEFAULT_SAMPLE_HZ,
        metavar="N",
        help=f"rate the power sampler reads instantaneous-power sensors at (default {DEFAULT_SAMPLE_HZ:g})",
    )
    p.add_argument(
        "--history-seconds",
        type=float,
        default=DEFAULT_HISTORY_SECONDS,
        metavar="S",
        help=f"power samples kept per rail and served at /samples (default {DEFAULT_HISTORY_SECONDS:g}: "
        f"{memory_bytes(DEFAULT_HISTORY_SECONDS, 200, 1) / 1e6:.1f} MB a rail at 200 Hz, 16 bytes a sample)",
    )
    p.add_argument(
        "--python-sampler",
        action="store_true",
        help="read the INA3221 rails and hwmon power inputs from Python even where the C sampler is "
        "built (to compare: at 100 Hz the C one costs a quarter as much CPU)",
    )
    p.add_argument(
        "--process",
        action="append",
        default=[],
        metavar="PATTERN",
        help="regular expression matched at the start of a process's name (comm) or of its executable's "
        "base name (argv[0]), never the rest of its command line: 'llama' matches llama-server, not "
        "ollama; repeatable",
    )
    p.add_argument("--web-config", metavar="FILE", help="exporter-toolkit web config (TLS, basic auth)")
    for name, text in HWMON_FILTERS.items():
        p.add_argument(
            f"--collector.hwmon.{name.replace('_', '-')}", dest=f"hwmon_{name}", metavar="REGEX", help=text
        )
    p.add_argument(
        "--collector.disable-defaults",
        dest="disable_defaults",
        action="store_true",
        help="start with every collector off; enable with --collector.NAME",
    )
    for name, cls in COLLECTORS.items():
        p.add_argument(
            f"--collector.{name}",
            dest=f"collector_{name}",
            action=argparse.BooleanOptionalAction,
            default=None,
            help=cls.help,
        )
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--version", action="version", version=f"exporter (edgemeter) {__version__}")
    return p


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` (all interfaces) or ``[V6ADDR]:PORT``."""
    m = re.fullmatch(r"(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]*)):(\d{1,5})", text)
    if not m or not 0 < int(m.group(3)) < 65536:
        raise UsageError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:{DEFAULT_PORT}")
    host = m.group(1) or m.group(2) or "0.0.0.0"
    return host, int(m.group(3))


def _unknown_collector_check(argv: Sequence[str]) -> None:
    for arg in argv:
        m = re.match(r"--(?:no-)?collector\.([^=\s]+)", arg)
        name = m.group(1) if m else ""
        if m and name != "disable-defaults" and name not in COLLECTORS and not name.startswith("hwmon."):
            known = ", ".join(COLLECTORS)
            raise UsageError(f"unknown collector {m.group(1)!r} in {arg} (known: {known})")


def enabled_collectors(args: argparse.Namespace, board: Board) -> list[str]:
    """Class default, then the board profile, then --process, then the user's flags (flags win)."""
    names = []
    for name, cls in COLLECTORS.items():
        on = False if args.disable_defaults else board.default_collectors.get(name, cls.default_enabled)
        if name == "process" and args.process and not args.disable_defaults:
            on = True
        flag = getattr(args, f"collector_{name}")
        if flag is not None:
            on = flag
        if on:
            names.append(name)
    return names


def make_config(args: argparse.Namespace) -> Config:
    for flag, path in (("--sysfs", args.sysfs), ("--procfs", args.procfs), ("--rootfs", args.rootfs)):
        if not os.path.isdir(path):
            raise UsageError(f"{flag} {path}: no such directory")
    if not 0 < args.vcgencmd_timeout < math.inf:
        raise UsageError(
            f"--vcgencmd-timeout {args.vcgencmd_timeout:g}: must be a positive number of seconds"
        )
    for flag, pattern in [("--process", p) for p in args.process] + [
        (f"--collector.hwmon.{name.replace('_', '-')}", getattr(args, f"hwmon_{name}"))
        for name in HWMON_FILTERS
        if getattr(args, f"hwmon_{name}") is not None
    ]:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise UsageError(f"{flag} {pattern!r}: not a regular expression ({exc})") from exc
    return Config(
        sysfs=args.sysfs,
        procfs=args.procfs,
        rootfs=args.rootfs,
        vcgencmd=vcgencmd.resolve(args.vcgencmd),
        vcgencmd_timeout=args.vcgencmd_timeout,
        hailortcli=args.hailortcli,
        processes=tuple(args.process),
        **{f"hwmon_{name}": getattr(args, f"hwmon_{name}") for name in HWMON_FILTERS},
    )


@dataclass(frozen=True)
class Assembly:
    """What a scrape renders and the background work feeding it (not started: the caller starts
    and stops it; until then collectors read in line)."""

    scrapes: Scrapes
    integrator: Integrator
    poller: Poller

    @property
    def registry(self) -> CollectorRegistry:
        return self.scrapes.registry

    def start(self) -> None:
        self.integrator.start()  # it logs each rail as it first reads it
        self.poller.start()

    def stop(self) -> None:
        self.poller.stop()
        self.integrator.stop()


def assemble(
    config: Config,
    names: Sequence[str],
    sample_hz: float = DEFAULT_SAMPLE_HZ,
    history_seconds: float = DEFAULT_HISTORY_SECONDS,
    native: bool = True,
) -> Assembly:
    """The registry a scrape renders: our collectors, the power sampler feeding the power
    collectors, and the exporter's own CPU and memory (``edge_exporter_process_*``) so users
    can see what the monitor itself costs the board."""
    collectors = [COLLECTORS[n](config) for n in names]
    # Every power collector is sampled; one with nothing to integrate (no sensor yet, a driver that
    # binds late) is retried every 30 s instead of at --sample-hz, so it costs nothing meanwhile.
    sampled = [c for c in collectors if isinstance(c, PowerCollector)]
    integrator = Integrator(sampled, sample_hz, history_seconds=history_seconds, native=native)
    for c in sampled:
        c.integrator = integrator
    polled = [c for c in collectors if isinstance(c, PolledCollector)]
    poller = Poller(polled, max((c.poll_timeout for c in polled), default=config.vcgencmd_timeout))
    for c in polled:
        c.poller = poller
    scrapes = Scrapes(collectors)
    scrapes.registry.register(SelfProcessCollector())
    return Assembly(scrapes, integrator, poller)


def build(args: argparse.Namespace) -> tuple[ExporterServer, Board, list[str], Assembly]:
    """Everything up to a bound socket; raises UsageError for the user's mistakes."""
    config = make_config(args)
    if not 0 < args.sample_hz <= MAX_SAMPLE_HZ:
        raise UsageError(
            f"--sample-hz {args.sample_hz:g}: must be a rate above 0 and at most {MAX_SAMPLE_HZ:g} Hz"
        )
    if not 0 < args.history_seconds <= MAX_HISTORY_SECONDS:
        raise UsageError(
            f"--history-seconds {args.history_seconds:g}: must be above 0 and at most {MAX_HISTORY_SECONDS:g}"
        )
    board = detect(config.sysfs, config.procfs)
    names = enabled_collectors(args, board)
    parts = assemble(config, names, args.sample_hz, args.history_seconds, not args.python_sampler)
    integrator = parts.integrator
    try:
        web = load_web_config(args.web_config)
    except WebConfigError as exc:
        raise UsageError(str(exc)) from exc
    host, port = parse_listen(args.listen)
    try:
        server = ExporterServer(
            (host, port),
            parts.scrapes,
            web,
            landing_page(board.model or board.family, names),
            samples=lambda query: answer(query, integrator.history, integrator.history_seconds),
        )
    except OSError as exc:
        why = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise UsageError(f"--listen {args.listen}: {why}") from exc
    return server, board, names, parts


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["capture"]:
        from edgemeter.exporter import capture

        return capture.main(argv[1:])
    try:
        _unknown_collector_check(argv)
        args = build_parser().parse_args(argv)
        logging.basicConfig(
            level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        server, board, names, parts = build(args)
    except UsageError as exc:
        print(f"exporter: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # Everything built so far lives as long as the process: keep it out of the cyclic GC's
    # scans, so a collection that happens during a scrape stays short (it shows in the p99).
    gc.collect()
    gc.freeze()
    scheme = "https" if server.web.tls else "http"
    host, port = server.server_address[:2]
    log.info("board %s (%s); collectors: %s", board.model or "unknown", board.family, ", ".join(names))
    log.info("serving %s://%s:%d/metrics", scheme, host, port)

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    parts.start()
    server.serve_forever()
    parts.stop()
    server.server_close()
    return 0
