"""Readings that need a child process (the Pi's ``vcgencmd``), taken on background threads.

A fork + exec + firmware mailbox call costs a Pi more than the rest of a scrape together, and a
wedged mailbox can hold it for the whole ``--vcgencmd-timeout``. So those readings are polled at
``POLL_PERIOD`` on a thread per collector and a scrape serves the latest result: a scrape never
forks and never waits on one. A result older than ``stale_after`` (two periods plus the timeout:
a poll that is late or hung) is not served; the collector reports the staleness instead.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from edgemeter.exporter.sensors import NoData

log = logging.getLogger(__name__)

POLL_PERIOD = 1.0  # seconds; what the HELP of each polled reading quotes


class Polled(Protocol):
    """What the poller needs of a collector."""

    name: str

    def poll(self) -> object: ...


class Stale(Exception):
    """The latest poll is older than the poller serves (vcgencmd hung or the thread fell behind)."""


@dataclass
class _Latest:
    when: float
    value: object = None
    error: Exception | None = None


class Poller:
    """Polls each collector's ``poll()`` every ``period`` on its own daemon thread."""

    def __init__(
        self,
        collectors: Sequence[Polled],
        timeout: float,
        period: float = POLL_PERIOD,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.collectors = list(collectors)
        self.period = period
        self.stale_after = 2 * period + timeout
        self.clock = clock
        self._latest: dict[str, _Latest] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def poll_once(self, collector: Polled) -> None:
        """One poll of ``collector`` (the thread's step; tests call it directly)."""
        try:
            latest = _Latest(self.clock(), value=collector.poll())
        except Exception as exc:  # kept and raised at scrape time: the collector's own error
            latest = _Latest(self.clock(), error=exc)
        self._latest[collector.name] = latest  # one assignment: a scrape sees the old or the new

    def latest(self, name: str) -> object:
        """The latest poll's value; raises what it raised, NoData before the first, Stale when old."""
        got = self._latest.get(name)
        if got is None:
            raise NoData(f"{name}: no reading yet (polled every {self.period:g} s)")
        age = self.clock() - got.when
        if age > self.stale_after:
            raise Stale(f"{name}: latest reading {age:.1f} s old (polled every {self.period:g} s)")
        if got.error is not None:
            # a fresh traceback: re-raising the stored one would chain every scrape's frames (and the
            # families they hold) onto it until the next poll: 30 MB at 500 scrapes a second
            raise got.error.with_traceback(None)
        return got.value

    @property
    def running(self) -> bool:
        return bool(self._threads)

    def _run(self, collector: Polled) -> None:
        while not self._stop.is_set():
            self.poll_once(collector)
            self._stop.wait(self.period)

    def start(self) -> None:
        """Start polling; returns once every collector was polled once (or the timeout passed), so
        the first scrape already has the readings."""
        if self._threads:
            return
        for c in self.collectors:
            thread = threading.Thread(target=self._run, args=(c,), name=f"poll-{c.name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        deadline = self.clock() + self.stale_after - self.period
        while len(self._latest) < len(self.collectors) and self.clock() < deadline:
            time.sleep(0.005)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
