"""Fixture trees that copy real edge boards' sysfs/procfs layouts, built under a test's tmp_path.

Each ``build_*`` function writes ``<root>/sys`` and ``<root>/proc`` from Python dicts (path -> file
content) plus real relative symlinks, the way node_exporter's hwmon test builds its tree, and
returns a :class:`BoardTree` whose paths go to ``--sysfs``/``--procfs``. Values follow the kernel's
sysfs conventions (m°C, kHz, mV, mA, µW, µJ; one value per file, ending in "\\n"); device-tree
properties are NUL-terminated with no newline, as the kernel exposes them.

Where each layout comes from:

* ``build_pi5``: Raspberry Pi 5 Model B Rev 1.0, Raspberry Pi OS Bookworm, kernel
  6.6.51+rpt-rpi-2712 (16 KiB pages, so /proc statm and meminfo are multiples of 16 kB).
  cpu-thermal zone with its ``cpu_thermal`` hwmon, ``pwm-fan`` cooling device, ``pwmfan``
  (cooling_fan), ``rpi_volt`` (firmware under-voltage alarm) and ``rp1_adc`` hwmon chips,
  cpufreq-dt policy0, and a fake ``vcgencmd`` whose ``pmic_read_adc`` output copies the real
  firmware's format and channel numbering (currents 0-7,16-18,22; volts 8-15,19-21,23-25).
* ``build_jetson_orin``: Jetson Orin Nano Developer Kit (8 GB), JetPack 6 / L4T 36,
  kernel 5.15.148-tegra. Upstream ``ina3221`` hwmon driver on i2c-1 (c240000.i2c) reached
  through the ``bus/i2c/drivers/ina3221/1-0040`` symlink, nine tegra thermal zones (the CV
  zones read -256000 because the DLA/PVA clusters are fused off on Orin Nano), ``pwmfan``
  hwmon, the NVIDIA tachometer hwmon (``rpm``, not ``fan1_input``), nvgpu load, two
  tegra194-cpufreq policies.
* ``build_jetson_nano``: Jetson Nano Developer Kit (4 GB), JetPack 4.6 / L4T 32.7,
  kernel 4.9.337-tegra. No ``devices/platform`` level (4.9 Tegra DT devices hang off
  ``devices/``), the downstream ``ina3221x`` IIO driver, the non-hwmon ``pwm-fan`` driver,
  tegra210 thermal zones (PMIC-Die is a constant 100000), no PSI (4.9 predates it).
* ``build_jetson_xavier_nx``: Jetson Xavier NX Developer Kit (8 GB), JetPack 5.1 / L4T 35.3,
  kernel 5.10.120-tegra: ``ina3221`` hwmon on i2c-7, the iGPU's devfreq as ``17000000.gv11b``,
  BPMP EMC clock in debugfs with ``actmon_avg_activity``, three Carmel clusters of which the
  first is pinned (its min = max, as after ``jetson_clocks`` on one cluster only), nvpmodel
  mode 8 and nvfancontrol's ``cool`` profile.
* Every Jetson tree also has its GPU devfreq, EMC files and (under ``rootfs``) ``etc/nvpmodel.conf``
  with ``var/lib/nvpmodel/status``; Orin and Xavier nvfancontrol's config and status too.
* ``build_x86_laptop``: Lenovo ThinkPad X1 Carbon Gen 9 (20XW, i7-1165G7 Tiger Lake, 16 GB),
  Ubuntu 24.04, kernel 6.8.0-45-generic. DMI, coretemp/acpitz/nvme/thinkpad/BAT0/iwlwifi_1 and
  UCSI power-supply hwmon chips, int340x thermal zones, intel_pstate, RAPL through the MSR
  (``intel-rapl``) and MMIO (``intel-rapl-mmio``) interfaces, as on a real Tiger Lake.
  One deliberate graft: an ``applesmc`` chip copied from a MacBook (node_exporter's fixture),
  the only common driver that still keeps its attributes in ``hwmonN/device/``.

Every tree has the same procfs files (stat, meminfo, loadavg, uptime, pressure, osrelease and a
few processes whose /proc/<pid> files use the real kernel formats). The x86 tree adds processes
whose comm holds a space (``tmux: server``) and parentheses (``(sd-pam)``) for /proc/<pid>/stat
parsers.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

USER_HZ = 100  # /proc/stat and /proc/<pid>/stat tick rate on every board here


@dataclass(frozen=True)
class BoardTree:
    sysfs: Path  # root passed as --sysfs
    procfs: Path  # root passed as --procfs
    vcgencmd: Path | None  # path of a fake vcgencmd executable (Pi only), else None
    rootfs: Path | None = None  # root passed as --rootfs (/etc, /var: Jetson's nvpmodel), if any


# ---------------------------------------------------------------------------------------------
# Generic helpers


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> None:
    """Write ``files`` (path relative to ``root`` -> exact content) under ``root``, making parents."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def link(root: Path, link_path: str, target: str) -> None:
    """Make ``root/link_path`` a relative symlink to ``root/target`` (both paths relative to root).

    The link text is computed like the kernel's, e.g. ``class/hwmon/hwmon1`` ->
    ``../../devices/platform/...``. Neither path may pass through another symlink.
    """
    path = root / link_path
    path.parent.mkdir(parents=True, exist_ok=True)
    text = os.path.relpath(target, PurePosixPath(link_path).parent)
    if set(text.split("/")) == {".."}:  # target is an ancestor: the kernel writes ../../../applesmc.768
        text = f"{text}/../{PurePosixPath(target).name}"
    path.symlink_to(text)


def write_fake_vcgencmd(path: Path, state_dir: Path) -> Path:
    """Write an executable ``/bin/sh`` fake of Raspberry Pi's ``vcgencmd`` at ``path``.

    It answers ``get_throttled``, ``measure_clock arm``, ``pmic_read_adc`` and ``version`` with the
    content of ``state_dir/get_throttled``, ``state_dir/measure_clock_arm``, ``state_dir/pmic_read_adc``
    and ``state_dir/version``
    (rewrite them between scrapes). ``state_dir/hang`` makes it ``exec sleep 30`` (so killing
    the pid kills the sleep); ``state_dir/fail`` makes it fail like a Pi without /dev/vchiq
    (stderr "VCHI initialization failed", exit 255). Unknown commands: error on stderr, exit 1.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    script = f"""#!/bin/sh
# Fake vcgencmd for edgemeter tests: prints files of the state directory.
state={shlex.quote(str(state_dir))}
if [ -e "$state/hang" ]; then exec sleep 30; fi
if [ -e "$state/fail" ]; then echo "VCHI initialization failed" >&2; exit 255; fi
case "$*" in
    get_throttled) f=get_throttled ;;
    "measure_clock arm") f=measure_clock_arm ;;
    pmic_read_adc) f=pmic_read_adc ;;
    version) f=version ;;
    *) echo 'error=2 error_msg="Command not registered"' >&2; exit 1 ;;
