"""What the board says it is: device-tree model/compatible (ARM boards), DMI (x86), kernel.

Device-tree strings are read from ``<procfs>/device-tree`` (a link into the firmware tree on a
real board) and, failing that, ``<sysfs>/firmware/devicetree/base``. Everything is optional:
a board without a device tree has DMI, and a VM may have neither.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from edgemeter.exporter.sensors.sysfs import ReadLog, read_bytes, read_text


@dataclass(frozen=True)
class Identity:
    model: str | None  # "Raspberry Pi 5 Model B Rev 1.0", or "<sys_vendor> <product_name>"
    compatible: tuple[str, ...]  # device-tree compatible list, most specific first
    kernel: str | None  # osrelease
    cpu_model: str | None  # /proc/cpuinfo "model name" (x86), the SoC name of a DMI box
    has_dmi: bool


def _device_tree(sysfs: str, procfs: str, name: str, rlog: ReadLog) -> bytes | None:
    for base in (os.path.join(procfs, "device-tree"), os.path.join(sysfs, "firmware", "devicetree", "base")):
        data = read_bytes(os.path.join(base, name), rlog)
        if data:
            return data
    return None


def _cpu_model(procfs: str, rlog: ReadLog) -> str | None:
    data = read_bytes(os.path.join(procfs, "cpuinfo"), rlog) or b""
    for line in data.decode("utf-8", "replace").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            return value.strip()
    return None


def read_identity(sysfs: str, procfs: str, rlog: ReadLog) -> Identity:
    model_raw = _device_tree(sysfs, procfs, "model", rlog)
    compat_raw = _device_tree(sysfs, procfs, "compatible", rlog) or b""
    compatible = tuple(s.decode("utf-8", "replace") for s in compat_raw.split(b"\0") if s)
    dmi = os.path.join(sysfs, "class", "dmi", "id")
    product = read_text(os.path.join(dmi, "product_name"), rlog)
    vendor = read_text(os.path.join(dmi, "sys_vendor"), rlog)
    if model_raw:
        model: str | None = model_raw.decode("utf-8", "replace").strip("\0\n ")
    else:
        model = " ".join(p for p in (vendor, product) if p) or None
    return Identity(
        model=model,
        compatible=compatible,
        kernel=read_text(os.path.join(procfs, "sys", "kernel", "osrelease"), rlog),
        cpu_model=None if compatible else _cpu_model(procfs, rlog),
        has_dmi=product is not None,
    )
