"""Contract metric families that more than one collector fills (one name, one HELP).

``edge_temperature_celsius`` comes from thermal zones and hwmon chips, and
``edge_cpu_frequency_hertz`` from cpufreq and the Pi firmware; the registry merges families of
the same name, so their HELP text must be defined once, here.
"""

from __future__ import annotations

from edgemeter.exporter.metric_family import CounterFamily, Family, GaugeFamily
from edgemeter.exporter.poller import POLL_PERIOD


def temperature() -> GaugeFamily:
    return GaugeFamily(
        "edge_temperature_celsius",
        "Temperature: thermal zones (class/thermal/thermal_zone*/temp, source=thermal_zone, sensor=type) "
        "and hwmon chips (temp*_input, source=hwmon, sensor=label or channel); NVML GPUs (source=nvml); "
        "Hailo NPUs (source=hailo, sensor ts0/ts1, read by HailoRT in the background every 1 s).",
    )


def cpu_frequency() -> GaugeFamily:
    return GaugeFamily(
        "edge_cpu_frequency_hertz",
        "Current CPU frequency: cpufreq scaling_cur_freq per cpu (source=cpufreq), or the clock the "
        "Raspberry Pi firmware measures on the ARM cores, which cpufreq cannot see throttled "
        "(vcgencmd measure_clock arm, source=firmware, cpu empty: one clock for all cores; polled every "
        f"{POLL_PERIOD:g} s in the background, at most two periods plus --vcgencmd-timeout old).",
    )


def add(family: Family, value: float, **labels: str) -> None:
    """Add one sample with its own label set (families merged across collectors differ in labels)."""
    family.add_sample(family.sample_name, labels, value)


def power() -> GaugeFamily:
    return GaugeFamily(
        "edge_power_watts",
        "Instantaneous power per rail: INA3221 (bus V x A, or the Nano's in_power mW), hwmon power*_input, "
        "Pi 5 PMIC (V x A per rail, rail=total their sum; vcgencmd, so read by the power sampler in the "
        "background and served at most two sample periods old), NVML power usage.",
    )


def gpu_frequency() -> GaugeFamily:
    return GaugeFamily(
        "edge_gpu_frequency_hertz",
        "GPU clock now: the SM clock from NVML, or a Jetson iGPU's devfreq cur_freq.",
        labels=["gpu"],
    )


def fan_speed() -> GaugeFamily:
    return GaugeFamily(
        "edge_fan_speed_rpm",
        "Fan speed (hwmon fan*_input; rpm of the Jetson tachometer driver; the Nano's pwm-fan rpm_measured).",
    )


def fan_duty() -> GaugeFamily:
    return GaugeFamily(
        "edge_fan_duty_ratio",
        "Fan PWM duty cycle, 0-1 (hwmon pwm* / 255; the Nano's pwm-fan cur_pwm / pwm_cap).",
    )


def voltage() -> GaugeFamily:
    return GaugeFamily("edge_voltage_volts", "Rail voltage (INA3221 bus voltage, Pi 5 PMIC ADC).")


def current() -> GaugeFamily:
    return GaugeFamily("edge_current_amperes", "Rail current (INA3221, Pi 5 PMIC ADC).")


def energy() -> CounterFamily:
    return CounterFamily(
        "edge_energy_joules_total",
        "Energy per rail: RAPL energy_uj (made monotonic across wraps), NVML total energy, hwmon "
        "energy*_input, or instantaneous power integrated by the exporter's sampler up to this scrape.",
    )


def gpu_utilization() -> GaugeFamily:
    return GaugeFamily(
        "edge_gpu_utilization_ratio",
        "GPU busy ratio 0-1: NVML utilization (source=nvml) or the Jetson nvgpu load file (source=nvgpu).",
    )


def firmware() -> GaugeFamily:
    """The board's firmware or BSP release: the Pi's VideoCore firmware, a Jetson's L4T."""
    return GaugeFamily(
        "edge_firmware_info",
        "Firmware or board-support release, always 1: component videocore (vcgencmd version, read "
        "once at start) or l4t (etc/nv_tegra_release); built as the firmware states it.",
        labels=["component", "version", "built"],
    )
