"""Base of the collectors whose sensors give instantaneous power (INA3221, PMIC, hwmon, NVML).

At scrape time they read watts (and volts/amperes where the sensor has them) like every
collector; the exporter's one sampler thread also reads them at ``--sample-hz`` and this base
serves the integrated ``edge_energy_joules_total`` of every rail it has seen, so a counter
stays continuous even when one scrape-time read fails.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

from edgemeter.exporter.collectors import families
from edgemeter.exporter.collectors.base import Collector, NoData
from edgemeter.exporter.integrator import IDLE_RETRY, Integrator
from edgemeter.exporter.metric_family import CounterFamily, Family, GaugeFamily
from edgemeter.exporter.sensors.power import PowerReading
from edgemeter.exporter.sensors.sysfs import ReadLog


class PowerCollector(Collector):
    serves_energy = True  # integrated by the sampler
    max_sample_hz: ClassVar[float | None] = None  # sources slower than --sample-hz allows (vcgencmd)
    integrator: Integrator | None = None  # attached by the CLI when the sampler starts

    @abstractmethod
    def read_power(self, rlog: ReadLog) -> list[PowerReading]:
        """Read every rail now (raises NoData when the board has none); also the sampler's step."""

    def sensor_interval(self) -> float | None:
        """How old the sensor's own reading may be when read (its update interval, seconds); None
        where the sensor does not say. Clients' energy bounds use it (runner/window_energy.py)."""
        return None

    def update(self, rlog: ReadLog) -> list[Family]:
        if self.max_sample_hz is not None and self.integrator is not None and self.integrator.running:
            # a source that forks (vcgencmd): the sampler's reading, at most two periods old; a
            # scrape never forks for it
            cached = self.integrator.latest(self.name)
            if cached is not None:
                return self.power_families(cached)
            stats = self.integrator.stats[self.name]
            if stats.samples == 0 or stats.no_data:
                raise NoData(f"{self.name}: not sampled yet, or no sensor of its kind")
            rlog.error(self.name, f"no reading in the last {2 * self.integrator.period(self.name):g} s")
            return self.sampler_families()
        try:
            readings = self.read_power(rlog)
        except Exception as exc:
            if self.integrator is None or isinstance(exc, NoData):
                raise
            # the counters must stay continuous: the runner reads them at prompt edges
            rlog.error(self.name, f"scrape-time read failed: {exc}")
            return self.sampler_families()
        return self.power_families(readings)

    def power_families(self, readings: list[PowerReading]) -> list[Family]:
        """Watts, volts and amperes of ``readings``, then the sampler's energy and health."""
        watts, volts, amps = families.power(), families.voltage(), families.current()
        for r in readings:
            labels = r.labels
            if r.watts is not None:
                watts.add_sample(watts.sample_name, labels, r.watts)
            if r.volts is not None:
                volts.add_sample(volts.sample_name, labels, r.volts)
            if r.amperes is not None:
                amps.add_sample(amps.sample_name, labels, r.amperes)
        return [watts, volts, amps, *self.sampler_families()]

    def sampler_families(self) -> list[Family]:
        """Integrated energy per rail and the sampler's own health for this source."""
        if self.integrator is None:
            return []
        energy = families.energy()
        for labels, joules in self.integrator.energy(self.name):
            energy.add_sample(energy.sample_name, labels, joules)
        stats = self.integrator.stats[self.name]
        rate = GaugeFamily(
            "edge_power_sample_rate_hertz",
            "Rate the sampler reads this power source at.",
            labels=["collector"],
        )
        period = self.integrator.period(self.name) if stats.integrable else IDLE_RETRY
        rate.add_metric([self.name], 1 / period)
        samples = CounterFamily(
            "edge_power_samples_total", "Power samples the sampler took of this source.", labels=["collector"]
        )
        samples.add_metric([self.name], stats.samples)
        errors = CounterFamily(
            "edge_power_sample_errors_total",
            "Power samples that failed or dropped a rail.",
            labels=["collector"],
        )
        errors.add_metric([self.name], stats.errors)
        return [energy, rate, samples, errors]
