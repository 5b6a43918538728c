"""The one object registered with our CollectorRegistry: runs, times and guards every collector.

node_exporter's pattern: each enabled collector runs inside a wrapper that catches everything,
so one broken sensor never breaks a scrape, and its health is itself a metric
(``edge_collector_success``, ``edge_collector_duration_seconds``, ``edge_collector_errors_total``).
Families that several collectors fill (temperatures from thermal zones and hwmon) are merged
by name, so the exposition has each name once.

Every collector runs in line: none forks at scrape time (the Pi's ``vcgencmd`` readings are
taken by the Poller and the power sampler on threads of their own, exporter/poller.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Iterator, Sequence

from prometheus_client.core import CollectorRegistry

from edgemeter.exporter.collectors.base import Collector, NoData
from edgemeter.exporter.exposition import render, render_families
from edgemeter.exporter.metric_family import CounterFamily, Family, GaugeFamily, merged
from edgemeter.exporter.sensors.sysfs import ReadLog

log = logging.getLogger(__name__)


class UnknownCollector(ValueError):
    """A ``collect[]`` name that is not one of the enabled collectors (HTTP 400)."""


class EdgeCollector:
    """Runs the enabled collectors for each scrape; safe for concurrent scrapes."""

    def __init__(self, collectors: Sequence[Collector]) -> None:
        self.collectors = list(collectors)
        self._errors = {c.name: 0 for c in self.collectors}
        self._failing: dict[str, str] = {}  # collector -> the failure last logged
        self._lock = threading.Lock()

    def describe(self) -> list[Family]:
        """Nothing to describe up front: stops the registry from calling collect() at registration."""
        return []

    def _run(self, collector: Collector) -> tuple[list[Family], bool, int]:
        rlog = ReadLog()
        try:
            families = list(collector.update(rlog))
        except NoData as exc:
            log.debug("collector %s: no data: %s", collector.name, exc)
            return [], False, len(rlog.errors)
        except Exception as exc:  # one broken collector must not break the scrape
            self._report(collector.name, f"failed: {exc}", exc)
            return [], False, len(rlog.errors) + 1
        if rlog.errors:
            self._report(collector.name, f"could not read: {'; '.join(rlog.errors[:3])}")
        elif self._failing.pop(collector.name, None) is not None:
            log.info("collector %s reads all its sensors again", collector.name)
        return families, not rlog.errors, len(rlog.errors)

    def _report(self, name: str, message: str, exc: Exception | None = None) -> None:
        """Log a collector's trouble once, not at every 1 s scrape; again only when it changes."""
        with self._lock:
            repeated = self._failing.get(name) == message
            self._failing[name] = message
        level = logging.DEBUG if repeated else (logging.ERROR if exc else logging.WARNING)
        trace = exc if exc is not None and log.isEnabledFor(logging.DEBUG) else None
        log.log(level, "collector %s %s", name, message, exc_info=trace)

    def names(self) -> list[str]:
        return [c.name for c in self.collectors]

    def collect(self, only: Collection[str] | None = None) -> Iterator[Family]:
        """One scrape of every collector, or of those named in ``only`` (``/metrics?collect[]=``,
        node_exporter's filter: the runner's edge reads ask for the energy collectors alone);
        a name this exporter does not run is an UnknownCollector."""
        if only is not None and (unknown := sorted(set(only) - set(self.names()))):
            runs = ", ".join(self.names())
            raise UnknownCollector(
                f"collect[]={unknown[0]}: not a collector this exporter runs (it runs: {runs})"
            )
        found: list[Family] = []
        labels = ["collector"]
        success = GaugeFamily(
            "edge_collector_success", "1 when the collector read all its sensors this scrape.", labels=labels
        )
        duration = GaugeFamily(
            "edge_collector_duration_seconds", "Seconds the collector took this scrape.", labels=labels
        )
        errors = CounterFamily(
            "edge_collector_errors_total",
            "Sensor readings that failed (unreadable, empty, garbage) or collector failures.",
            labels=labels,
        )
        clock = time.perf_counter
        for collector in self.collectors:
            name = collector.name
            if only is not None and name not in only:
                continue
            start = clock()
            families, ok, failed = self._run(collector)
            took = clock() - start
            label = (name,)
            duration.add_metric(label, took)
            success.add_metric(label, 1 if ok else 0)
            with self._lock:
                self._errors[name] += failed
                errors.add_metric(label, self._errors[name])
            found += families
        yield from merged(found)
        yield success
        yield duration
        yield errors


def build_registry(collectors: Sequence[Collector]) -> CollectorRegistry:
    """A fresh registry (not the global one) holding only our wrapper."""
    return Scrapes(collectors).registry


class Scrapes:
    """The pages ``/metrics`` serves: the whole registry, or only the named collectors."""

    def __init__(self, collectors: Sequence[Collector]) -> None:
        self.edge = EdgeCollector(collectors)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.edge)

    def page(self, only: Collection[str] | None = None) -> bytes:
        """The text exposition; with ``only``, those collectors' families and their health, without
        the exporter's own process metrics (raises UnknownCollector)."""
        if only is None:
            return render(self.registry)
        return render_families(self.edge.collect(only))
