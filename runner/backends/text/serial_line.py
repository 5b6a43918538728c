"""A microcontroller engine on a serial port (a llama2.c port on an ESP32 over USB): one prompt per
line out, the streamed reply back.

The protocol is the one such firmware speaks: the prompt and a newline (line breaks inside a
prompt become spaces, since the firmware reads one line), then text until a line that is the end
marker (``[done]`` by default), the engine's statistics line, or ``--idle-timeout`` seconds of
silence after some output. ``--timeout`` bounds the whole reply, the wait for the first byte
included. A reply cut off by it is read to its end in ``prepare()``, before the next prompt's
clock starts, so that its tail never becomes the next reply; stray bytes are dropped before each
prompt.

Opening the port of many ESP32 boards resets the chip, which then prints its boot log: ``start``
reads until the port has been quiet for ``SETTLE_QUIET`` seconds, or until a line containing
``--ready-marker`` when one is given, and reports that wait as the load time. A device that
vanishes mid-reply fails that prompt; the next prompt opens the port again (a board that
re-enumerates comes back), and ``--max-failures`` decides when to give up.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Generator
from typing import Any

from edgemeter.extras import missing
from edgemeter.runner.backends.base import (
    Backend,
    BackendError,
    BackendUnavailable,
    EngineStats,
    ModelInfo,
    Options,
    Piece,
    StopRequested,
    plain_prompt,
)
from edgemeter.runner.backends.text.output import OutputParser, TextOptions, deliver

HEARTBEAT = 0.1  # read timeout: the longest a stop request waits
SETTLE_QUIET = 0.5  # seconds of silence that mean a freshly opened board finished booting
SETTLE_MAX = 10.0  # a board that never stops talking gets its prompt anyway after this
STATS_GRACE = 0.2  # after a statistics line, the quiet that ends the reply (more lines may follow)
DRAIN_MAX = 300.0  # longest wait for a cut-off reply to run out before the port is reopened


class SerialBackend(Backend):
    name = "serial"
    chunked_output = True

    def __init__(
        self,
        model: str,
        host: str,
        options: Options,
        baud: int,
        text: TextOptions,
        ready_marker: str | None = None,
    ) -> None:
        super().__init__(model, host, options)  # host: the device path
        self.baud = baud
        self.text = text
        self.ready_marker = ready_marker
        self.port: Any = None
        self._unfinished = False  # the last reply was cut off by --timeout: the device may still talk

    def _open(self) -> None:
        import serial

        self.port = serial.Serial(self.host, self.baud, timeout=HEARTBEAT, write_timeout=5)
        self._settle()

    def _settle(self) -> None:
        """Read the boot chatter until quiet (or the ready line); raises if the ready line never came."""
        start = last = time.monotonic()
        limit = self.text.timeout if self.ready_marker else SETTLE_MAX
        line = b""
        while time.monotonic() - start < limit:
            data = self.port.read(self.port.in_waiting or 1)
            now = time.monotonic()
            if data:
                last = now
                *lines, line = (line + data).split(b"\n")
                if self.ready_marker and any(self.ready_marker in x.decode(errors="replace") for x in lines):
                    return
            elif not self.ready_marker and now - last >= SETTLE_QUIET:
                return
        if self.ready_marker:
            raise BackendError(f"no line with {self.ready_marker!r} from {self.host} within {limit:g} s")

    def _close(self) -> None:
        if self.port is not None:
            with contextlib.suppress(OSError):
                self.port.close()
            self.port = None

    def start(self) -> float:
        try:
            import serial
        except ImportError as exc:
            raise BackendUnavailable(f"--backend serial: {missing('serial')}") from exc
        start = time.monotonic()
        try:
            self._open()
        except (serial.SerialException, OSError, ValueError) as exc:
            raise BackendUnavailable(f"cannot open serial port {self.host}: {exc}") from exc
        except BackendError as exc:
            raise BackendUnavailable(str(exc)) from exc
        return time.monotonic() - start

    def prepare(self, prompt: str, system: str | None) -> None:
        """Before the prompt's clock starts: reopen a port a lost device closed, and let a reply
        cut off by --timeout run out, so that its tail is never read as the next reply."""
        import serial

        try:
            if self.port is None:
                self._open()
            elif self._unfinished:
                self._drain()
        except (serial.SerialException, OSError, ValueError) as exc:
            self._close()
            raise BackendError(f"cannot open serial port {self.host}: {exc}") from exc
        except BackendError:
            self._close()  # the ready line never came: wait for the board again next time
            raise

    def _drain(self) -> None:
        """Read the cut-off reply to its end (its marker or stats line, or --idle-timeout of
        quiet) and drop it. A device still talking after DRAIN_MAX (or --timeout, if longer) is
        reopened: most ESP32 boards reset on that."""
        self._unfinished = False
        parser = self.text.parser("")
        start = last = time.monotonic()
        while not parser.marker_seen:
            data = self.port.read(self.port.in_waiting or 1)
            now = time.monotonic()
            if data:
                last = now
                parser.feed(data, now)
            elif self._ended(parser, now - last):
                return
            if now - start >= max(self.text.timeout, DRAIN_MAX):
                self._close()
                self._open()
                return

    def stream(
        self, prompt: str, system: str | None, max_tokens: int
    ) -> Generator[str | Piece, None, EngineStats]:
        import serial

        text = " ".join(plain_prompt(prompt, system).split("\n")).replace("\r", " ")
        parser = self.text.parser(text)
        if self.port is None:
            raise BackendError(f"serial port {self.host} is not open")
        try:
            self.port.reset_input_buffer()
            self.port.write(text.encode() + b"\n")
            self.port.flush()
            reason = yield from self._read(parser)
            yield from deliver(parser.finish(time.monotonic()))
        except (serial.SerialException, OSError) as exc:
            self._close()
            yield from deliver(parser.finish(time.monotonic()))  # the text that came before the loss is kept
            raise BackendError(f"serial device {self.host} lost: {exc}") from exc
        except (BackendError, StopRequested) as exc:
            # the device may still be generating: prepare() lets the rest run out before the next
            # prompt, so that it is never read as the next reply
            self._unfinished = isinstance(exc, BackendError)
            yield from deliver(parser.finish(time.monotonic()))
            raise
        stats = parser.engine_stats(max_tokens)
        stats.end_reason = reason
        return stats

    def _read(self, parser: OutputParser) -> Generator[str | Piece, None, str]:
        """Bytes to the parser until the reply ends; returns how it ended."""
        start = time.monotonic()
        last: float | None = None
        while True:
            data = self.port.read(self.port.in_waiting or 1)
            at = time.monotonic()
            if data:
                last = at
                yield from deliver(parser.feed(data, at))
                if parser.marker_seen:
                    return "marker"
            else:
                yield ""
                if last is not None and (reason := self._ended(parser, at - last)):
                    return reason
            if at - start >= self.text.timeout:
                raise BackendError(f"no end of reply within {self.text.timeout:g} s (--timeout)")

    def _ended(self, parser: OutputParser, quiet: float) -> str | None:
        """How a reply that has been quiet for ``quiet`` seconds ended, or None if it goes on (a
        line that is the marker ends it at once: the reading loop sees that itself)."""
        if quiet >= STATS_GRACE and parser.over:
            return "stats"
        if quiet >= STATS_GRACE and parser.held_is_marker():  # [done] with no newline after it
            return "marker"
        return "idle" if quiet >= self.text.idle_timeout else None

    def info(self) -> ModelInfo:
        return ModelInfo(self.model, details={"port": self.host, "baud": str(self.baud)})

    def close(self) -> None:
        self._close()
