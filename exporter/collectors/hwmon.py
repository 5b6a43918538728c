"""hwmon chips: temperatures, fan speeds, fan duty and under-voltage alarms.

Labels: ``chip`` is the driver's name (``coretemp``, ``pwmfan``), ``hwmon`` the class-relative
directory (two coretemp packages differ only there), ``channel`` the attribute stem (``temp2``),
and ``sensor``/``fan`` the driver's label where it has one, else the channel — so a user reads
"coretemp Core 0", and two channels with the same label stay distinct series.
"""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily, Metric

from exporter.collectors import families
from exporter.collectors.base import Collector, require
from exporter.sensors.hwmon import read_chips
from exporter.sensors.sysfs import ReadLog

KINDS = ("temp", "fan", "pwm", "lcrit_alarm")


class HwmonCollector(Collector):
    name = "hwmon"
    help = "hwmon temperatures, fans, fan duty and under-voltage alarms (class/hwmon)"

    def update(self, rlog: ReadLog) -> list[Metric]:
        chips = require(read_chips(self.config.sysfs, KINDS, rlog), "no hwmon class")
        temps = families.temperature()
        rpm = GaugeMetricFamily(
            "edge_fan_speed_rpm", "Fan speed (hwmon fan*_input; rpm of the Jetson tachometer driver)."
        )
        duty = GaugeMetricFamily("edge_fan_duty_ratio", "Fan PWM duty cycle, 0-1 (hwmon pwm* / 255).")
        alarm = GaugeMetricFamily(
            "edge_under_voltage_alarm",
            "1 while a supply voltage is below its critical limit (hwmon in*_lcrit_alarm; rpi_volt on a Pi).",
        )
        for chip in chips:
            where = {"chip": chip.name, "hwmon": chip.hwmon}
            for r in chip.readings.get("temp", ()):
                families.add(
                    temps, r.value, sensor=r.label or r.channel, source="hwmon", channel=r.channel, **where
                )
            for r in chip.readings.get("fan", ()):
                families.add(rpm, r.value, fan=r.label or r.channel, channel=r.channel, **where)
            for r in chip.readings.get("pwm", ()):
                fan = r.label or "fan" + r.channel[len("pwm") :]
                families.add(duty, r.value, fan=fan, channel=r.channel, **where)
            for r in chip.readings.get("lcrit_alarm", ()):
                families.add(alarm, r.value, channel=r.channel, **where)
        return [temps, rpm, duty, alarm]
