"""Reader for cpufreq: current, hardware-limit and policy-limit frequency per CPU.

Modern kernels keep one ``devices/system/cpu/cpufreq/policyN/`` per frequency domain and link
``cpuM/cpufreq`` to it; a policy shared by several CPUs (all four cores of a Pi 5 share
policy0) is read once and reported for every CPU in its ``affected_cpus``. Older layouts have
real ``cpuN/cpufreq/`` directories and no policy directory: those are read per CPU. kHz -> Hz.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from edgemeter.exporter.sensors.sysfs import ReadLog, list_dir, read_number, read_text

_KHZ = 1000.0


@dataclass(frozen=True)
class CpuFrequency:
    cpu: str
    current_hertz: float | None  # scaling_cur_freq: what the governor last set/the driver reports
    max_hertz: float | None = None  # cpuinfo_max_freq: hardware limit
    min_hertz: float | None = None  # cpuinfo_min_freq
    scaling_max_hertz: float | None = None  # scaling_max_freq: policy cap (user or thermal)
    scaling_min_hertz: float | None = None
    governor: str | None = None  # scaling_governor


def parse_cpu_list(text: str) -> list[str]:
    """Kernel cpu lists: "0 1 2 3" (related_cpus) or "0-3,6" (online)."""
    cpus: list[str] = []
    for part in text.replace(",", " ").split():
        first, sep, last = part.partition("-")
        if sep and first.isdigit() and last.isdigit():
            cpus.extend(str(i) for i in range(int(first), int(last) + 1))
        elif part.isdigit():
            cpus.append(part)
    return cpus


def _read_domain(path: str, rlog: ReadLog) -> dict[str, float | str | None]:
    """A policy's (or an old per-CPU directory's) attributes. Each is read straight away, and one
    the driver lacks is absent, not an error: cheaper than listing the directory first."""

    def get(attr: str) -> float | None:
        return read_number(f"{path}/{attr}", rlog, _KHZ, required=False)

    errors = len(rlog.errors)
    current = get("scaling_cur_freq")
    if current is None and len(rlog.errors) == errors:  # absent, not garbage: the driver's own
        current = get("cpuinfo_cur_freq")
    return {
        "current_hertz": current,
        "max_hertz": get("cpuinfo_max_freq"),
        "min_hertz": get("cpuinfo_min_freq"),
        "scaling_max_hertz": get("scaling_max_freq"),
        "scaling_min_hertz": get("scaling_min_freq"),
        "governor": read_text(f"{path}/scaling_governor", rlog),
    }


def read_cpu_frequencies(sysfs: str, rlog: ReadLog) -> list[CpuFrequency] | None:
    """One entry per CPU that has cpufreq; None when no CPU has it (VMs, cpufreq disabled)."""
    cpu_root = os.path.join(sysfs, "devices", "system", "cpu")
    result: dict[str, CpuFrequency] = {}
    policy_root = os.path.join(cpu_root, "cpufreq")
    for policy in list_dir(policy_root) or ():
        if not policy.startswith("policy"):
            continue
        path = os.path.join(policy_root, policy)
        cpus_text = read_text(os.path.join(path, "affected_cpus"), rlog) or read_text(
            os.path.join(path, "related_cpus"), rlog
        )
        cpus = parse_cpu_list(cpus_text) if cpus_text else [policy[len("policy") :]]
        values = _read_domain(path, rlog)
        for cpu in cpus:
            result[cpu] = CpuFrequency(cpu=cpu, **values)
    # CPUs without a policy: the old per-CPU layout, where the kernel has no policy directories
    # at all (with them, every CPU with cpufreq is in a policy: no need to list every cpuN)
    for entry in () if result else list_dir(cpu_root) or ():
        cpu = entry[3:]
        if not entry.startswith("cpu") or not cpu.isdigit() or cpu in result:
            continue
        path = os.path.join(cpu_root, entry, "cpufreq")
        if os.path.isdir(path):
            result[cpu] = CpuFrequency(cpu=cpu, **_read_domain(path, rlog))
    if not result:
        return None
    return sorted(result.values(), key=lambda f: int(f.cpu))


def read_scaling_limits(sysfs: str, rlog: ReadLog) -> list[tuple[float | None, float | None]]:
    """(scaling_min, scaling_max) in Hz per frequency domain: per policy, or per CPU on kernels
    without policies. What jetson_clocks pins, read without the other attributes: the jetson
    collector checks it at every scrape, beside the cpufreq collector's full read."""
    root = os.path.join(sysfs, "devices", "system", "cpu", "cpufreq")
    policies = [p for p in list_dir(root) or () if p.startswith("policy")]
    if not policies:
        return [(f.scaling_min_hertz, f.scaling_max_hertz) for f in read_cpu_frequencies(sysfs, rlog) or []]
    return [
        (
            read_number(f"{root}/{p}/scaling_min_freq", rlog, _KHZ, required=False),
            read_number(f"{root}/{p}/scaling_max_freq", rlog, _KHZ, required=False),
        )
        for p in policies
    ]
