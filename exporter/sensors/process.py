"""Per-process CPU time and resident memory for processes matched by name patterns.

Read straight from ``<procfs>/<pid>/`` rather than through psutil, because psutil's procfs root
is a module-global setting while ours is a per-exporter root (tests run several at once).
RSS comes from ``status`` (VmRSS, kB) so it does not depend on the page size, which differs
between boards (the Pi 5 kernel uses 16 KiB pages).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from exporter.sensors.procfs import USER_HZ
from exporter.sensors.sysfs import ReadLog, parse_number, read_bytes, read_text


@dataclass(frozen=True)
class ProcessGroup:
    """The processes one ``--process`` pattern matched, summed (label = the pattern, never a pid)."""

    pattern: str
    instances: int
    cpu_seconds: float
    resident_bytes: float


def _matches(regex: re.Pattern[str], procfs: str, pid: str, rlog: ReadLog) -> bool:
    comm = read_text(os.path.join(procfs, pid, "comm"), rlog)
    if comm is not None and regex.search(comm):
        return True
    raw = read_bytes(os.path.join(procfs, pid, "cmdline"), rlog)
    return bool(raw) and regex.search(raw.replace(b"\0", b" ").decode("utf-8", "replace")) is not None


def _cpu_seconds(procfs: str, pid: str, rlog: ReadLog) -> float | None:
    text = read_text(os.path.join(procfs, pid, "stat"), rlog)
    if text is None:
        return None
    # comm may contain spaces and ")", so fields are counted from the last ")".
    fields = text[text.rfind(")") + 2 :].split()
    if len(fields) < 13:
        rlog.error(os.path.join(procfs, pid, "stat"), "too few fields")
        return None
    utime, stime = parse_number(fields[11]), parse_number(fields[12])
    if utime is None or stime is None:
        rlog.error(os.path.join(procfs, pid, "stat"), "bad utime/stime")
        return None
    return (utime + stime) / USER_HZ


def _resident_bytes(procfs: str, pid: str, rlog: ReadLog) -> float:
    text = read_text(os.path.join(procfs, pid, "status"), rlog, whole=True) or ""
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            value = parse_number(line.split()[1])
            return value * 1024 if value is not None else 0.0
    return 0.0  # kernel threads and zombies have no VmRSS: they hold no user memory


def patterns_of(procfs: str, pid: str, patterns: tuple[str, ...], rlog: ReadLog) -> list[str]:
    """The patterns a pid matches by name or command line (none for the exporter itself, whose
    own command line holds every pattern)."""
    if pid == str(os.getpid()):
        return []
    return [p for p in patterns if _matches(re.compile(p), procfs, pid, rlog)]


def read_process_groups(procfs: str, patterns: tuple[str, ...], rlog: ReadLog) -> list[ProcessGroup]:
    """Scan every pid once and sum CPU seconds and RSS per pattern (a pid may match several)."""
    totals = {p: [0, 0.0, 0.0] for p in patterns}
    for pid in os.listdir(procfs):
        if not pid.isdigit():
            continue
        hits = patterns_of(procfs, pid, patterns, rlog)
        if not hits:
            continue
        cpu = _cpu_seconds(procfs, pid, rlog)
        if cpu is None:  # exited between listing and reading
            continue
        rss = _resident_bytes(procfs, pid, rlog)
        for pattern in hits:
            entry = totals[pattern]
            entry[0] += 1
            entry[1] += cpu
            entry[2] += rss
    return [ProcessGroup(p, int(c), cpu, rss) for p, (c, cpu, rss) in totals.items()]
