"""The rest of what jtop shows on a Jetson: GPU clock and governor, the memory controller (EMC),
the nvpmodel power mode, whether jetson_clocks pinned the clocks, and the fan profile and target.

All from files (exporter/sensors/tegra.py): no ``nvpmodel -q``, no ``jetson_clocks --show``.
jetson_clocks leaves no status behind; it pins each clock's minimum to its maximum, so "pinned"
is read the way jetson-stats reads it: every online CPU policy's and the GPU's min equals max.
"""

from __future__ import annotations

import logging

from edgemeter.exporter.collectors import families
from edgemeter.exporter.collectors.base import Collector, NoData
from edgemeter.exporter.metric_family import Family, GaugeFamily
from edgemeter.exporter.sensors.cpufreq import read_scaling_limits
from edgemeter.exporter.sensors.sysfs import ReadLog
from edgemeter.exporter.sensors.tegra import (
    debugfs_denied,
    read_emc,
    read_fan_profiles,
    read_gpu_devfreq,
    read_l4t_release,
    read_power_mode,
    read_pwm_fan,
)

log = logging.getLogger(__name__)


class JetsonCollector(Collector):
    name = "jetson"
    default_enabled = False  # on by the Jetson board profile
    help = "Jetson GPU clock, EMC, nvpmodel power mode, jetson_clocks, fan profile (jtop's set)"
    _said_root = False

    def update(self, rlog: ReadLog) -> list[Family]:
        sysfs, rootfs = self.config.sysfs, self.config.rootfs
        gpus = read_gpu_devfreq(sysfs, rlog) or []
        out: list[Family] = [*self._gpu(gpus)]
        emc_log = ReadLog()
        emc = read_emc(sysfs, emc_log)
        rlog.errors += emc_log.errors
        if debugfs_denied(sysfs, emc_log) and not self._said_root:
            self._said_root = True
            log.info("jetson: the EMC clock is in debugfs, root's only: run the exporter as root for it")
        if emc is not None:
            out += self._emc(emc)
        mode = read_power_mode(rootfs, rlog)
        if mode is not None:
            info = GaugeFamily(
                "edge_jetson_power_mode_info",
                "The nvpmodel power mode in force, always 1 (var/lib/nvpmodel/status, named by "
                "etc/nvpmodel.conf; name empty when the file does not name it).",
                labels=["id", "name"],
            )
            info.add_metric([str(mode.id), mode.name or ""], 1)
            out.append(info)
        pinned = self._pinned(gpus, rlog)
        if pinned is not None:
            clocks = GaugeFamily(
                "edge_jetson_clocks_pinned",
                "1 when every CPU policy's and the GPU's minimum clock equals its maximum, as "
                "jetson_clocks leaves them (jetson-stats' test); 0 when any still scales.",
            )
            clocks.add_metric([], 1 if pinned else 0)
            out.append(clocks)
        out += self._fan(rlog)
        release = read_l4t_release(rootfs, rlog)
        if release is not None:
            firmware = families.firmware()
            families.add(firmware, 1, component="l4t", version=release[0], built=release[1])
            out.append(firmware)
        if not out:
            raise NoData("no Tegra GPU devfreq, EMC, nvpmodel or fan files")
        return out

    @staticmethod
    def _gpu(gpus: list) -> list[Family]:
        if not gpus:
            return []
        labels = ["gpu"]
        cur = families.gpu_frequency()
        low = GaugeFamily(
            "edge_gpu_frequency_min_hertz",
            "Lowest GPU clock devfreq may pick (min_freq: what nvpmodel and jetson_clocks set).",
            labels=labels,
        )
        high = GaugeFamily(
            "edge_gpu_frequency_max_hertz", "Highest GPU clock devfreq may pick (max_freq).", labels=labels
        )
        governor = GaugeFamily(
            "edge_gpu_governor_info", "The GPU's devfreq governor, always 1.", labels=["gpu", "governor"]
        )
        for g in gpus:
            for family, value in ((cur, g.cur_hertz), (low, g.min_hertz), (high, g.max_hertz)):
                if value is not None:
                    family.add_metric([g.name], value)
            if g.governor:
                governor.add_metric([g.name, g.governor], 1)
        return [cur, low, high, governor]

    @staticmethod
    def _emc(emc) -> list[Family]:
        out = []
        for name, value, text in (
            (
                "edge_memory_controller_frequency_hertz",
                emc.hertz,
                "EMC (memory controller) clock now.",
            ),
            ("edge_memory_controller_frequency_max_hertz", emc.max_hertz, "Highest EMC clock allowed now."),
            (
                "edge_memory_controller_utilization_ratio",
                emc.utilization,
                "EMC busy, 0-1: actmon's mc_all (kHz of busy clock) over the EMC clock in kHz.",
            ),
        ):
            if value is not None:
                family = GaugeFamily(name, text)
                family.add_metric([], value)
                out.append(family)
        return out

    def _pinned(self, gpus: list, rlog: ReadLog) -> bool | None:
        bounds = read_scaling_limits(self.config.sysfs, rlog)
        bounds += [(g.min_hertz, g.max_hertz) for g in gpus]
        if not bounds or any(low is None or high is None for low, high in bounds):
            return None
        return all(low == high for low, high in bounds)

    def _fan(self, rlog: ReadLog) -> list[Family]:
        out: list[Family] = []
        profiles = read_fan_profiles(self.config.rootfs, rlog)
        if profiles:
            info = GaugeFamily(
                "edge_fan_profile_info",
                "The fan's nvfancontrol profile, always 1 (source: its status, or the configured default).",
                labels=["fan", "profile", "source"],
            )
            for fan, profile, source in profiles:
                info.add_metric([fan, profile, source], 1)
            out.append(info)
        pwm = read_pwm_fan(self.config.sysfs, rlog)
        if pwm is not None:
            target = GaugeFamily(
                "edge_fan_target_duty_ratio",
                "The duty the fan driver steers to, 0-1 (the Nano's pwm-fan target_pwm / pwm_cap).",
                labels=["fan"],
            )
            duty, rpm = families.fan_duty(), families.fan_speed()
            if pwm.target is not None:
                target.add_metric([pwm.fan], pwm.target)
            if pwm.duty is not None:
                families.add(duty, pwm.duty, chip="pwm-fan", fan=f"fan{pwm.fan}")
            if pwm.rpm is not None:
                families.add(rpm, pwm.rpm, chip="pwm-fan", fan=f"fan{pwm.fan}")
            out += [target, duty, rpm]
        return out
