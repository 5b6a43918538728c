"""The run's manifest (meta ``manifest``): what changes results, so two runs can be told apart.

From the exporter's whole page at the run's start and at its end: the board's kernel, each CPU's
governor and scaling limits, the Jetson power mode, ``jetson_clocks`` and fan profile, the GPU's
clock range and governor, the throttling bits and the firmware (Pi VideoCore, Jetson L4T)
(docs/metrics.md names each series). From the runner itself: the CPU affinity it runs with (the
embedded engine's threads run there too). The model's digest, the backend and the threads are in
the meta already (``model``, ``options``).
Each fact is keyed by its series and labels (runner/exporter_client.parse_page), so
``runner compare`` lists what differs as is.
"""

from __future__ import annotations

import os
from typing import Any

SERIES = (
    "edge_board_info",
    "edge_cpu_governor_info",
    "edge_cpu_scaling_frequency_min_hertz",
    "edge_cpu_scaling_frequency_max_hertz",
    "edge_jetson_power_mode_info",
    "edge_jetson_clocks_pinned",
    "edge_fan_profile_info",
    "edge_gpu_frequency_min_hertz",
    "edge_gpu_frequency_max_hertz",
    "edge_gpu_governor_info",
    "edge_throttled",
    "edge_firmware_info",
)


def runner_facts() -> dict[str, Any]:
    """What the runner's own process runs with."""
    try:
        affinity: list[int] | None = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        affinity = None
    return {"cpu_affinity": affinity, "cpu_count": os.cpu_count()}
