"""Jetson integrated-GPU load: the nvgpu driver's ``load`` file, per mille (0-1000).

Found at ``devices/gpu.0/load`` (Nano, L4T 32), ``devices/platform/gpu.0/load`` or under
``devices/platform/bus@0/*.gpu/`` (Orin, L4T 35/36). The first that exists is the GPU: Jetsons
have one, often reachable through several of these paths.
"""

from __future__ import annotations

import glob
import os

from exporter.sensors.sysfs import ReadLog, read_number

CANDIDATES = (
    "devices/gpu.0/load",
    "devices/platform/gpu.0/load",
    "devices/platform/*.gpu/load",
    "devices/platform/bus@0/*.gpu/load",
    "devices/platform/*gpu*/load",
)


def read_gpu_load(sysfs: str, rlog: ReadLog) -> float | None:
    """GPU busy ratio 0-1; None when no load file exists (not a Jetson)."""
    root = glob.escape(sysfs)
    for pattern in CANDIDATES:
        for path in sorted(glob.glob(os.path.join(root, pattern))):
            return read_number(path, rlog, 0.001)
    return None
