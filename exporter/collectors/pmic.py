"""Raspberry Pi 5 PMIC rails (vcgencmd pmic_read_adc): the only power reading a Pi 5 has
without a USB meter. Rails pair ``NAME_A`` with ``NAME_V``; ``rail="total"`` is the sum of the
paired rails. It is not the board's input power: the 5 V input (EXT5V) has no current sense,
and USB/peripheral draw and regulator losses are not in it."""

from __future__ import annotations

from edgemeter.exporter.collectors.power_base import PowerCollector
from edgemeter.exporter.sensors.power import PowerReading
from edgemeter.exporter.sensors.sysfs import ReadLog

SOURCE = "pmic"


class PmicCollector(PowerCollector):
    name = "pmic"
    default_enabled = False  # on by the Raspberry Pi board profile
    # Each sample starts vcgencmd (fork + exec + a firmware mailbox call): at 2 Hz that costs about
    # 0.5 % of a core (benchmarks/sampler.py); faster would make the monitor perturb the board.
    max_sample_hz = 2.0
    help = "Raspberry Pi 5 PMIC rail power (vcgencmd pmic_read_adc)"

    def read_power(self, rlog: ReadLog) -> list[PowerReading]:
        rails = self.vcgencmd().pmic_rails()
        readings: list[PowerReading] = []
        for r in rails:
            if r.volts is not None and r.amperes is not None:
                readings.append(PowerReading(r.rail, SOURCE, r.volts * r.amperes, r.volts, r.amperes))
            elif r.volts is not None:  # EXT5V, BATT: voltage only, no current sense, so no power
                readings.append(PowerReading(r.rail, SOURCE, None, r.volts))
        total = sum(r.watts for r in readings if r.watts is not None)
        readings.append(PowerReading("total", SOURCE, total))
        return readings
