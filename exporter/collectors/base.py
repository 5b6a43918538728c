"""The one interface every collector implements, and the "sensor class absent" signal."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import ClassVar, TypeVar

from edgemeter.exporter.config import Config
from edgemeter.exporter.metric_family import Family
from edgemeter.exporter.poller import Poller
from edgemeter.exporter.sensors import NoData
from edgemeter.exporter.sensors.sysfs import ReadLog
from edgemeter.exporter.sensors.vcgencmd import Vcgencmd

__all__ = ["Collector", "NoData", "PolledCollector", "require"]


class Collector(ABC):
    """Reads its sensors at scrape time and turns them into metric families.

    ``update`` returns the families or raises; the registry wrapper times it, catches everything
    and publishes the families only when it finished, so a failure never leaves half-filled
    families. Read errors that only drop one reading go into ``rlog``.
    """

    name: ClassVar[str]
    default_enabled: ClassVar[bool] = True
    help: ClassVar[str] = ""
    # it serves edge_energy_joules_total: what the runner's edge reads ask for (collect[]=)
    serves_energy: ClassVar[bool] = False

    def __init__(self, config: Config) -> None:
        self.config = config

    @abstractmethod
    def update(self, rlog: ReadLog) -> Iterable[Family]:
        """Read the sensors now and return this scrape's metric families."""

    def vcgencmd(self) -> Vcgencmd:
        """The Pi firmware tool as configured (raises NoData from its calls when absent)."""
        return Vcgencmd(self.config.vcgencmd, self.config.vcgencmd_timeout)


class PolledCollector(Collector):
    """A collector whose reading forks or waits on firmware (vcgencmd, HailoRT): ``poll()`` runs on
    the exporter's Poller thread, and a scrape serves its latest result (``latest()``)."""

    poller: Poller | None = None  # attached by the CLI's assemble()

    @abstractmethod
    def poll(self) -> object:
        """The slow reading: the Poller's step."""

    @property
    def poll_timeout(self) -> float:
        """The longest one ``poll()`` may take (its staleness bound is two periods plus this)."""
        return self.config.vcgencmd_timeout

    def latest(self) -> object:
        """``poll()``'s latest result from the Poller thread; polled in line where none runs
        (a one-off read: tests, ``exporter capture``)."""
        if self.poller is None or not self.poller.running:
            return self.poll()
        return self.poller.latest(self.name)


T = TypeVar("T")


def require(value: T | None, what: str) -> T:
    """The reader's result, or NoData when it found no sensor class (it returned None)."""
    if value is None:
        raise NoData(what)
    return value
