"""``--cooldown-to CELSIUS``: before each measured prompt, wait until the board's hottest sensor
(exporter/boards/temperatures.py) is at or below CELSIUS, so every prompt starts from the same
thermal state. The exporter is asked for its temperature collectors alone, once a second; a
progress line says the board is cooling. After ``--cooldown-timeout`` the prompt runs anyway,
with a warning and the temperature it started at.
"""

from __future__ import annotations

import threading
import time

from edgemeter.exporter.collectors import TEMPERATURE_READ
from edgemeter.runner.exporter_client import ExporterClient
from edgemeter.runner.progress import Progress

PERIOD = 1.0  # seconds between temperature reads while waiting
SAY_EVERY = 10.0  # seconds between progress lines while waiting


class Cooldown:
    def __init__(
        self,
        client: ExporterClient,
        target: float,
        timeout: float,
        progress: Progress,
        stop: threading.Event,
        period: float = PERIOD,
    ) -> None:
        self.client, self.target, self.timeout = client, target, timeout
        self.progress, self.stop, self.period = progress, stop, period

    def hottest(self) -> float | None:
        page = self.client.read_only(TEMPERATURE_READ)
        return page.hottest if page is not None else None

    def wait(self) -> tuple[float, float | None]:
        """(seconds waited, the hottest sensor when the wait ended); None temperature when the
        exporter gave none (then it does not wait)."""
        start = time.monotonic()
        said = -SAY_EVERY
        while True:
            celsius = self.hottest()
            waited = time.monotonic() - start
            if celsius is None or celsius <= self.target or self.stop.is_set():
                return waited, celsius
            if waited >= self.timeout:
                self.progress.say(
                    f"warning: not at {self.target:g} °C after {self.timeout:g} s (--cooldown-timeout): "
                    f"the prompt starts at {celsius:.1f} °C"
                )
                return waited, celsius
            if waited - said >= SAY_EVERY:
                said = waited
                self.progress.say(
                    f"cooling: {celsius:.1f} °C, waiting for {self.target:g} °C ({waited:.0f} s)"
                )
            if self.stop.wait(self.period):
                return time.monotonic() - start, celsius
