"""Jetson integrated-GPU load: the nvgpu driver's ``load`` file, per mille (0-1000).

Found at ``devices/gpu.0/load`` or ``devices/57000000.gpu/load`` (Nano, L4T 32),
``devices/platform/gpu.0/load`` or under ``devices/platform/bus@0/*.gpu/`` (Orin, L4T 36), and
under the GPU's own name on L4T 35 / Xavier / TX2 (``17000000.ga10b``, ``17000000.gv11b``,
``17000000.gp10b``). The first that exists is the GPU: Jetsons have one, often reachable
through several of these paths.
"""

from __future__ import annotations

import os

from edgemeter.exporter.sensors import globbed
from edgemeter.exporter.sensors.sysfs import ReadLog, read_number

_GPU_NAMES = ("gpu.0", "*.gpu", "*.ga10b", "*.gv11b", "*.gp10b", "*.gm20b")
CANDIDATES = tuple(
    f"{parent}/{name}/load"
    for parent in ("devices", "devices/platform", "devices/platform/bus@0")
    for name in _GPU_NAMES
)


def read_gpu_load(sysfs: str, rlog: ReadLog) -> float | None:
    """GPU busy ratio 0-1; None when no load file exists (not a Jetson). The file is found by
    glob once (exporter/sensors/globbed.py): eighteen globs a scrape would list
    ``devices/platform`` six times on a Jetson."""
    for _ in range(2):  # the remembered file or, where it went away (a driver rebound), the new one
        path = globbed.find(sysfs, CANDIDATES)
        if path is None:
            return None
        if os.path.exists(path):
            return read_number(path, rlog, 0.001)
        globbed.forget(sysfs, CANDIDATES)
    return None
