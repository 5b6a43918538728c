"""What jetson-stats (jtop) shows a Jetson user, read from files: the GPU's devfreq clock, the
memory controller (EMC), the nvpmodel power mode and the fan profile.

jtop forks ``nvpmodel -q`` and ``nvfancontrol -q``; the same facts are in files those tools
keep, so a scrape reads them and never forks:

- GPU: ``class/devfreq/*`` whose ``device/of_node/name`` is a Tegra GPU (Nano ``57000000.gpu``,
  Xavier ``17000000.gv11b``, Orin ``17000000.ga10b`` on JetPack 5, ``17000000.gpu`` on 6):
  ``cur_freq``, ``min_freq``, ``max_freq`` (Hz) and ``governor``.
- EMC: its clock is in debugfs (BPMP ``kernel/debug/bpmp/debug/clk/emc/`` on Xavier and Orin,
  ``kernel/debug/clk/override.emc`` with ``tegra_bwmgr`` on the Nano), its activity in
  ``kernel/actmon_avg_activity/mc_all`` or debugfs' ``cactmon``/``actmon``. debugfs is root's
  only. Utilization is ``mc_all`` (kHz of busy clock) over the EMC clock in kHz: the same two
  numbers jetson-stats divides. It is not checked against tegrastats on hardware.
- Power mode: ``var/lib/nvpmodel/status`` (``pmode:NNNN``, the id nvpmodel last set) under the
  root filesystem, named by ``etc/nvpmodel.conf``'s ``POWER_MODEL ID=n NAME=…`` lines.
- Fan profile: nvfancontrol's ``var/lib/nvfancontrol/status`` (``FAN1:FAN_PROFILE:quiet``), else
  the default in ``etc/nvfancontrol.conf`` (``<FAN 1>`` … ``FAN_DEFAULT_PROFILE quiet``); the Nano's
  own ``devices/pwm-fan`` driver (JetPack 4) gives its target and current PWM and rpm instead.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from edgemeter.exporter.sensors.sysfs import ReadLog, list_dir, read_number, read_text

GPU_NODE_NAMES = frozenset({"gpu", "gp10b", "gv11b", "ga10b", "gb10b"})  # as jetson-stats matches them
EMC_CLOCKS = (  # (current rate, maximum rate) in Hz, relative to sysfs
    ("kernel/debug/bpmp/debug/clk/emc/rate", "kernel/debug/bpmp/debug/clk/emc/max_rate"),
    ("kernel/debug/clk/override.emc/clk_rate", "kernel/debug/tegra_bwmgr/emc_max_rate"),
)
EMC_ACTIVITY = (
    "kernel/actmon_avg_activity/mc_all",
    "kernel/debug/cactmon/mc_all",
    "kernel/debug/bpmp/debug/actmon/mc_all_avg_activity",
)
DEBUGFS = "kernel/debug"
PWM_FAN = ("devices/pwm-fan", "devices/platform/pwm-fan")  # the Nano's non-hwmon driver
NVPMODEL_STATUS, NVPMODEL_CONF = "var/lib/nvpmodel/status", "etc/nvpmodel.conf"
L4T_RELEASE = "etc/nv_tegra_release"  # "# R35 (release), REVISION: 4.1, GCID: …, DATE: …"
_L4T = re.compile(r"#\s*R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)(?:.*DATE:\s*([^,]+))?")
NVFANCONTROL_STATUS, NVFANCONTROL_CONF = "var/lib/nvfancontrol/status", "etc/nvfancontrol.conf"
# what ``exporter capture`` copies for this module (under sysfs, and under the root filesystem)
CAPTURE_SYSFS = (
    "class/devfreq/*/*",
    "class/devfreq/*/device/of_node/name",
    *(path for pair in EMC_CLOCKS for path in pair),
    *EMC_ACTIVITY,
    *(f"{fan}/*" for fan in PWM_FAN),
)
CAPTURE_ROOTFS = (NVPMODEL_STATUS, NVPMODEL_CONF, NVFANCONTROL_STATUS, NVFANCONTROL_CONF, L4T_RELEASE)
_POWER_MODEL = re.compile(r"POWER_MODEL\s+ID=(\d+)\s+NAME=(\S+?)\s*>")
_PMODE = re.compile(r"pmode:(\d+)")
_FAN_BLOCK = re.compile(r"<\s*FAN\s+(\d+)\s*>")
_FAN_DEFAULT = re.compile(r"^\s*FAN_DEFAULT_PROFILE\s+(\S+)")
_FAN_STATUS = re.compile(r"^\s*FAN(\d+):FAN_PROFILE:(\S+)\s*$")


@dataclass(frozen=True)
class Devfreq:
    name: str  # the devfreq device, e.g. 17000000.gpu
    cur_hertz: float | None
    min_hertz: float | None
    max_hertz: float | None
    governor: str | None


@dataclass(frozen=True)
class Emc:
    hertz: float | None
    max_hertz: float | None
    utilization: float | None  # 0-1


@dataclass(frozen=True)
class PowerMode:
    id: int
    name: str | None  # None when nvpmodel.conf does not name it


@dataclass(frozen=True)
class PwmFan:
    fan: str
    duty: float | None  # cur_pwm / pwm_cap
    target: float | None  # target_pwm / pwm_cap
    rpm: float | None


_GPU_DEVFREQ: dict[str, bool] = {}  # devfreq entry -> whether its device is a GPU


def _is_gpu(path: str) -> bool:
    """Whether the devfreq entry at ``path`` is a GPU, by its device-tree node's name. A device's
    node never changes while its entry exists, and entries are named by device, so the answer is
    remembered (a Jetson has several devfreq devices: one read each per scrape otherwise); a
    failed read is asked again next time."""
    known = _GPU_DEVFREQ.get(path)
    if known is None:
        probe = ReadLog()
        node = read_text(f"{path}/device/of_node/name", probe)  # absent on non-DT devices
        known = node is not None and (node.lower() in GPU_NODE_NAMES or "gpu" in node.lower())
        if not probe.errors and len(_GPU_DEVFREQ) < 1024:
            _GPU_DEVFREQ[path] = known
    return known


def read_gpu_devfreq(sysfs: str, rlog: ReadLog) -> list[Devfreq] | None:
    """Every Tegra GPU devfreq device; None without a devfreq class."""
    base = os.path.join(sysfs, "class", "devfreq")
    entries = list_dir(base)
    if entries is None:
        return None
    found = []
    for entry in entries:
        path = f"{base}/{entry}"
        if not _is_gpu(path):
            continue
        found.append(
            Devfreq(
                entry,
                read_number(f"{path}/cur_freq", rlog),
                read_number(f"{path}/min_freq", rlog, required=False),
                read_number(f"{path}/max_freq", rlog, required=False),
                read_text(f"{path}/governor", ReadLog()),
            )
        )
    return found


def read_emc(sysfs: str, rlog: ReadLog) -> Emc | None:
    """The EMC's clock and utilization where readable; None where there is neither."""
    hertz = max_hertz = None
    for rate, top in EMC_CLOCKS:
        hertz = read_number(os.path.join(sysfs, rate), rlog, required=False)
        if hertz is not None:
            max_hertz = read_number(os.path.join(sysfs, top), rlog, required=False)
            break
    activity = None
    for path in EMC_ACTIVITY:
        activity = read_number(os.path.join(sysfs, path), rlog, required=False)
        if activity is not None:
            break
    if hertz is None and activity is None:
        return None
    # actmon's average activity is in kHz of busy clock: over the clock in kHz, the busy share
    utilization = activity / (hertz / 1000) if activity is not None and hertz else None
    return Emc(hertz, max_hertz, utilization)


