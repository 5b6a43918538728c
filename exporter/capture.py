"""``exporter capture OUT``: the sensor files of this machine, copied into a fixture tree.

A user with a board we have never seen runs it once and sends ``OUT`` (``OUT/sys``, ``OUT/proc``):
the exporter pointed at it (``--sysfs OUT/sys --procfs OUT/proc``) serves what it serves on the
board, so the board becomes a test fixture with a golden file. What is copied:

- the files the collectors read, by the globs below (hwmon, thermal, cpufreq, powercap, the
  INA3221 drivers, GPU load, the Pi firmware's ``get_throttled``, DMI names, the device tree's
  model and compatible; /proc's stat, meminfo, loadavg, pressure, cpuinfo, osrelease), each read
  once as the exporter reads it; a file that cannot be read (root-only ``energy_uj``, an EIO) is
  left out and counted;
- the layout: a symlink on the way (``class/hwmon/hwmon2`` → ``../../devices/...``) is made again
  with the same relative target, so readers that follow ``device/`` links work on the copy;
- never a secret: serial numbers, UUIDs and asset tags (DMI ``*_serial``, ``product_uuid``, the
  Pi's ``Serial`` line in cpuinfo) and no process directories.

The globs are a list of their own, but a test keeps it honest: every fixture board, captured and
scraped again, must give the exporter's very same output.
"""

from __future__ import annotations

import glob
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from edgemeter.exporter.sensors import tegra
from edgemeter.exporter.sensors.sysfs import DEFAULT_PROCFS, DEFAULT_SYSFS
from edgemeter.exporter.sensors.vcgencmd import THROTTLED_SYSFS

SYSFS_GLOBS = (
    "class/hwmon/*/*",
    "class/hwmon/*/device/*",
    "class/thermal/*/*",
    "devices/system/cpu/cpufreq/policy*/*",
    "devices/system/cpu/cpu[0-9]*/cpufreq/*",
    "devices/system/cpu/online",
    "devices/system/cpu/present",
    "class/powercap/*/*",
    "class/dmi/id/*",
    "bus/i2c/drivers/ina3221/*/hwmon/*/*",
    "bus/i2c/drivers/ina3221x/*/iio:device*/*",
    "devices/gpu.0/load",
    "devices/platform/gpu.0/load",
    "devices/platform/*gpu*/load",
    "devices/platform/*/*gpu*/load",
    "firmware/devicetree/base/model",
    "firmware/devicetree/base/compatible",
    *THROTTLED_SYSFS,  # the Pi firmware's get_throttled, where the throttled collector looks
    *tegra.CAPTURE_SYSFS,  # a Jetson's GPU devfreq, EMC and pwm-fan
)
ROOTFS_GLOBS = tegra.CAPTURE_ROOTFS  # nvpmodel's and nvfancontrol's state and config
PROCFS_GLOBS = (
    "stat",
    "meminfo",
    "loadavg",
    "pressure/*",
    "cpuinfo",
    "sys/kernel/osrelease",
    "device-tree/model",
    "device-tree/compatible",
)
SECRET_NAME = re.compile(r"serial|uuid|asset_tag", re.I)
SECRET_LINE = re.compile(rb"^(Serial|serial number)\s*:.*$", re.M)  # /proc/cpuinfo on a Pi
MAX_BYTES = 1 << 20


@dataclass
class Captured:
    files: int = 0
    links: int = 0
    unreadable: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)


def _read(path: str) -> bytes | None:
    """One file as the exporter reads it (one open, bounded reads); None when it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        chunks = []
        while len(b"".join(chunks)) < MAX_BYTES:
            block = os.read(fd, 65536)
            if not block:
                break
            chunks.append(block)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


class _Copier:
    def __init__(self, root: str, out: Path, done: Captured) -> None:
        self.root = os.path.realpath(root)
        self.out = out
        self.done = done

    def _inside(self, path: str) -> bool:
        return path == self.root or path.startswith(self.root + os.sep)

    def _mirror_links(self, rel: str) -> None:
        """Make the symlinks on ``rel``'s way again, with their relative targets (and the folders
        they point to), so that writing through them lands where the board has the file."""
        parts = rel.split(os.sep)
        for i in range(1, len(parts)):
            here = os.path.join(self.root, *parts[:i])
            if not os.path.islink(here):
                continue
            target = os.readlink(here)
            if os.path.isabs(target) or not self._inside(os.path.realpath(here)):
                continue  # it leaves the tree (/proc/device-tree): copied as a plain folder
            link = self.out.joinpath(*parts[:i])
            if not link.is_symlink():
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(target)
                os.makedirs(os.path.realpath(link), exist_ok=True)
                self.done.links += 1

    def copy(self, pattern: str) -> None:
        for path in sorted(glob.glob(os.path.join(self.root, pattern))):  # never "**": sysfs has cycles
            rel = os.path.relpath(path, self.root)
            if SECRET_NAME.search(os.path.basename(path)):
                self.done.secrets.append(rel)
                continue
            if not os.path.isfile(path):
                continue
            data = _read(path)
            if data is None:
                self.done.unreadable.append(rel)
                continue
            if os.path.basename(path) == "cpuinfo":
                data = SECRET_LINE.sub(rb"", data)
            self._mirror_links(rel)
            dest = self.out / rel
            if dest.exists():
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            self.done.files += 1


def capture(sysfs: str, procfs: str, out: Path, rootfs: str = "/") -> Captured:
    """OUT/sys, OUT/proc, and the few root-filesystem files under OUT itself (it is the copy's
    ``--rootfs``)."""
    done = Captured()
    trees = (
        (sysfs, out / "sys", SYSFS_GLOBS),
        (procfs, out / "proc", PROCFS_GLOBS),
        (rootfs, out, ROOTFS_GLOBS),
    )
    for root, dest, patterns in trees:
        copier = _Copier(root, dest, done)
        dest.mkdir(parents=True, exist_ok=True)
        for pattern in patterns:
            copier.copy(pattern)
    return done


def main(argv: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="exporter capture", description=__doc__.splitlines()[0])
    p.add_argument("out", metavar="OUT", help="new folder for the fixture (OUT/sys, OUT/proc)")
    p.add_argument("--sysfs", default=DEFAULT_SYSFS, metavar="DIR")
    p.add_argument("--procfs", default=DEFAULT_PROCFS, metavar="DIR")
    p.add_argument("--rootfs", default="/", metavar="DIR")
    args = p.parse_args(argv)
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        print(f"exporter capture: error: {out}: exists and is not empty", file=sys.stderr)
        return 2
    for flag, root in (("--sysfs", args.sysfs), ("--procfs", args.procfs), ("--rootfs", args.rootfs)):
        if not os.path.isdir(root):
            print(f"exporter capture: error: {flag} {root}: no such directory", file=sys.stderr)
            return 2
    try:
        done = capture(args.sysfs, args.procfs, out, args.rootfs)
    except OSError as exc:
        print(f"exporter capture: error: {out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(
        f"captured {done.files} files and {done.links} links into {out}; left out {len(done.unreadable)} "
        f"unreadable and {len(done.secrets)} secret ones (serials, UUIDs)",
        file=sys.stderr,
    )
    print(f"try it: exporter --sysfs {out}/sys --procfs {out}/proc --rootfs {out}", file=sys.stderr)
    return 0
