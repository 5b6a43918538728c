"""A stand-in for an ESP32 running a llama2.c port, on a pseudo-terminal pair (``os.openpty``).

The runner opens the slave side (``device``) with pyserial, as it would ``/dev/ttyUSB0``. The
firmware thread on the master side prints a boot log, then for each line it reads: optionally the
prompt back, tokens with known delays, ``achieved tok/s: X`` and ``[done]``, the way such firmware
does. ``received`` keeps every prompt line verbatim, ``received_at`` when it was complete and
``printed`` the monotonic time of every token written. ``vanish_at`` (prompt number, 1-based)
closes the master halfway through that reply: the device disappears, as a board does when its
USB cable is pulled.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
import tty
from dataclasses import dataclass, field
from typing import Self


@dataclass
class FakeEsp32:
    tokens: int = 8
    long_tokens: int = 0  # the reply's length for prompts that start with LONG, when set
    first_delay: float = 0.15
    token_delay: float = 0.03
    echo: bool = False
    stats: bool = True
    marker: bool = True
    vanish_at: int | None = None
    boot_log: bool = True
    received: list[str] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)  # monotonic: when each prompt line was complete
    printed: list[list[float]] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()

    def __enter__(self) -> Self:
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.device = os.ttyname(slave)
        os.close(slave)  # the node lives while the master is open; the runner opens it by name
        self._lock = threading.Lock()
        self._open = True
        self.opens = 0
        self._thread = threading.Thread(target=self._firmware, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._close()

    def _close(self) -> None:
        with self._lock:
            if self._open:
                os.close(self.master)
                self._open = False

    def _write(self, text: str) -> None:
        """Under the lock, and never after the master is closed: its fd number may be reused."""
        with self._lock:
            if self._open:
                with contextlib.suppress(OSError):  # nobody has the port open: talking into the void
                    os.write(self.master, text.encode())

    def _wait_open(self) -> bool:
        """Until the runner has the device open (no hang-up on the master); False on stop."""
        poll = select.poll()
        poll.register(self.master, select.POLLHUP)
        while not self._stop.is_set():
            if not poll.poll(0):
                return True
            self._stop.wait(0.01)
        return False

    def _firmware(self) -> None:
        """Each open resets the board, like an ESP32's auto-reset: boot log, then serve prompts."""
        while self._wait_open():
            self.opens += 1
            self._stop.wait(0.1)  # booting
            if self.boot_log:
                self._write(
                    "ets Jun  8 2016 00:22:57\r\nrst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
                )
                self._stop.wait(0.2)
                self._write("llama2.c on ESP32-S3: stories260K loaded\r\n")
            if not self._serve():
                return

    def _serve(self) -> bool:
        """Reply to each line until the runner closes the port (True) or the device vanished (False)."""
        line = b""
        poll = select.poll()
        poll.register(self.master, select.POLLIN | select.POLLHUP)
        while not self._stop.is_set():
            events = poll.poll(50)
            if any(ev & select.POLLHUP for _, ev in events):
                return True
            if not events:
                continue
            line += os.read(self.master, 4096)
            while b"\n" in line:
                raw, line = line.split(b"\n", 1)
                self.received.append(raw.decode())
                self.received_at.append(time.monotonic())
                if not self._reply(raw.decode(), len(self.received)):
                    return False
        return False

    def _reply(self, prompt: str, number: int) -> bool:
        """One prompt's reply; False once the device has vanished."""
        if self.echo:
            self._write(prompt + "\r\n")
        if self._stop.wait(self.first_delay):
            return False
        times: list[float] = []
        self.printed.append(times)
        count = self.long_tokens if self.long_tokens and prompt.startswith("LONG") else self.tokens
        for k in range(count):
            if k:
                self._stop.wait(self.token_delay)
            self._write(f" w{k}" if k else "Once")
            times.append(time.monotonic())
            if number == self.vanish_at and k == self.tokens // 2:
                self._close()
                return False
        rate = (len(times) - 1) / (times[-1] - times[0])
        self.rates.append(rate)
        self._write("\r\n")
        if self.stats:
            self._write(f"achieved tok/s: {rate:f}\r\n")
        if self.marker:
            self._write("[done]\r\n")
        return True
