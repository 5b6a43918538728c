"""A backend's stream driven on a thread of its own, so that the run's loop can wait on it with a
deadline and a stop flag: a server that stops sending mid-reply can then neither outlast
``--timeout`` nor keep a SIGTERM waiting.

Only backends whose reads block (``Backend.blocks_on_reads``: the HTTP servers) get a thread.
The others yield at every token or poll (in-process llama.cpp, command and serial engines) and
are driven in line by :class:`Inline`, the same interface without the thread: on a board whose
cores llama.cpp keeps busy, a thread woken at every token costs decode speed (7 % measured on 2
cores, benchmarks/runner_overhead.py).

The thread owns the generator: a stop is handed to it as a flag, and it throws
:class:`StopRequested` into the stream after the next piece, so a text engine still gives up what
it held back. A stream that sends nothing is ended from outside through ``Backend.abort()``.
Each piece carries the ``time.monotonic()`` at which the thread received it, so the hand-over
never shifts a timing.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Generator, Iterator
from typing import Any

from edgemeter.runner.backends.base import BackendError, EngineStats, Piece, StopRequested

PIECE, DONE, ERROR, STOPPED, CRASHED = "piece", "done", "error", "stopped", "crashed"
Event = tuple[str, Any]


def _held(stream: Generator[str | Piece, None, EngineStats]) -> Iterator[str | Piece]:
    """Tell a backend to stop and take what it still held back (text engines hold a line to
    classify it); a backend with nothing held just ends, as with ``close()``."""
    try:
        piece = stream.throw(StopRequested())
        while True:
            yield piece
            piece = next(stream)
    except (StopRequested, StopIteration, BackendError):
        return
    finally:
        stream.close()


class Inline:
    """The Pump's interface, driving the stream in the caller's thread (for streams that never
    block for long: they yield at every token, or ``""`` while they poll)."""

    def __init__(self, stream: Generator[str | Piece, None, EngineStats]) -> None:
        self._stream = stream
        self._stop = False
        self._held: list[Event] = []

    def next(self, wait: float) -> Event | None:
        if self._held:
            return self._held.pop(0)
        try:
            if self._stop:
                self._held = [(PIECE, _stamped(p)) for p in _held(self._stream)] + [(STOPPED, None)]
                return self._held.pop(0)
            return (PIECE, _stamped(next(self._stream)))
        except StopIteration as done:
            return (DONE, done.value)
        except BackendError as exc:
            return (ERROR, exc)

    def stop(self) -> None:
        self._stop = True

    def finished(self, wait: float) -> bool:
        self._stream.close()
        return True


def _stamped(piece: str | Piece) -> Piece:
    return piece if isinstance(piece, Piece) else Piece(piece, time.monotonic())


class Pump:
    def __init__(self, stream: Generator[str | Piece, None, EngineStats]) -> None:
        self._stream = stream
        self._events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._drive, name="backend-stream", daemon=True)
        self.thread.start()

    def _put_piece(self, piece: str | Piece) -> None:
        self._events.put((PIECE, _stamped(piece)))

    def _drive(self) -> None:
        stream = self._stream
        try:
            while True:
                piece = next(stream)
                self._put_piece(piece)
                if self._stop.is_set():
                    for held in _held(stream):
                        self._put_piece(held)
                    self._events.put((STOPPED, None))
                    return
        except StopIteration as done:
            self._events.put((DONE, done.value))
        except BackendError as exc:
            self._events.put((ERROR, exc))
        except BaseException as exc:  # a bug in a backend: handed to the run's thread to raise
            self._events.put((CRASHED, exc))
        finally:
            stream.close()

    def next(self, wait: float) -> Event | None:
        """The next event, or None when none came within ``wait`` seconds."""
        try:
            return self._events.get(timeout=wait)
        except queue.Empty:
            return None

    def stop(self) -> None:
        """Ask the stream to end after its next piece (held text is still delivered)."""
        self._stop.set()

    def finished(self, wait: float) -> bool:
        self.thread.join(wait)
        return not self.thread.is_alive()