esac
if [ ! -r "$state/$f" ]; then echo "fake vcgencmd: no $state/$f" >&2; exit 1; fi
exec cat "$state/$f"
"""
    path.write_text(script, encoding="ascii")
    path.chmod(0o755)
    return path


Attr = str | int | bytes  # a sysfs attribute: str/int get the kernel's trailing "\n", bytes are raw


class _Tree:
    """Files and symlinks for one root (sysfs or procfs), written in one go (files first)."""

    def __init__(self) -> None:
        self.files: dict[str, str | bytes] = {}
        self.links: dict[str, str] = {}
        self.dirs: set[str] = set()

    def attrs(self, directory: str, values: Mapping[str, Attr]) -> None:
        for name, value in values.items():
            self.files[f"{directory}/{name}"] = value if isinstance(value, bytes) else f"{value}\n"

    def symlink(self, link_path: str, target: str) -> None:
        self.links[link_path] = target

    def mkdir(self, directory: str) -> None:
        self.dirs.add(directory)

    def write(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        for directory in sorted(self.dirs):
            (root / directory).mkdir(parents=True, exist_ok=True)
        write_tree(root, self.files)
        for link_path, target in self.links.items():
            link(root, link_path, target)


def _nul_list(*items: str) -> bytes:
    return b"".join(item.encode() + b"\0" for item in items)


def _spaced(items: Iterable[int | str]) -> str:
    # scaling_available_frequencies/governors: the kernel prints "%d " per entry, then "\n".
    return "".join(f"{item} " for item in items)


def _khz(text: str) -> tuple[int, ...]:
    return tuple(int(word) for word in text.split())


def _argv(cmdline: str) -> tuple[str, ...]:
    return tuple(cmdline.split())


def _cpu_range(cpus: Sequence[int]) -> str:
    return f"{cpus[0]}-{cpus[-1]}" if len(cpus) > 1 else str(cpus[0])


# ---------------------------------------------------------------------------------------------
# sysfs builders shared by the boards


def _device_tree(sys: _Tree, proc: _Tree, model: str, compatible: Sequence[str]) -> None:
    """DT root properties under sysfs firmware/devicetree/base and procfs device-tree (same bytes)."""
    props: dict[str, Attr] = {"model": _nul_list(model), "compatible": _nul_list(*compatible)}
    sys.attrs("firmware/devicetree/base", props)
    proc.attrs("device-tree", props)


@dataclass(frozen=True)
class _Zone:
    type: str
    temp: int  # m°C
    policy: str = "step_wise"
    trips: tuple[tuple[str, int], ...] = ()  # (type, m°C)
    hwmon: int | None = None  # index of the thermal-core hwmon chip made for this zone
    hwmon_crit: int | None = None  # temp1_crit of that chip, where the zone reports one


def _thermal(sys: _Tree, zones: Sequence[_Zone], cooling: Sequence[tuple[str, int, int]] = ()) -> None:
    """thermal_zoneN and cooling_deviceN in devices/virtual/thermal, linked from class/thermal.

    ``cooling`` holds (type, cur_state, max_state). A zone with ``hwmon`` also gets the hwmon
    chip that the thermal core registers under the zone (name = type with "-" -> "_").
    """
    for index, zone in enumerate(zones):
        zone_dir = f"devices/virtual/thermal/thermal_zone{index}"
        attrs: dict[str, Attr] = {
            "type": zone.type,
            "temp": zone.temp,
            "mode": "enabled",
            "policy": zone.policy,
        }
        for trip, (trip_type, trip_temp) in enumerate(zone.trips):
            attrs |= {f"trip_point_{trip}_type": trip_type, f"trip_point_{trip}_temp": trip_temp}
            attrs[f"trip_point_{trip}_hyst"] = 0 if trip_type == "critical" else 2000
        sys.attrs(zone_dir, attrs)
        sys.symlink(f"class/thermal/thermal_zone{index}", zone_dir)
        if zone.hwmon is not None:
            chip: dict[str, Attr] = {"name": zone.type.replace("-", "_"), "temp1_input": zone.temp}
            if zone.hwmon_crit is not None:
                chip["temp1_crit"] = zone.hwmon_crit
            _hwmon(sys, zone.hwmon, zone_dir, chip, glue=False)
    for index, (cdev_type, cur, top) in enumerate(cooling):
        cdev_dir = f"devices/virtual/thermal/cooling_device{index}"
        sys.attrs(cdev_dir, {"type": cdev_type, "cur_state": cur, "max_state": top})
        sys.symlink(f"class/thermal/cooling_device{index}", cdev_dir)


def _hwmon(sys: _Tree, index: int, parent: str, attrs: Mapping[str, Attr], *, glue: bool = True) -> str:
    """hwmon chip ``hwmon<index>`` of device ``parent``, linked from class/hwmon; returns its dir.

    Under a bus/platform device the kernel puts it in a "hwmon" glue directory
    (``parent/hwmon/hwmonN``); under a class device (thermal zone, nvme, power_supply) directly in
    it (``parent/hwmonN``). Every chip gets the ``device`` link back to its parent.
    """
    chip = f"{parent}/hwmon/hwmon{index}" if glue else f"{parent}/hwmon{index}"
    sys.attrs(chip, attrs)
    sys.symlink(f"{chip}/device", parent)
    sys.symlink(f"class/hwmon/hwmon{index}", chip)
    return chip


@dataclass(frozen=True)
class _Policy:
    cpus: tuple[int, ...]
    cur_khz: int
    min_khz: int
    max_khz: int
    driver: str
    governor: str
    governors: tuple[str, ...]
    freqs: tuple[int, ...] = ()  # scaling_available_frequencies; none for intel_pstate
    latency: int = 0  # cpuinfo_transition_latency, ns
    extra: tuple[tuple[str, Attr], ...] = ()


def _cpufreq(sys: _Tree, ncpu: int, policies: Sequence[_Policy]) -> None:
    """devices/system/cpu: policyN dirs (N = first cpu) and cpuK/cpufreq -> ../cpufreq/policyN."""
    cpu_dir = "devices/system/cpu"
    everything = _cpu_range(range(ncpu))
    sys.attrs(cpu_dir, {"online": everything, "possible": everything, "present": everything, "offline": ""})
    for policy in policies:
        policy_dir = f"{cpu_dir}/cpufreq/policy{policy.cpus[0]}"
        cpus = " ".join(str(cpu) for cpu in policy.cpus)
        attrs: dict[str, Attr] = {
            "affected_cpus": cpus,
            "related_cpus": cpus,
            "cpuinfo_min_freq": policy.min_khz,
            "cpuinfo_max_freq": policy.max_khz,
            "cpuinfo_transition_latency": policy.latency,
            "scaling_cur_freq": policy.cur_khz,
            "scaling_min_freq": policy.min_khz,
            "scaling_max_freq": policy.max_khz,
            "scaling_driver": policy.driver,
            "scaling_governor": policy.governor,
            "scaling_available_governors": _spaced(policy.governors),
            "scaling_setspeed": "<unsupported>",
        }
        if policy.freqs:
            attrs["scaling_available_frequencies"] = _spaced(policy.freqs)
        sys.attrs(policy_dir, attrs | dict(policy.extra))
        for cpu in policy.cpus:
            sys.symlink(f"{cpu_dir}/cpu{cpu}/cpufreq", policy_dir)


# ---------------------------------------------------------------------------------------------
# procfs builders shared by the boards


@dataclass(frozen=True)
class _Process:
    pid: int
    comm: str
    argv: tuple[str, ...]
    ppid: int = 1
    state: str = "S"
    uid: int = 0
    utime: int = 0  # ticks
    stime: int = 0
    threads: int = 1
    start: int = 0  # ticks after boot
    vsize_kb: int = 0
    rss_kb: int = 0
    rss_file_kb: int = 0  # file-backed part of rss (statm "shared")
    text_kb: int = 0
    data_kb: int = 0
    cpu: int = 0


_STATE_NAMES = {"R": "R (running)", "S": "S (sleeping)", "D": "D (disk sleep)", "I": "I (idle)"}


def _process_files(proc: _Tree, p: _Process, page_kb: int) -> None:
    """/proc/<pid>/{comm,cmdline,stat,statm,status} in the kernel's formats (stat: 52 fields)."""

    def pages(kb: int) -> int:
        return kb // page_kb

    def kb(value: int) -> int:  # sizes are whole pages on the board
        return pages(value) * page_kb

    addr = 0x5581_2000_0000 + p.pid * 0x10_0000  # plausible user-space addresses
    fields = [
        *(p.state, p.ppid, p.pid, p.pid, 0, -1, 4194560),  # state ppid pgrp session tty_nr tpgid flags
        *(p.rss_kb // 3, 0, p.rss_file_kb // 64, 0),  # minflt cminflt majflt cmajflt
        *(p.utime, p.stime, 0, 0),  # utime (field 14) stime cutime cstime
        *(20, 0, p.threads, 0, p.start),  # priority nice num_threads itrealvalue starttime (field 22)
        *(kb(p.vsize_kb) * 1024, pages(p.rss_kb), 2**64 - 1),  # vsize (bytes) rss (pages) rsslim
        *(addr, addr + p.text_kb * 1024, 0x7FFD_1A2B_3C40 - p.pid * 0x1000, 0, 0),  # code stack esp eip
        *(0, 0, 4096, 81923, 0, 0, 0, 17, p.cpu),  # signal blocked sigignore sigcatch wchan .. processor
        *(0, 0, 0, 0, 0),  # rt_priority policy delayacct_blkio_ticks guest_time cguest_time
        *(addr + 0x20_0000, addr + 0x21_0000, addr + 0x40_0000),  # start_data end_data start_brk
        *(0x7FFD_1A2C_0000, 0x7FFD_1A2C_0100, 0x7FFD_1A2C_0100, 0x7FFD_1A2C_0FE0, 0),  # args env exit_code
    ]
    if len(fields) != 50:  # fields 3..52 of the kernel's format
        raise AssertionError(len(fields))
    status_mem = {
        "VmPeak": kb(p.vsize_kb),
        "VmSize": kb(p.vsize_kb),
        "VmLck": 0,
        "VmPin": 0,
        "VmHWM": kb(p.rss_kb),
        "VmRSS": kb(p.rss_kb),
        "RssAnon": kb(p.rss_kb) - kb(p.rss_file_kb),
        "RssFile": kb(p.rss_file_kb),
        "RssShmem": 0,
        "VmData": kb(p.data_kb),
        "VmStk": kb(132),
        "VmExe": kb(p.text_kb),
        "VmLib": 0,
        "VmSwap": 0,
    }
    status = [
        f"Name:\t{p.comm}",
        "Umask:\t0022",
        f"State:\t{_STATE_NAMES[p.state]}",
        f"Tgid:\t{p.pid}",
        "Ngid:\t0",
        f"Pid:\t{p.pid}",
        f"PPid:\t{p.ppid}",
        "TracerPid:\t0",
        f"Uid:\t{p.uid}\t{p.uid}\t{p.uid}\t{p.uid}",
        f"Gid:\t{p.uid}\t{p.uid}\t{p.uid}\t{p.uid}",
        "FDSize:\t128",
        *(f"{key}:\t{value:>8} kB" for key, value in status_mem.items()),
        f"Threads:\t{p.threads}",
    ]
    statm = (p.vsize_kb, p.rss_kb, p.rss_file_kb, p.text_kb, 0, p.data_kb, 0)  # size resident shared ..
    proc.files |= {
        f"{p.pid}/comm": f"{p.comm}\n",
        f"{p.pid}/cmdline": _nul_list(*p.argv),
        f"{p.pid}/stat": f"{p.pid} ({p.comm}) " + " ".join(str(field) for field in fields) + "\n",
        f"{p.pid}/statm": " ".join(str(pages(kb)) for kb in statm) + "\n",
        f"{p.pid}/status": "\n".join(status) + "\n",
    }


def _inference_processes(ollama: str, server_argv: tuple[str, ...], scale: int) -> list[_Process]:
    """systemd, an idle ``ollama serve`` and a busy ``llama-server``; ``scale`` sizes ticks/memory."""
    return [
        _Process(
            1,
            "systemd",
            ("/sbin/init", "splash"),
            ppid=0,
            utime=412 * scale,
            stime=198 * scale,
            threads=1,
            start=8,
            vsize_kb=168_448,
            rss_kb=12_864,
            rss_file_kb=9_216,
            text_kb=88,
            data_kb=18_944,
            cpu=1,
        ),
        _Process(
            812,
            "ollama",
            (ollama, "serve"),
            uid=998,
            utime=1_530 * scale,
            stime=402 * scale,
            threads=14,
            start=1_204,
            vsize_kb=2_389_312,
            rss_kb=48_896,
            rss_file_kb=31_232,
            text_kb=20_480,
            data_kb=161_792,
            cpu=2,
        ),
        _Process(
            901,
            "llama-server",
            server_argv,
            uid=1000,
            state="R",
            utime=92_017 * scale,
            stime=3_304 * scale,
            threads=6,
            start=95_311,
            vsize_kb=3_102_720,
            rss_kb=1_205_248,
            rss_file_kb=1_048_576,
            text_kb=6_144,
            data_kb=142_336,
            cpu=3,
        ),
    ]


@dataclass(frozen=True)
class _Mem:
    total: int  # kB
    free: int
    available: int
    buffers: int
    cached: int
    anon: int
    shmem: int
    slab_reclaimable: int
    slab_unreclaimable: int
    swap_total: int
    swap_free: int


def _meminfo(m: _Mem, page_kb: int, kernel: tuple[int, int], x86: bool) -> str:
    """/proc/meminfo: "%-16s%8lu kB" lines, in the kernel's order, for that kernel version."""

    def whole(kb: int) -> int:
        return kb // page_kb * page_kb

    active_file, inactive_file = m.cached * 3 // 5, m.cached * 2 // 5
    lines: list[tuple[str, int]] = [
        ("MemTotal", m.total),
        ("MemFree", m.free),
        ("MemAvailable", m.available),
        ("Buffers", m.buffers),
        ("Cached", m.cached),
        ("SwapCached", 0),
        ("Active", m.anon // 10 + active_file),
        ("Inactive", m.anon - m.anon // 10 + inactive_file),
        ("Active(anon)", m.anon // 10),
        ("Inactive(anon)", m.anon - m.anon // 10),
        ("Active(file)", active_file),
        ("Inactive(file)", inactive_file),
        ("Unevictable", 0),
        ("Mlocked", 0),
        ("SwapTotal", m.swap_total),
        ("SwapFree", m.swap_free),
    ]
    if kernel >= (6, 0):
        lines += [("Zswap", 0), ("Zswapped", 0)]
    lines += [
        ("Dirty", 64),
        ("Writeback", 0),
        ("AnonPages", m.anon - m.shmem // 4),
        ("Mapped", m.cached // 3),
        ("Shmem", m.shmem),
    ]
    if kernel >= (4, 20):
        lines.append(("KReclaimable", m.slab_reclaimable))
    lines += [
        ("Slab", m.slab_reclaimable + m.slab_unreclaimable),
        ("SReclaimable", m.slab_reclaimable),
        ("SUnreclaim", m.slab_unreclaimable),
        ("KernelStack", 9_472),
        ("PageTables", 14_336),
    ]
    if kernel >= (6, 0):
        lines.append(("SecPageTables", 0))
    lines += [
        ("NFS_Unstable", 0),
        ("Bounce", 0),
        ("WritebackTmp", 0),
        ("CommitLimit", m.total // 2 + m.swap_total),
        ("Committed_AS", m.anon * 3),
        ("VmallocTotal", 34359738367 if x86 else 135288315904),
        ("VmallocUsed", 40_960),
        ("VmallocChunk", 0),
    ]
    if kernel >= (4, 16):
        lines.append(("Percpu", 2_560))
    if x86:
        lines.append(("HardwareCorrupted", 0))
    lines += [("AnonHugePages", 0), ("ShmemHugePages", 0), ("ShmemPmdMapped", 0)]
    if kernel >= (5, 4):
        lines += [("FileHugePages", 0), ("FilePmdMapped", 0)]
    text = "".join(f"{name + ':':<16}{whole(value):>8} kB\n" for name, value in lines)
    text += "HugePages_Total:       0\nHugePages_Free:        0\nHugePages_Rsvd:        0\n"
    text += "HugePages_Surp:        0\n"
    text += f"{'Hugepagesize:':<16}{32768 if page_kb == 16 else 2048:>8} kB\n"
    if kernel >= (4, 16):
        text += f"{'Hugetlb:':<16}{0:>8} kB\n"
    if x86:
        text += "DirectMap4k:      512836 kB\nDirectMap2M:    11839488 kB\nDirectMap1G:     4194304 kB\n"
    return text


def _cpu_times(ncpu: int, uptime_s: int, busy: float) -> list[list[int]]:
    """Per-cpu /proc/stat rows (user nice system idle iowait irq softirq steal guest guest_nice)."""
    rows = []
    for cpu in range(ncpu):
        ticks = uptime_s * USER_HZ
        used = int(ticks * busy * (1 - 0.07 * cpu))
        user, nice, system = used * 70 // 100, used // 50, used * 22 // 100
        iowait, irq, softirq = ticks // 400, 0 if cpu else 1, used // 60
        idle = ticks - (user + nice + system + iowait + irq + softirq)
        rows.append([user, nice, system, idle, iowait, irq, softirq, 0, 0, 0])
    return rows


def _proc_stat(rows: list[list[int]], btime: int, processes: int, running: int) -> str:
    total = [sum(column) for column in zip(*rows, strict=True)]
    lines = ["cpu  " + " ".join(map(str, total))]  # two spaces after "cpu", as the kernel prints
    lines += [f"cpu{cpu} " + " ".join(map(str, row)) for cpu, row in enumerate(rows)]
    irqs = [sum(total) // 9, 0, 0, 41, 0, 0, 0, 0, 0, 1, 18_544, 0, 0, 412_339, 0, 2_781, 0, 0, 95_007]
    softirqs = [0, 23, 8_124_551, 311, 640_218, 92_114, 0, 2_047, 5_532_190, 0, 2_918_004]
    softirqs[0] = sum(softirqs)
    lines += [
        "intr " + " ".join(str(n) for n in [sum(irqs), *irqs]),
        f"ctxt {sum(total) * 3}",
        f"btime {btime}",
        f"processes {processes}",
        f"procs_running {running}",
        "procs_blocked 0",
        "softirq " + " ".join(map(str, softirqs)),
    ]
    return "\n".join(lines) + "\n"


_PsiLine = tuple[float, float, float, int]  # avg10 avg60 avg300 total(µs)


def _pressure(
    proc: _Tree, cpu: _PsiLine, memory: tuple[_PsiLine, _PsiLine], io: tuple[_PsiLine, _PsiLine]
) -> None:
    """/proc/pressure/{cpu,memory,io}; cpu has an all-zero "full" line as on kernels >= 5.13."""

    def line(kind: str, v: _PsiLine) -> str:
        return f"{kind} avg10={v[0]:.2f} avg60={v[1]:.2f} avg300={v[2]:.2f} total={v[3]}\n"

    zero: _PsiLine = (0.0, 0.0, 0.0, 0)
    for name, (some, full) in {"cpu": (cpu, zero), "memory": memory, "io": io}.items():
        proc.files[f"pressure/{name}"] = line("some", some) + line("full", full)


@dataclass(frozen=True)
class _ProcSpec:
    osrelease: str
    ncpu: int
    uptime_s: int
    busy: float  # non-idle share of cpu time since boot
    mem: _Mem
    loadavg: str
    processes: tuple[_Process, ...]
    kernel: tuple[int, int]
    page_kb: int = 4
    x86: bool = False
    psi: bool = True


_BTIME = 1_732_000_000  # boot time (Unix seconds) of every fixture board


def _procfs(proc: _Tree, spec: _ProcSpec) -> None:
    rows = _cpu_times(spec.ncpu, spec.uptime_s, spec.busy)
    idle_s = sum(row[3] for row in rows) / USER_HZ
    proc.files |= {
        "stat": _proc_stat(rows, _BTIME, processes=int(spec.loadavg.rsplit(" ", 1)[1]), running=2),
        "meminfo": _meminfo(spec.mem, spec.page_kb, spec.kernel, spec.x86),
        "loadavg": spec.loadavg + "\n",
        "uptime": f"{spec.uptime_s}.37 {idle_s:.2f}\n",
        "sys/kernel/osrelease": spec.osrelease + "\n",
    }
    if spec.psi:
        busy = spec.busy * 100
        _pressure(
            proc,
            cpu=(busy / 9, busy / 11, busy / 12, spec.uptime_s * 4_210),
            memory=((0.0, 0.0, 0.0, 10_233), (0.0, 0.0, 0.0, 8_871)),
            io=((0.12, 0.31, 0.18, spec.uptime_s * 97), (0.10, 0.25, 0.15, spec.uptime_s * 81)),
        )
    for process in spec.processes:
        _process_files(proc, process, spec.page_kb)


def _finish(
    root: Path, sys: _Tree, proc: _Tree, vcgencmd: Path | None = None, rootfs: _Tree | None = None
) -> BoardTree:
    tree = BoardTree(root / "sys", root / "proc", vcgencmd, root if rootfs else None)
    sys.write(tree.sysfs)
    proc.write(tree.procfs)
    if rootfs:
        rootfs.write(root)
    return tree


# ---------------------------------------------------------------------------------------------
# What every Jetson has besides its rails: the iGPU's devfreq, the EMC, nvpmodel and nvfancontrol


def _tegra_gpu(sys: _Tree, device: str, node: str, cur: int, low: int, high: int) -> None:
    """The iGPU's devfreq device under ``device`` (class/devfreq/<name> links to it); ``node`` is
    its device-tree node's name (gpu, gv11b, ga10b): what finds it."""
    name = device.rsplit("/", 1)[1]
    devfreq = f"{device}/devfreq/{name}"
    sys.attrs(
        devfreq,
        {
            "cur_freq": cur,
            "min_freq": low,
            "max_freq": high,
            "target_freq": cur,
            "governor": "nvhost_podgov",
            "available_governors": "wmark_active nvhost_podgov userspace performance simple_ondemand",
            "polling_interval": 25,
        },
    )
    sys.symlink(f"class/devfreq/{name}", devfreq)
    sys.symlink(f"{devfreq}/device", device)
    dt_node = f"firmware/devicetree/base/{node}@{name.split('.')[0]}"
    sys.attrs(dt_node, {"name": _nul_list(node), "status": _nul_list("okay")})
    sys.symlink(f"{device}/of_node", dt_node)


# each tree's BSP release line, in the form L4T writes it (matching the tree's kernel)
_L4T_ORIN = (
    "# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic"
    ", EABI: aarch64, DATE: Wed Jan  8 01:49:37 UTC 2025"
)
_L4T_NANO = (
    "# R32 (release), REVISION: 7.4, GCID: 33514132, BOARD: t210ref"
    ", EABI: aarch64, DATE: Fri Jun  9 04:25:08 UTC 2023"
)
_L4T_XAVIER = (
    "# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref"
    ", EABI: aarch64, DATE: Tue Aug  1 19:57:35 UTC 2023"
)


def _nvpmodel(modes: Sequence[tuple[int, str]], current: int, fan_profile: str | None, l4t: str) -> _Tree:
    """/etc/nvpmodel.conf's POWER_MODEL lines and nvpmodel's status; nvfancontrol's config and
    status (JetPack 5+) where ``fan_profile`` is given; the BSP's etc/nv_tegra_release line."""
    root = _Tree()
    root.files["etc/nv_tegra_release"] = l4t + "\n# KERNEL_VARIANT: oot\n"
    conf = ["< PARAM TYPE=FILE NAME=CPU_ONLINE >", "CORE_0 /sys/devices/system/cpu/cpu0/online", ""]
    for mode_id, name in modes:
        conf += [f"< POWER_MODEL ID={mode_id} NAME={name} >", "CPU_ONLINE CORE_0 1", ""]
    conf.append(f"< PM_CONFIG DEFAULT={modes[0][0]} >")
    root.files["etc/nvpmodel.conf"] = "\n".join(conf) + "\n"
    root.files["var/lib/nvpmodel/status"] = f"pmode:{current:04d} fmode:fanNull\n"
    if fan_profile:
        root.files["etc/nvfancontrol.conf"] = (
            "POLLING_INTERVAL 2\n\n<FAN 1>\n\tTMARGIN ENABLED\n\tFAN_GOVERNOR pid {\n\t\tSTEP_SIZE 10\n\t}\n"
            "\tFAN_PROFILE quiet {\n\t\t#TEMP \tHYST \tPWM \tRPM\n\t\t0 \t0 \t0 \t0\n\t}\n"
            "\tFAN_PROFILE cool {\n\t\t0 \t0 \t77 \t1000\n\t}\n"
            "\tFAN_DEFAULT_CONTROL close_loop\n\tFAN_DEFAULT_PROFILE quiet\n\tFAN_DEFAULT_GOVERNOR pid\n"
        )
        root.files["var/lib/nvfancontrol/status"] = (
            f"FAN1:FAN_PROFILE:{fan_profile}\nFAN1:FAN_GOVERNOR:pid\nFAN1:FAN_CONTROL:close_loop\n"
        )
    return root


# ---------------------------------------------------------------------------------------------
# Raspberry Pi 5

# `vcgencmd pmic_read_adc` on a Pi 5 under load: the firmware prints each rail right-aligned to
# 12 columns, currents first in this order, with the PMIC ADC channel number in parentheses.
_PI5_RAIL_CURRENTS = [
    ("3V7_WL_SW", 0, 0.00390372),
    ("3V3_SYS", 1, 0.07319172),
    ("1V8_SYS", 2, 0.17664330),
    ("DDR_VDD2", 3, 0.09465750),
    ("DDR_VDDQ", 4, 0.02440750),
    ("1V1_SYS", 5, 0.18640260),
    ("0V8_SW", 6, 0.33572280),
    ("VDD_CORE", 7, 2.34555000),
    ("3V3_DAC", 17, 0.00012210),
    ("3V3_ADC", 18, 0.00042735),
    ("0V8_AON", 16, 0.00464280),
    ("HDMI", 22, 0.01757808),
]
_PI5_RAIL_VOLTS = [
    ("3V7_WL_SW", 8, 3.71231200),
    ("3V3_SYS", 9, 3.30998400),
    ("1V8_SYS", 10, 1.80146400),
    ("DDR_VDD2", 11, 1.10549400),
    ("DDR_VDDQ", 12, 0.60329610),
    ("1V1_SYS", 13, 1.10512800),
    ("0V8_SW", 14, 0.80183150),
    ("VDD_CORE", 15, 0.87843300),
    ("3V3_DAC", 20, 3.30769200),
    ("3V3_ADC", 21, 3.30585900),
    ("0V8_AON", 19, 0.79853400),
    ("HDMI", 23, 5.15640000),
]


def _pmic_read_adc() -> str:
    lines = [f"{rail + '_A':>12} current({ch})={amps:.8f}A" for rail, ch, amps in _PI5_RAIL_CURRENTS]
    lines += [f"{rail + '_V':>12} volt({ch})={volts:.8f}V" for rail, ch, volts in _PI5_RAIL_VOLTS]
    lines += [f"{'EXT5V_V':>12} volt(24)=5.15640000V", f"{'BATT_V':>12} volt(25)=0.00000000V"]
    return "\n".join(lines) + "\n"


# Default answers of the fake vcgencmd (file name in the state dir -> content). 0x50005 =
# under-voltage now and since boot, throttled now and since boot.
PI5_VCGENCMD_OUTPUTS: dict[str, str] = {
    "get_throttled": "throttled=0x50005\n",
    "measure_clock_arm": "frequency(0)=1500004352\n",
    "pmic_read_adc": _pmic_read_adc(),
    # a Pi 5 firmware's answer (date, copyright, version hash), in its documented form
    "version": "2023/10/17 15:39:16 \nCopyright (c) 2023 Raspberry Pi Ltd\n"
    "version 30cc5f37 (release) (embedded)\n",
}


def build_pi5(root: Path) -> BoardTree:
    sys, proc = _Tree(), _Tree()
    _device_tree(sys, proc, "Raspberry Pi 5 Model B Rev 1.0", ["raspberrypi,5-model-b", "brcm,bcm2712"])
    _thermal(
        sys,
        # cpu-thermal trips as in bcm2712-rpi-5-b.dts: critical 110 °C, four fan steps.
        [
            _Zone(
                "cpu-thermal",
                54750,
                trips=(
                    ("critical", 110000),
                    ("active", 50000),
                    ("active", 60000),
                    ("active", 67500),
                    ("active", 75000),
                ),
                hwmon=0,
            )
        ],
        cooling=[("pwm-fan", 2, 4)],
    )
    # rpi_volt: firmware under-voltage sticky alarm (the Pi 4 path is soc/soc:firmware/...).
    _hwmon(
        sys,
        1,
        "devices/platform/soc@107c000000/soc@107c000000:firmware/raspberrypi-hwmon",
        {"name": "rpi_volt", "in0_lcrit_alarm": 0},
    )
    # pwmfan: the tach reads 0 RPM at mid duty on a Pi 5 Active Cooler; kept 0 on purpose.
    _hwmon(sys, 2, "devices/platform/cooling_fan", {"name": "pwmfan", "fan1_input": 0, "pwm1": 102})
    # rp1_adc: RP1's ADC (four header-less inputs, floating) and the RP1 die temperature.
    _hwmon(
        sys,
        3,
        "devices/platform/axi/1000120000.pcie/1f000c8000.adc",
        {
            "name": "rp1_adc",
            "temp1_input": 55472,
            "in1_input": 1466,
            "in2_input": 1463,
            "in3_input": 1450,
            "in4_input": 1475,
        },
    )
    _cpufreq(
        sys,
        4,
        [
            _Policy(
                cpus=(0, 1, 2, 3),
                cur_khz=1500000,
                min_khz=1500000,
                max_khz=2400000,
                driver="cpufreq-dt",
                governor="ondemand",
                governors=("conservative", "ondemand", "userspace", "powersave", "performance", "schedutil"),
                freqs=tuple(range(1500000, 2400001, 100000)),
                latency=355000,
            )
        ],
    )
    server = _argv(
        "/home/pi/llama.cpp/build/bin/llama-server -m /home/pi/models/qwen2.5-1.5b-instruct-q4_k_m.gguf"
        " --host 0.0.0.0 --port 8080 -t 4 -c 4096"
    )
    _procfs(
        proc,
        _ProcSpec(
            osrelease="6.6.51+rpt-rpi-2712",
            kernel=(6, 6),
            ncpu=4,
            uptime_s=187_342,
            busy=0.21,
            page_kb=16,
            mem=_Mem(
                total=8_245_360,
                free=5_126_400,
                available=6_893_152,
                buffers=61_440,
                cached=1_612_816,
                anon=1_288_912,
                shmem=36_864,
                slab_reclaimable=61_472,
                slab_unreclaimable=43_008,
                swap_total=524_272,
                swap_free=524_272,
            ),
            loadavg="1.42 1.18 0.97 2/298 3127",
            processes=tuple(_inference_processes("/usr/local/bin/ollama", server, scale=1)),
        ),
    )
    state = root / "vcgencmd_state"
    write_tree(state, PI5_VCGENCMD_OUTPUTS)
    return _finish(root, sys, proc, write_fake_vcgencmd(root / "bin" / "vcgencmd", state))


# ---------------------------------------------------------------------------------------------
# NVIDIA Jetson Orin Nano (JetPack 6)

_TEGRA_GOVERNORS = ("userspace", "ondemand", "performance", "schedutil")
_ORIN_FREQS = _khz(
    "115200 192000 268800 345600 422400 499200 576000 652800 729600 806400 883200 960000 1036800"
    " 1113600 1190400 1267200 1344000 1420800 1497600 1510400"
)

# (label, bus mV, current mA) per INA3221 channel on the Orin Nano carrier; 2 mΩ shunts.
_ORIN_RAILS = [("VDD_IN", 5080, 1240), ("VDD_CPU_GPU_CV", 5072, 480), ("VDD_SOC", 5076, 720)]
_ORIN_SHUNT_UOHM = 2000


def _ina3221_hwmon(rails: Sequence[tuple[str, int, int]] = _ORIN_RAILS) -> dict[str, Attr]:
    """Attributes of the upstream ina3221 hwmon driver (5.15): in1-3 bus mV, in4-6 shunt µV,
    in7 summed shunt µV, curr1-3 mA, curr4 summed mA, limits at their power-on values."""
    attrs: dict[str, Attr] = {"name": "ina3221"}
    shunt_sum = 0
    for ch, (label, mv, ma) in enumerate(rails, start=1):
        shunt_uv = ma * _ORIN_SHUNT_UOHM // 1000
        shunt_sum += shunt_uv
        attrs |= {
            f"in{ch}_label": label,
            f"in{ch}_enable": 1,
            f"in{ch}_input": mv,
            f"in{ch + 3}_input": shunt_uv,
            f"curr{ch}_input": ma,
            f"curr{ch}_crit": 81900,
            f"curr{ch}_crit_alarm": 0,
            f"curr{ch}_max": 81900,
            f"curr{ch}_max_alarm": 0,
            f"shunt{ch}_resistor": _ORIN_SHUNT_UOHM,
        }
    attrs |= {
        # the driver's own figure (ms) for the chip's power-on setup: three channels, a 1.1 ms bus
        # and a 1.1 ms shunt conversion, no averaging: 6.6 ms, rounded (computed, not captured)
        "update_interval": 7,
        "in7_input": shunt_sum,
        "curr4_input": shunt_sum * 1000 // _ORIN_SHUNT_UOHM,
        "curr4_crit": 327660,
        "curr4_crit_alarm": 0,
    }
    return attrs


def build_jetson_orin(root: Path) -> BoardTree:
    sys, proc = _Tree(), _Tree()
    _device_tree(
        sys,
        proc,
        "NVIDIA Jetson Orin Nano Developer Kit",
        ["nvidia,p3768-0000+p3767-0005", "nvidia,p3767-0005", "nvidia,tegra234"],
    )
    # tegra234 BPMP thermal zones (of-thermal: no hwmon). Orin Nano has its CV (DLA/PVA) clusters
    # fused off: those zones read -256000, a real value, not a fixture glitch.
    zones = [
        ("cpu-thermal", 47593),
        ("gpu-thermal", 46281),
        ("cv0-thermal", -256000),
        ("cv1-thermal", -256000),
        ("cv2-thermal", -256000),
        ("soc0-thermal", 44375),
        ("soc1-thermal", 45218),
        ("soc2-thermal", 44062),
        ("tj-thermal", 47593),
    ]
    _thermal(sys, [_Zone(name, temp) for name, temp in zones], cooling=[("pwm-fan", 3, 10)])
    # INA3221 on i2c-1 (c240000.i2c); there is no hwmon0 on this board's fixture (the numbering has
    # a gap, as after a module reload: readers must list class/hwmon, never count 0..N).
    i2c_dev = "devices/platform/bus@0/c240000.i2c/i2c-1/1-0040"
    sys.attrs(i2c_dev, {"name": "ina3221"})  # the i2c client's own "name", not the hwmon chip's
    _hwmon(sys, 1, i2c_dev, _ina3221_hwmon())
    sys.symlink("bus/i2c/drivers/ina3221/1-0040", i2c_dev)
    sys.symlink("bus/i2c/devices/1-0040", i2c_dev)
    # Upstream pwm-fan (no tach input wired to it), and NVIDIA's tachometer, whose hwmon chip
    # reports a non-standard "rpm" attribute instead of fan1_input.
    _hwmon(sys, 2, "devices/platform/pwm-fan", {"name": "pwmfan", "pwm1": 80})
    _hwmon(sys, 3, "devices/platform/bus@0/39c0000.tachometer", {"name": "pwm_tach", "rpm": 1820})
    # GPU load in per mille. JetPack 6's nvgpu exposes it here; the same attribute also sits at
    # devices/platform/bus@0/17000000.gpu/load, which this fixture leaves out.
    sys.attrs("devices/platform/gpu.0", {"load": 123})
    # the iGPU's devfreq (JetPack 6 names the node gpu@17000000; JetPack 5 had 17000000.ga10b), at
    # the 15 W mode's limits
    _tegra_gpu(sys, "devices/platform/bus@0/17000000.gpu", "gpu", 306000000, 306000000, 624750000)
    # EMC: its clock in BPMP debugfs (root's only on the board), its activity from cactmon
    sys.attrs(
        "kernel/debug/bpmp/debug/clk/emc",
        {"rate": 2133000000, "max_rate": 3199000000, "min_rate": 204000000, "mrq_rate_locked": 0},
    )
    sys.attrs("kernel/debug/cactmon", {"mc_all": 298620})
    _cpufreq(
        sys,
        6,
        [
            _Policy(
                cpus=(0, 1, 2, 3),
                cur_khz=729600,
                min_khz=115200,
                max_khz=1510400,
                driver="tegra194",
                governor="schedutil",
                governors=_TEGRA_GOVERNORS,
                freqs=_ORIN_FREQS,
                latency=500000,
            ),
            _Policy(
                cpus=(4, 5),
                cur_khz=1344000,
                min_khz=115200,
                max_khz=1510400,
                driver="tegra194",
                governor="schedutil",
                governors=_TEGRA_GOVERNORS,
                freqs=_ORIN_FREQS,
                latency=500000,
            ),
        ],
    )
    server = _argv(
        "/opt/llama.cpp/build/bin/llama-server -m /opt/models/llama-3.2-3b-instruct-q4_k_m.gguf"
        " -ngl 99 --host 0.0.0.0 --port 8080 -c 4096"
    )
    _procfs(
        proc,
        _ProcSpec(
            osrelease="5.15.148-tegra",
            kernel=(5, 15),
            ncpu=6,
            uptime_s=94_118,
            busy=0.14,
            mem=_Mem(
                total=7_620_236,
                free=3_528_412,
                available=5_612_980,
                buffers=52_212,
                cached=2_104_560,
                anon=1_740_344,
                shmem=58_220,
                slab_reclaimable=88_904,
                slab_unreclaimable=101_376,
                swap_total=3_810_112,
                swap_free=3_810_112,
            ),
            loadavg="0.87 0.92 0.88 3/541 4410",
            processes=tuple(_inference_processes("/usr/local/bin/ollama", server, scale=1)),
        ),
    )
    return _finish(
        root, sys, proc, rootfs=_nvpmodel([(0, "15W"), (1, "7W"), (2, "MAXN_SUPER")], 0, "quiet", _L4T_ORIN)
    )


# ---------------------------------------------------------------------------------------------
# NVIDIA Jetson Nano (JetPack 4, kernel 4.9)

# (rail, mV, mA, mW) of the ina3221x IIO device; the driver reads power from its own registers,
# so mW is close to, not exactly, mV * mA / 1000.
_NANO_RAILS = [("POM_5V_IN", 5080, 423, 2148), ("POM_5V_GPU", 5064, 79, 400), ("POM_5V_CPU", 5056, 239, 1208)]


_NANO_FREQS = _khz(
    "102000 204000 307200 403200 518400 614400 710400 825600 921600 1036800 1132800 1224000 1326000"
    " 1428000 1479000"
)


def build_jetson_nano(root: Path) -> BoardTree:
    sys, proc = _Tree(), _Tree()
    _device_tree(
        sys,
        proc,
        "NVIDIA Jetson Nano Developer Kit",
        ["nvidia,p3450-0000", "nvidia,jetson-nano", "nvidia,tegra210"],
    )
    # soctherm zones plus the fan-estimator pseudo zone; PMIC-Die is a constant 100000 on every Nano.
    zones = [
        _Zone("AO-therm", 39500),
        _Zone("CPU-therm", 33500),
        _Zone("GPU-therm", 32500),
        _Zone("PLL-therm", 31000),
        _Zone("PMIC-Die", 100000),
        _Zone("thermal-fan-est", 33400, policy="pid_thermal_gov"),
    ]
    _thermal(sys, zones)
    # The downstream INA3221 IIO driver on the VI i2c bus (i2c-6) under host1x.
    iio = "devices/50000000.host1x/546c0000.i2c/i2c-6/6-0040/iio:device0"
    attrs: dict[str, Attr] = {"name": "ina3221x", "running_mode": 1}
    for ch, (rail, mv, ma, mw) in enumerate(_NANO_RAILS):
        attrs |= {
            f"rail_name_{ch}": rail,
            f"in_voltage{ch}_input": mv,
            f"in_current{ch}_input": ma,
            f"in_power{ch}_input": mw,
            f"crit_current_limit_{ch}": 6040,
            f"warn_current_limit_{ch}": 6040,
        }
    sys.attrs(iio, attrs)
    sys.symlink("bus/i2c/drivers/ina3221x/6-0040", iio.rsplit("/", 1)[0])
    sys.symlink("bus/iio/devices/iio:device0", iio)
    sys.mkdir("class/hwmon")  # the class exists but holds no chip on a stock Nano
    # Nano's own fan driver: plain attributes, no hwmon chip.
    sys.attrs(
        "devices/pwm-fan",
        {
            "cur_pwm": 90,
            "target_pwm": 90,
            "pwm_cap": 255,
            "temp_control": 1,
            "tach_enable": 1,
            "rpm_measured": 1780,
            "step_time": 100,
        },
    )
    sys.attrs("devices/gpu.0", {"load": 312})  # per mille
    _tegra_gpu(sys, "devices/57000000.gpu", "gpu", 76800000, 76800000, 921600000)
    # JetPack 4's EMC: clock and bandwidth manager in debugfs, activity in plain sysfs
    sys.attrs("kernel/debug/clk/override.emc", {"clk_rate": 1600000000, "clk_state": 0})
    sys.attrs("kernel/debug/tegra_bwmgr", {"emc_max_rate": 1600000000, "emc_min_rate": 204000000})
    sys.attrs("kernel/actmon_avg_activity", {"mc_all": 182490})
    _cpufreq(
        sys,
        4,
        [
            _Policy(
                cpus=(0, 1, 2, 3),
                cur_khz=921600,
                min_khz=102000,
                max_khz=1479000,
                driver="tegra",
                governor="schedutil",
                governors=(
                    "interactive",
                    "conservative",
                    "ondemand",
                    "userspace",
                    "powersave",
                    "performance",
                    "schedutil",
                ),
                freqs=_NANO_FREQS,
                latency=300000,
            )
        ],
    )
    server = _argv(
        "/home/nano/llama.cpp/build/bin/llama-server -m /home/nano/models/tinyllama-1.1b-q4_0.gguf"
        " --port 8080 -t 4"
    )
    _procfs(
        proc,
        _ProcSpec(
            osrelease="4.9.337-tegra",
            kernel=(4, 9),
            ncpu=4,
            uptime_s=51_207,
            busy=0.27,
            psi=False,
            mem=_Mem(
                total=4_059_712,
                free=1_290_476,
                available=2_408_004,
                buffers=41_568,
                cached=1_151_132,
                anon=1_377_812,
                shmem=24_600,
                slab_reclaimable=48_264,
                slab_unreclaimable=62_880,
                swap_total=2_029_856,
                swap_free=1_987_412,
            ),
            loadavg="2.31 2.05 1.77 3/612 7803",
            processes=tuple(_inference_processes("/usr/local/bin/ollama", server, scale=1)),
        ),
    )
    return _finish(root, sys, proc, rootfs=_nvpmodel([(0, "MAXN"), (1, "5W")], 0, None, _L4T_NANO))


# ---------------------------------------------------------------------------------------------
# NVIDIA Jetson Xavier NX (JetPack 5.1, kernel 5.10)

_XAVIER_RAILS = [("VDD_IN", 5064, 1480), ("VDD_CPU_GPU_CV", 5056, 612), ("VDD_SOC", 5060, 540)]
_XAVIER_FREQS = _khz(
    "115200 192000 268800 345600 422400 499200 576000 652800 729600 806400 883200 960000 1036800"
    " 1113600 1190400 1267200 1344000 1420800 1497600 1574400 1651200 1728000 1804800 1881600 1907200"
)


def build_jetson_xavier_nx(root: Path) -> BoardTree:
    sys, proc = _Tree(), _Tree()
    _device_tree(
        sys,
        proc,
        "NVIDIA Jetson Xavier NX Developer Kit",
        ["nvidia,p3509-0000+p3668-0001", "nvidia,p3668-0001", "nvidia,tegra194"],
    )
    zones = [
        ("AO-therm", 37500),
        ("CPU-therm", 40000),
        ("GPU-therm", 38500),
        ("PLL-therm", 38000),
        ("AUX-therm", 37000),
        ("Tdiode_tegra", 39250),
        ("Tboard_tegra", 35000),
        ("thermal-fan-est", 39000),
        ("PMIC-Die", 50000),
    ]
    _thermal(sys, [_Zone(name, temp) for name, temp in zones], cooling=[("pwm-fan", 2, 255)])
    # The carrier's INA3221 on i2c-7 (3160000.i2c), upstream hwmon driver since JetPack 5
    i2c_dev = "devices/platform/3160000.i2c/i2c-7/7-0040"
    sys.attrs(i2c_dev, {"name": "ina3221"})
    _hwmon(sys, 1, i2c_dev, _ina3221_hwmon(_XAVIER_RAILS))
    sys.symlink("bus/i2c/drivers/ina3221/7-0040", i2c_dev)
    _hwmon(sys, 2, "devices/platform/pwm-fan", {"name": "pwmfan", "pwm1": 96})
    _hwmon(sys, 3, "devices/platform/39c0000.tachometer", {"name": "pwm_tach", "rpm": 2050})
    sys.attrs("devices/platform/gpu.0", {"load": 87})
    _tegra_gpu(sys, "devices/platform/17000000.gv11b", "gv11b", 114750000, 114750000, 1109250000)
    sys.attrs(
        "kernel/debug/bpmp/debug/clk/emc",
        {"rate": 1600000000, "max_rate": 1600000000, "min_rate": 204000000, "mrq_rate_locked": 0},
    )
    sys.attrs("kernel/actmon_avg_activity", {"mc_all": 96000})
    _cpufreq(
        sys,
        6,
        [
            _Policy(
                cpus=(first, first + 1),
                cur_khz=1420800,
                min_khz=1420800 if first == 0 else 115200,
                max_khz=1420800 if first == 0 else 1907200,
                driver="tegra194",
                governor="schedutil",
                governors=_TEGRA_GOVERNORS,
                freqs=_XAVIER_FREQS,
                latency=500000,
            )
            for first in (0, 2, 4)
        ],
    )
    server = _argv("/opt/llama.cpp/build/bin/llama-server -m /opt/models/qwen2.5-1.5b-q4_k_m.gguf -ngl 99")
    _procfs(
        proc,
        _ProcSpec(
            osrelease="5.10.120-tegra",
            kernel=(5, 10),
            ncpu=6,
            uptime_s=20_514,
            busy=0.21,
            mem=_Mem(
                total=7_999_000,
                free=2_948_112,
                available=5_104_880,
                buffers=61_020,
                cached=2_203_440,
                anon=2_201_316,
                shmem=44_812,
                slab_reclaimable=92_100,
                slab_unreclaimable=110_564,
                swap_total=3_999_500,
                swap_free=3_999_500,
            ),
            loadavg="1.42 1.18 0.97 2/488 3301",
            processes=tuple(_inference_processes("/usr/local/bin/ollama", server, scale=1)),
        ),
    )
    modes = [(0, "MODE_15W_2CORE"), (1, "MODE_15W_4CORE"), (2, "MODE_15W_6CORE"), (8, "MODE_20W_6CORE")]
    return _finish(root, sys, proc, rootfs=_nvpmodel(modes, 8, "cool", _L4T_XAVIER))


# ---------------------------------------------------------------------------------------------
# x86 laptop: ThinkPad X1 Carbon Gen 9

_RAPL_RANGE_UJ = 262143328850


def _rapl_zone(
    sys: _Tree, zone_dir: str, name: str, energy_uj: int, limits: Sequence[tuple[str, int, int]]
) -> None:
    """A powercap zone: name, energy_uj (root-only 0400 on kernels >= 5.10; left readable here),
    max_energy_range_uj, enabled and (constraint name, power limit µW, time window µs) triples."""
    attrs: dict[str, Attr] = {
        "name": name,
        "enabled": 1,
        "energy_uj": energy_uj,
        "max_energy_range_uj": _RAPL_RANGE_UJ,
    }
    for index, (constraint, limit_uw, window_us) in enumerate(limits):
        attrs |= {
            f"constraint_{index}_name": constraint,
            f"constraint_{index}_power_limit_uw": limit_uw,
            f"constraint_{index}_time_window_us": window_us,
        }
    sys.attrs(zone_dir, attrs)


def _rapl(sys: _Tree) -> None:
    """intel-rapl (MSR) package-0 with core/uncore subzones and psys, plus intel-rapl-mmio package-0
    (processor_thermal_device on Tiger Lake): the same package energy seen twice. No dram
    subzone: client parts have none (servers do)."""
    msr = "devices/virtual/powercap/intel-rapl"
    mmio = "devices/virtual/powercap/intel-rapl-mmio"
    package_limits = [("long_term", 28000000, 27983872), ("short_term", 64000000, 2440)]
    zones = {
        "intel-rapl:0": ("package-0", 48_213_847_553, package_limits),
        "intel-rapl:0/intel-rapl:0:0": ("core", 21_339_812_341, [("long_term", 0, 976)]),
        "intel-rapl:0/intel-rapl:0:1": ("uncore", 1_874_650_112, [("long_term", 0, 976)]),
        "intel-rapl:1": ("psys", 95_210_931_752, [("long_term", 0, 27983872), ("short_term", 0, 976)]),
    }
    for sub, (name, energy, limits) in zones.items():
        _rapl_zone(sys, f"{msr}/{sub}", name, energy, limits)
        sys.symlink(f"class/powercap/{sub.rsplit('/', 1)[-1]}", f"{msr}/{sub}")
    _rapl_zone(sys, f"{mmio}/intel-rapl-mmio:0", "package-0", 48_213_502_918, package_limits)
    sys.symlink("class/powercap/intel-rapl-mmio:0", f"{mmio}/intel-rapl-mmio:0")
    for control in (msr, mmio):
        sys.attrs(control, {"enabled": 1})
        sys.symlink(f"class/powercap/{control.rsplit('/', 1)[-1]}", control)


def _laptop_hwmon(sys: _Tree) -> None:
    coretemp: dict[str, Attr] = {"name": "coretemp"}
    for index, (label, temp) in enumerate(
        [("Package id 0", 47000), ("Core 0", 45000), ("Core 1", 47000), ("Core 2", 44000), ("Core 3", 46000)],
        start=1,
    ):
        coretemp |= {
            f"temp{index}_label": label,
            f"temp{index}_input": temp,
            f"temp{index}_max": 100000,
            f"temp{index}_crit": 100000,
            f"temp{index}_crit_alarm": 0,
        }
    # hwmon0 (acpitz) and hwmon7 (iwlwifi_1) are the thermal core's chips, made in _thermal.
    # BAT0: power_supply's hwmon has voltage only, since ThinkPads report power_now, not current_now.
    bat0 = "devices/LNXSYSTM:00/LNXSYBUS:00/PNP0C0A:00/power_supply/BAT0"
    _hwmon(sys, 1, bat0, {"name": "BAT0", "in0_input": 16892}, glue=False)
    _hwmon(
        sys,
        2,
        "devices/pci0000:00/0000:00:06.0/0000:04:00.0/nvme/nvme0",
        {
            "name": "nvme",
            "temp1_label": "Composite",
            "temp1_input": 38850,
            "temp1_alarm": 0,
            "temp1_crit": 84850,
            "temp1_max": 81850,
            "temp1_min": -273150,
            "temp2_label": "Sensor 1",
            "temp2_input": 38850,
            "temp2_max": 65261850,
            "temp2_min": -273150,
            "temp3_label": "Sensor 2",
            "temp3_input": 41850,
            "temp3_max": 65261850,
            "temp3_min": -273150,
        },
        glue=False,
    )
    for index, (port, (mv, ma, max_ma)) in enumerate(
        {"001": (20000, 2870, 3250), "002": (0, 0, 0)}.items(), 3
    ):
        _hwmon(
            sys,
            index,
            f"devices/platform/USBC000:00/power_supply/ucsi-source-psy-USBC000:{port}",
            {
                "name": f"ucsi_source_psy_USBC000:{port}",
                "in0_input": mv,
                "in0_min": mv,
                "in0_max": mv,
                "curr1_input": ma,
                "curr1_max": max_ma,
            },
            glue=False,
        )
    _hwmon(sys, 5, "devices/platform/coretemp.0", coretemp)
    _hwmon(
        sys,
        6,
        "devices/platform/thinkpad_hwmon",
        {"name": "thinkpad", "fan1_input": 2400, "pwm1": 128, "pwm1_enable": 2},
    )
    # Old-style chip grafted from a MacBook: hwmon8 holds only the "device" link; name and the
    # sensors sit in the device directory (hwmonN/device/), as applesmc does.
    applesmc = "devices/platform/applesmc.768"
    sys.attrs(
        applesmc,
        {
            "name": "applesmc",
            "temp1_label": "TA0P",
            "temp1_input": 32250,
            "temp2_label": "TC0P",
            "temp2_input": 51000,
            "fan1_label": "Master",
            "fan1_input": 2002,
            "fan1_min": 2000,
            "fan1_max": 6156,
        },
    )
    sys.symlink("devices/platform/applesmc.768/hwmon/hwmon8/device", applesmc)
    sys.symlink("class/hwmon/hwmon8", "devices/platform/applesmc.768/hwmon/hwmon8")


def build_x86_laptop(root: Path) -> BoardTree:
    sys, proc = _Tree(), _Tree()
    dmi = "devices/virtual/dmi/id"
    sys.attrs(
        dmi,
        {
            "sys_vendor": "LENOVO",
            "product_name": "20XW00A7US",
            "product_version": "ThinkPad X1 Carbon Gen 9",
            "product_family": "ThinkPad X1 Carbon Gen 9",
            "board_vendor": "LENOVO",
            "board_name": "20XW00A7US",
            "board_version": "SDK0J40697 WIN",
            "bios_vendor": "LENOVO",
            "bios_version": "N32ET86W (1.62 )",
            "bios_date": "11/14/2023",
            "bios_release": "1.62",
            "chassis_type": 10,
            "chassis_vendor": "LENOVO",
        },
    )
    sys.symlink("class/dmi/id", dmi)
    _thermal(
        sys,
        [
            _Zone("acpitz", 48000, hwmon=0, hwmon_crit=128000, trips=(("critical", 128000),)),
            _Zone("INT3400 Thermal", 20000, policy="user_space"),  # int3400 reports a fixed 20 °C
            _Zone("x86_pkg_temp", 47000, policy="user_space", trips=(("passive", 0), ("passive", 0))),
            _Zone("iwlwifi_1", 43000, hwmon=7),
        ],
        cooling=[("Processor", 0, 3)] * 8 + [("intel_powerclamp", 0, 100), ("TCC Offset", 0, 63)],
    )
    _laptop_hwmon(sys)
    _rapl(sys)
    _cpufreq(
        sys,
        8,
        [
            _Policy(
                cpus=(cpu,),
                cur_khz=cur,
                min_khz=400000,
                max_khz=4700000,
                driver="intel_pstate",
                governor="powersave",
                governors=("performance", "powersave"),
                extra=(
                    ("base_frequency", 2800000),
                    ("energy_performance_preference", "balance_performance"),
                    (
                        "energy_performance_available_preferences",
                        "default performance balance_performance balance_power power ",
                    ),
                ),
            )
            for cpu, cur in enumerate([1198245, 2800011, 400000, 4105332, 1500012, 3901440, 400000, 2300871])
        ],
    )
    server = _argv(
        "/home/alex/src/llama.cpp/build/bin/llama-server"
        " -m /home/alex/models/Llama-3.2-3B-Instruct-Q4_K_M.gguf --port 8080 -t 8 -c 8192"
    )
    extra = (
        # systemd --user's PAM helper: a comm made of parentheses.
        _Process(
            1187,
            "(sd-pam)",
            ("(sd-pam)",),
            ppid=1180,
            uid=1000,
            start=1_922,
            vsize_kb=104_448,
            rss_kb=5_120,
            rss_file_kb=3_072,
            text_kb=88,
            data_kb=2_304,
        ),
        # tmux names its server process (prctl): comm with a space; cmdline stays the client's argv.
        _Process(
            2210,
            "tmux: server",
            ("tmux", "new-session", "-s", "bench"),
            uid=1000,
            utime=311,
            stime=140,
            start=33_010,
            vsize_kb=12_544,
            rss_kb=6_272,
            rss_file_kb=3_584,
            text_kb=780,
            data_kb=2_944,
            cpu=5,
        ),
    )
    _procfs(
        proc,
        _ProcSpec(
            osrelease="6.8.0-45-generic",
            kernel=(6, 8),
            ncpu=8,
            uptime_s=263_511,
            busy=0.09,
            x86=True,
            mem=_Mem(
                total=15_992_496,
                free=6_120_864,
                available=10_742_212,
                buffers=312_448,
                cached=4_810_332,
                anon=3_904_120,
                shmem=612_904,
                slab_reclaimable=301_736,
                slab_unreclaimable=164_092,
                swap_total=4_194_300,
                swap_free=4_194_300,
            ),
            loadavg="0.64 0.71 0.69 1/1318 41877",
            processes=(*_inference_processes("/usr/local/bin/ollama", server, scale=2), *extra),
        ),
    )
    return _finish(root, sys, proc)


BOARDS: dict[str, Callable[[Path], BoardTree]] = {
    "pi5": build_pi5,
    "jetson_orin": build_jetson_orin,
    "jetson_nano": build_jetson_nano,
    "jetson_xavier_nx": build_jetson_xavier_nx,
    "x86_laptop": build_x86_laptop,
}


# ---------------------------------------------------------------------------------------------
# Real machines, captured with ``exporter capture`` (tests/fixtures/<name>/{sys,proc})

CAPTURED = Path(__file__).parent / "fixtures"


def captured(name: str) -> Callable[[Path], BoardTree]:
    """A builder that lays out a captured machine's tree (symlinks kept) under ``root``."""

    def build(root: Path) -> BoardTree:
        import shutil

        shutil.copytree(CAPTURED / name, root, symlinks=True)
        return BoardTree(root / "sys", root / "proc", None)

    return build


# The machine edgemeter is developed on: a 2-core KVM guest with almost no sensors (no hwmon,
# thermal zones, cpufreq or RAPL): what the exporter serves on a bare VM.
BOARDS["dev_vm"] = captured("dev_vm")
