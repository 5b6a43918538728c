"""Whether the board throttled during one prompt (and, for ``runner wrap``, how hot it got): the
exporter's firmware flags (and temperatures), polled.

The edge reads carry ``edge_throttled{window="now"}`` at the prompt's start and end; between
them a thread asks the exporter for that collector alone (``collect[]=throttled``, a file read
there) every ``PERIOD`` seconds, so a throttle raised and cleared mid-prompt is seen too. Only
the ``now`` bits count: a since-boot flag set before the prompt says nothing about it.
"""

from __future__ import annotations

import threading

from edgemeter.exporter.collectors import TEMPERATURE_READ, THROTTLE_READ
from edgemeter.runner.exporter_client import ExporterClient

PERIOD = 0.5


class ThrottleWatch:
    def __init__(self, client: ExporterClient | None, hottest: bool = False) -> None:
        self.seen: bool | None = None
        self.peak: float | None = None  # the hottest temperature a poll saw (with ``hottest``)
        self._stop = threading.Event()
        self._client = client
        self._read = THROTTLE_READ + (TEMPERATURE_READ if hottest else ())
        self._thread: threading.Thread | None = None
        if client is not None and any(c in client.runs for c in self._read):
            self._thread = threading.Thread(target=self._run, name="throttle-watch", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(PERIOD):
            page = self._client.read_only(self._read) if self._client else None
            if page is None:
                continue
            if page.throttled is not None:
                self.seen = bool(self.seen) or page.throttled
            if page.hottest is not None:
                self.peak = page.hottest if self.peak is None else max(self.peak, page.hottest)

    def stop(self) -> bool | None:
        """What it saw: True if any poll saw a flag, False if polls saw none, None if none answered."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        return self.seen


def any_flag(*flags: bool | None) -> bool | None:
    """True if any saw throttling, False if some looked and none did, None if nothing looked."""
    looked = [f for f in flags if f is not None]
    return any(looked) if looked else None
