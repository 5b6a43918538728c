"""Per-process CPU time and resident memory for processes matched by name patterns.

Read straight from ``<procfs>/<pid>/`` rather than through psutil, because psutil's procfs root
is a module-global setting while ours is a per-exporter root (tests run several at once).
RSS comes from ``status`` (VmRSS, kB) so it does not depend on the page size, which differs
between boards (the Pi 5 kernel uses 16 KiB pages).

A pattern is a regular expression matched at the *start* of the process name (``comm``) or of
its executable's base name (``argv[0]``): ``llama`` matches llama-server and llama-cli but not
ollama, and a runner whose command line merely mentions a model is not the server.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from edgemeter.exporter.sensors.procfs import USER_HZ
from edgemeter.exporter.sensors.sysfs import ReadLog, parse_number, read_bytes, read_text


@dataclass(frozen=True)
class ProcessSample:
    pid: str
    start_ticks: int  # /proc/<pid>/stat starttime: with pid, identifies the process across pid reuse
    patterns: tuple[str, ...]  # the --process patterns it matches
    cpu_seconds: float  # utime + stime
    resident_bytes: float


def own_pid(procfs: str) -> str:
    """The exporter's pid as the procfs root sees it (``self``), so a container reading the host's
    /proc still recognises its own command line, which holds every pattern."""
    try:
        return os.readlink(os.path.join(procfs, "self"))
    except OSError:
        return str(os.getpid())


def _names(procfs: str, pid: str, rlog: ReadLog) -> list[str]:
    names = []
    if (comm := read_text(os.path.join(procfs, pid, "comm"), rlog, keep=False)) is not None:
        names.append(comm)
    raw = read_bytes(os.path.join(procfs, pid, "cmdline"), rlog, keep=False)
    if raw:
        argv0 = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
        names.append(os.path.basename(argv0.split(" ", 1)[0]))
    return names


def patterns_of(procfs: str, pid: str, patterns: tuple[str, ...], rlog: ReadLog) -> list[str]:
    """The patterns a pid matches (none for the exporter itself)."""
    if not patterns or pid == own_pid(procfs):
        return []
    names = _names(procfs, pid, rlog)
    return [p for p in patterns if any(re.match(p, n) for n in names)]


def _stat(procfs: str, pid: str, rlog: ReadLog) -> tuple[float, int] | None:
    path = os.path.join(procfs, pid, "stat")
    text = read_text(path, rlog, keep=False)  # pids come and go: never kept open
    if text is None:
        return None  # exited between listing and reading
    # comm may contain spaces and ")", so fields are counted from the last ")".
    fields = text[text.rfind(")") + 2 :].split()
    values = [parse_number(f) for f in fields[11:13]] + [
        parse_number(fields[19]) if len(fields) > 19 else None
    ]
    if None in values:
        rlog.error(path, "bad utime/stime/starttime")
        return None
    utime, stime, start = values
    return (utime + stime) / USER_HZ, int(start)  # type: ignore[operator,arg-type]


def _resident_bytes(procfs: str, pid: str, rlog: ReadLog) -> float:
    text = read_text(os.path.join(procfs, pid, "status"), rlog, whole=True) or ""
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            value = parse_number(line.split()[1])
            return value * 1024 if value is not None else 0.0
    return 0.0  # kernel threads and zombies have no VmRSS: they hold no user memory


def match_processes(procfs: str, patterns: tuple[str, ...], rlog: ReadLog) -> list[ProcessSample]:
    """Every process matching at least one pattern, each read once."""
    me = own_pid(procfs)
    found = []
    for pid in os.listdir(procfs):
        if not pid.isdigit() or pid == me:
            continue
        names = _names(procfs, pid, rlog)
        hits = tuple(p for p in patterns if any(re.match(p, n) for n in names))
        if not hits or (stat := _stat(procfs, pid, rlog)) is None:
            continue
        found.append(ProcessSample(pid, stat[1], hits, stat[0], _resident_bytes(procfs, pid, rlog)))
    return found
