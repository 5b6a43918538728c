"""The one interface every collector implements, and the "sensor class absent" signal."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import ClassVar, TypeVar

from prometheus_client.core import Metric

from edgemeter.exporter.config import Config
from edgemeter.exporter.poller import Poller
from edgemeter.exporter.sensors import NoData
from edgemeter.exporter.sensors.sysfs import ReadLog
from edgemeter.exporter.sensors.vcgencmd import Vcgencmd

__all__ = ["Collector", "NoData", "require"]


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
    # it forks (vcgencmd): poll() is run on the exporter's Poller thread, never by a scrape
    polled: ClassVar[bool] = False
    poller: Poller | None = None  # attached by the CLI's assemble()

    def __init__(self, config: Config) -> None:
        self.config = config

    @abstractmethod
    def update(self, rlog: ReadLog) -> Iterable[Metric]:
        """Read the sensors now and return this scrape's metric families."""

    def poll(self) -> object:
        """The reading that forks (collectors with ``polled``): the Poller's step."""
        raise NotImplementedError

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

    def vcgencmd(self) -> Vcgencmd:
        """The Pi firmware tool as configured (raises NoData from its calls when absent)."""
        return Vcgencmd(self.config.vcgencmd, self.config.vcgencmd_timeout)


T = TypeVar("T")


def require(value: T | None, what: str) -> T:
    """The reader's result, or NoData when it found no sensor class (it returned None)."""
    if value is None:
        raise NoData(what)
    return value
