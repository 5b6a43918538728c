"""The exporter's open connections and what each is doing, so that none can hold the server.

Boards sit on shared networks: a client that opens a thousand idle connections, or sends a
request a byte every few seconds, must not stop Prometheus' scrape from being answered. So:

- at most ``cap`` connections are open (half the open-file limit, at most ``MAX_CONNECTIONS``);
  a new one past the cap closes the one that has waited longest without sending a whole request
  (idle keep-alives first), never one being answered;
- a connection idle for ``IDLE_TIMEOUT`` is closed, and a request must arrive whole (TLS
  handshake, head and body) within ``REQUEST_DEADLINE`` of its first byte, however slowly the
  bytes trickle in. The server's accept loop sweeps for both once a second (SWEEP_PERIOD).

Closing is ``shutdown()`` on the socket from the accept loop's thread: the handler's thread,
blocked in poll or recv, wakes up to an ended stream and ends.
"""

from __future__ import annotations

import contextlib
import resource
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_CONNECTIONS = 512
IDLE_TIMEOUT = 60.0  # a kept-alive connection waiting for its next request
REQUEST_DEADLINE = 10.0  # from a request's first byte to its last
IDLE, READING, ANSWERING = "idle", "reading", "answering"


def connection_cap() -> int:
    """Half the soft open-file limit (the rest for sensors, vcgencmd pipes and logs), at most
    MAX_CONNECTIONS, at least 16."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(16, min(MAX_CONNECTIONS, soft // 2))


@dataclass
class _State:
    phase: str
    deadline: float  # when the sweep closes it (inf while answering)
    since: float  # when it entered the phase


class Connections:
    """Open connections by socket, with their phase and deadline; thread-safe."""

    def __init__(
        self,
        cap: int | None = None,
        idle_timeout: float = IDLE_TIMEOUT,
        request_deadline: float = REQUEST_DEADLINE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cap = cap or connection_cap()
        self.idle_timeout = idle_timeout
        self.request_deadline = request_deadline
        self.clock = clock
        self._open: dict[socket.socket, _State] = {}
        self._lock = threading.Lock()
        self.closed_for_room = 0
        self.closed_late = 0

    def __len__(self) -> int:
        return len(self._open)

    def _set(self, sock: socket.socket, phase: str, limit: float) -> None:
        now = self.clock()
        with self._lock:
            if sock in self._open:
                self._open[sock] = _State(phase, now + limit, now)

    def add(self, sock: socket.socket) -> None:
        """A new connection (reading: it was accepted because it is about to send)."""
        now = self.clock()
        with self._lock:
            self._open[sock] = _State(READING, now + self.request_deadline, now)

    def idle(self, sock: socket.socket) -> None:
        self._set(sock, IDLE, self.idle_timeout)

    def reading(self, sock: socket.socket) -> None:
        self._set(sock, READING, self.request_deadline)

    def answering(self, sock: socket.socket) -> None:
        self._set(sock, ANSWERING, float("inf"))

    def remove(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.pop(sock, None)

    def replace(self, old: socket.socket, new: socket.socket) -> None:
        """The TLS socket that took over ``old``'s descriptor."""
        with self._lock:
            if old in self._open:
                self._open[new] = self._open.pop(old)

    def make_room(self, force: bool = False) -> None:
        """Below the cap (unless ``force``: out of descriptors), nothing; at it, close the connection
        waiting longest, idle ones first, never one being answered."""
        with self._lock:
            if len(self._open) < self.cap and not force:
                return
            waiting = [
                (s.phase != IDLE, s.since, id(k), k) for k, s in self._open.items() if s.phase != ANSWERING
            ]
            if not waiting:
                return
            victim = min(waiting)[3]
            del self._open[victim]
            self.closed_for_room += 1
        _close(victim)

    def sweep(self) -> None:
        """Close every connection past its deadline."""
        now = self.clock()
        with self._lock:
            late = [k for k, s in self._open.items() if s.deadline < now]
            for k in late:
                del self._open[k]
            self.closed_late += len(late)
        for k in late:
            _close(k)


def _close(sock: socket.socket) -> None:
    """End the stream under the handler's feet (the base class's shutdown, not an SSLSocket's,
    which would tear its TLS state away from the thread still using it)."""
    with contextlib.suppress(OSError):  # already gone
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
