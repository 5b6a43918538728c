"""The one interface every collector implements, and the "sensor class absent" signal."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import ClassVar, TypeVar

from prometheus_client.core import Metric

from edgemeter.exporter.config import Config
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
    # it waits on a child process (vcgencmd): the registry runs it beside the others, not in line
    waits_on_process: ClassVar[bool] = False

    def __init__(self, config: Config) -> None:
        self.config = config

    @abstractmethod
    def update(self, rlog: ReadLog) -> Iterable[Metric]:
        """Read the sensors now and return this scrape's metric families."""

    def vcgencmd(self) -> Vcgencmd:
        """The Pi firmware tool as configured (raises NoData from its calls when absent)."""
        return Vcgencmd(self.config.vcgencmd, self.config.vcgencmd_timeout)


T = TypeVar("T")


def require(value: T | None, what: str) -> T:
    """The reader's result, or NoData when it found no sensor class (it returned None)."""
    if value is None:
        raise NoData(what)
    return value