def debugfs_denied(sysfs: str, rlog: ReadLog) -> bool:
    """Whether a read under debugfs was refused (not root)."""
    root = os.path.join(sysfs, DEBUGFS)
    return any(p.startswith(root) for p in rlog.denied)


def read_power_mode(rootfs: str, rlog: ReadLog) -> PowerMode | None:
    """The nvpmodel mode in force; None where nvpmodel keeps no status (not a Jetson, or never set)."""
    status = read_text(os.path.join(rootfs, NVPMODEL_STATUS), rlog)
    m = _PMODE.search(status or "")
    if m is None:
        if status is not None:
            rlog.error(NVPMODEL_STATUS, f"no pmode in {status[:40]!r}")
        return None
    mode = int(m.group(1))
    conf = read_text(os.path.join(rootfs, NVPMODEL_CONF), ReadLog(), whole=True) or ""
    names = {int(i): name for i, name in _POWER_MODEL.findall(conf)}
    return PowerMode(mode, names.get(mode))


def read_fan_profiles(rootfs: str, rlog: ReadLog) -> list[tuple[str, str, str]] | None:
    """(fan, profile, where from) per fan: nvfancontrol's status, else its configured default."""
    status = read_text(os.path.join(rootfs, NVFANCONTROL_STATUS), ReadLog(), whole=True)
    found = [
        (m.group(1), m.group(2), "status")
        for line in (status or "").splitlines()
        if (m := _FAN_STATUS.match(line))
    ]
    if found:
        return found
    conf = read_text(os.path.join(rootfs, NVFANCONTROL_CONF), rlog, whole=True)
    if conf is None:
        return None
    fan = None
    for line in conf.splitlines():
        if block := _FAN_BLOCK.search(line):
            fan = block.group(1)
        elif fan is not None and (default := _FAN_DEFAULT.match(line)):
            found.append((fan, default.group(1), "config default"))
    return found


def _share(value: float | None, cap: float) -> float | None:
    return value / cap if value is not None and cap else None


def read_pwm_fan(sysfs: str, rlog: ReadLog) -> PwmFan | None:
    """The Nano's pwm-fan driver (JetPack 4, not hwmon); None where the board has none."""
    for rel in PWM_FAN:
        path = os.path.join(sysfs, rel)
        cap = read_number(f"{path}/pwm_cap", ReadLog(), required=False)
        if cap is None:
            continue
        cur = read_number(f"{path}/cur_pwm", rlog, required=False)
        target = read_number(f"{path}/target_pwm", rlog, required=False)
        rpm = read_number(f"{path}/rpm_measured", rlog, required=False)

        return PwmFan("1", _share(cur, cap), _share(target, cap), rpm)
    return None


def read_l4t_release(rootfs: str, rlog: ReadLog) -> tuple[str, str] | None:
    """(L4T version such as "35.4.1", its build date) from the BSP's release file; None off a Jetson."""
    text = read_text(os.path.join(rootfs, L4T_RELEASE), rlog, whole=True)
    m = _L4T.match(text.splitlines()[0]) if text else None
    if text and not m:
        rlog.error(L4T_RELEASE, f"not an L4T release line: {text.splitlines()[0][:60]!r}")
    return (f"{m.group(1)}.{m.group(2)}", (m.group(3) or "").strip()) if m else None
