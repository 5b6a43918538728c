"""The exporter's settings, frozen: built once by the CLI and passed to every collector.

Passing a value object (rather than module globals set by the CLI) lets tests run several
exporters with different roots in one process.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgemeter.exporter.sensors.sysfs import DEFAULT_PROCFS, DEFAULT_SYSFS


@dataclass(frozen=True)
class Config:
    sysfs: str = DEFAULT_SYSFS
    procfs: str = DEFAULT_PROCFS
    rootfs: str = "/"  # --rootfs: /etc and /var files (nvpmodel, nvfancontrol), node_exporter's --path.rootfs
    vcgencmd: str | None = None  # resolved executable path, None when absent
    vcgencmd_timeout: float = 0.3
    hailortcli: str | None = "hailortcli"  # HailoRT's CLI (name on PATH or a path), if no Python API
    processes: tuple[str, ...] = ()  # --process regular expressions
    # --collector.hwmon.{chip,sensor}-{include,exclude}: node_exporter's filters (unanchored
    # regular expressions on the chip's name, and on "chip;channel" for a sensor)
    hwmon_chip_include: str | None = None
    hwmon_chip_exclude: str | None = None
    hwmon_sensor_include: str | None = None
    hwmon_sensor_exclude: str | None = None
