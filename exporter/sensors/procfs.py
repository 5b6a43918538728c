"""Readers for /proc tables: CPU times, memory, load average, pressure stall information.

Values leave this module in base units: /proc/stat ticks become seconds (USER_HZ), meminfo kB
become bytes, PSI microseconds become seconds.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection
from dataclasses import dataclass

from edgemeter.exporter.sensors.sysfs import ReadLog, parse_number, read_text

# USER_HZ is a fixed kernel ABI constant (100 on every architecture Linux exports it for); the
# procfs root may be a fixture tree, so the local sysconf only confirms it.
USER_HZ = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0

CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice")


@dataclass(frozen=True)
class CpuTimes:
    """Seconds one CPU spent in each mode (``guest``/``guest_nice`` are also inside user/nice)."""

    cpu: str
    seconds: dict[str, float]


@dataclass(frozen=True)
class LoadAverage:
    load1: float
    load5: float
    load15: float


@dataclass(frozen=True)
class Pressure:
    """Cumulative stall seconds of one resource; ``full`` is None where the kernel has no line."""

    resource: str
    some_seconds: float
    full_seconds: float | None


def read_cpu_times(procfs: str, rlog: ReadLog) -> list[CpuTimes] | None:
    """Per-CPU lines of /proc/stat (the aggregate ``cpu`` line is skipped: never a total row)."""
    text = read_text(os.path.join(procfs, "stat"), rlog, whole=True)
    if text is None:
        return None
    result = []
    for line in text.splitlines():
        if not line.startswith("cpu") or line.startswith("cpu "):
            continue
        name, *fields = line.split()
        try:
            values = [float(f) for f in fields[: len(CPU_MODES)]]
        except ValueError:
            values = []
        if len(values) < 4 or not math.isfinite(sum(values)):  # one inf or nan makes the sum one
            rlog.error(os.path.join(procfs, "stat"), f"bad line {name}")
            continue
        seconds = {mode: v / USER_HZ for mode, v in zip(CPU_MODES, values, strict=False)}
        result.append(CpuTimes(cpu=name[3:], seconds=seconds))
    if not result:
        rlog.error(os.path.join(procfs, "stat"), "no per-cpu lines")
    return result


def read_meminfo(
    procfs: str, rlog: ReadLog, fields: Collection[str] | None = None
) -> dict[str, float] | None:
    """/proc/meminfo as {field: bytes}; fields without a ``kB`` unit (HugePages_*) are counts.
    With ``fields``, only those lines are parsed (a scrape serves eight of the fifty-odd lines);
    a line that is not ``Key: value`` at all is an error either way."""
    path = os.path.join(procfs, "meminfo")
    text = read_text(path, rlog, whole=True)
    if text is None:
        return None
    result: dict[str, float] = {}
    for line in text.splitlines():
        key, colon, rest = line.partition(":")
        key = key.strip()
        if colon and fields is not None and key not in fields:
            continue
        parts = rest.split()
        value = parse_number(parts[0]) if parts else None
        if value is None:
            rlog.error(path, f"bad line {key[:40]!r}")
            continue
        result[key] = value * 1024 if len(parts) > 1 and parts[1] == "kB" else value
    return result


def read_loadavg(procfs: str, rlog: ReadLog) -> LoadAverage | None:
    text = read_text(os.path.join(procfs, "loadavg"), rlog)
    if text is None:
        return None
    values = [parse_number(f) for f in text.split()[:3]]
    if len(values) != 3 or any(v is None for v in values):
        rlog.error(os.path.join(procfs, "loadavg"), f"unparsable {text[:40]!r}")
        return None
    return LoadAverage(*values)  # type: ignore[arg-type]


def read_pressure(procfs: str, rlog: ReadLog) -> list[Pressure] | None:
    """PSI totals for cpu, memory and io; None when the kernel has no PSI (CONFIG_PSI off, < 4.20)."""
    base = os.path.join(procfs, "pressure")
    if not os.path.isdir(base):
        return None
    result = []
    for resource in ("cpu", "memory", "io"):
        text = read_text(os.path.join(base, resource), rlog)
        if text is None:
            continue
        totals: dict[str, float] = {}
        for line in text.splitlines():
            kind, _, rest = line.partition(" ")
            for item in rest.split():
                key, _, value = item.partition("=")
                number = parse_number(value) if key == "total" else None
                if number is not None:
                    totals[kind] = number / 1e6
        if "some" not in totals:
            rlog.error(os.path.join(base, resource), "no 'some total='")
            continue
        result.append(Pressure(resource, totals["some"], totals.get("full")))
    return result
