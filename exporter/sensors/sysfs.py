"""Single-read access to sysfs/procfs attributes, with the outcome rules every reader shares.

Why one module: the kernel's attribute files fail in a handful of ways (vanished device, driver
answering EAGAIN, garbage text) and each must be classified the same everywhere, or one reader
would fail a whole scrape where another silently drops a sensor. The rules (STYLE.md §4):

- a /proc/<pid> file of a process that exited (ESRCH) -> absent, DEBUG log, never an error;
- missing file or directory, permission denied -> absent (None), DEBUG log; when the caller says
  the attribute was *required* (it was listed a moment ago, e.g. a ``temp1_input`` seen by
  ``listdir`` that vanished or is a dangling link), it is also counted as an error;
- EAGAIN, EIO, ENODATA, EINVAL, ETIMEDOUT, ENXIO, ENODEV, EISDIR, empty or unparsable text, or a
  non-finite number -> absent and counted as an error in the scrape's :class:`ReadLog`;
- anything else propagates, and the collector wrapper marks the collector as failed.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import threading

DEFAULT_SYSFS = "/sys"
DEFAULT_PROCFS = "/proc"

log = logging.getLogger(__name__)

_ABSENT = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EACCES, errno.EPERM})
_FLAKY = frozenset(
    {
        errno.EAGAIN,
        errno.EIO,
        errno.ENODATA,
        errno.EINVAL,
        errno.ETIMEDOUT,
        errno.ENXIO,
        errno.ENODEV,
        errno.EISDIR,
        errno.EOPNOTSUPP,
        errno.ELOOP,
    }
)
# sysfs attributes are at most one page; one read of that size is what the kernel hands out.
_ATTR_SIZE = 4096
_CHUNK = 65536


class ReadLog:
    """The read errors of one collector during one scrape.

    A fresh log per scrape keeps concurrent scrapes independent; the collector wrapper turns its
    entries into ``edge_collector_errors_total`` and ``edge_collector_success``.
    """

    __slots__ = ("denied", "errors")

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.denied: list[str] = []  # paths that answered EACCES/EPERM (absent, not errors)

    def error(self, path: str, why: str) -> None:
        """Record one reading that should have been there and could not be read."""
        self.errors.append(f"{path}: {why}")
        log.debug("read error %s: %s", path, why)


def _classify(path: str, exc: OSError, rlog: ReadLog, required: bool) -> None:
    """Apply the outcome rules to an OSError; re-raise what the rules do not cover."""
    if exc.errno == errno.ESRCH:  # the process exited: it is simply gone, never an error
        log.debug("gone %s", path)
        return
    if exc.errno in _ABSENT:
        if exc.errno in (errno.EACCES, errno.EPERM):
            rlog.denied.append(path)
        if required:
            rlog.error(path, os.strerror(exc.errno or 0))
        else:
            log.debug("absent %s: %s", path, exc.strerror)
        return
    if exc.errno in _FLAKY:
        rlog.error(path, os.strerror(exc.errno or 0))
        return
    raise exc


def read_bytes(path: str, rlog: ReadLog, required: bool = False, whole: bool = False) -> bytes | None:
    """Read a file with one ``os.read`` (``whole``: until EOF, for procfs tables).

    A single raw read is what sysfs expects: some hwmon drivers answer EAGAIN to buffered
    re-reads, and the fd is always closed so repeated scrapes leak nothing.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        _classify(path, exc, rlog, required)
        return None
    try:
        if not whole:
            return os.read(fd, _ATTR_SIZE)
        parts = []
        while chunk := os.read(fd, _CHUNK):
            parts.append(chunk)
        return b"".join(parts)
    except OSError as exc:
        _classify(path, exc, rlog, True)
        return None
    finally:
        os.close(fd)


def read_text(path: str, rlog: ReadLog, required: bool = False, whole: bool = False) -> str | None:
    """An attribute as stripped text (NULs of device-tree strings removed); empty is an error."""
    return _text(path, read_bytes(path, rlog, required, whole), rlog)


def _text(path: str, data: bytes | None, rlog: ReadLog) -> str | None:
    if data is None:
        return None
    text = data.decode("utf-8", "replace").strip().strip("\0").strip()
    if not text:
        rlog.error(path, "empty")
        return None
    return text


def parse_number(text: str) -> float | None:
    """A finite number from kernel text, or None ("N/A", "nan", garbage)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_number(path: str, rlog: ReadLog, scale: float = 1.0, required: bool = True) -> float | None:
    """A numeric attribute converted to base units by ``scale`` (e.g. 0.001 for milli).

    Sub-unit scales are applied as a division by the integer they invert (54750 / 1000, not
    54750 * 0.001), so kernel values come out as the decimals they are: 5.076 V, not 5.0760000000000005.
    """
    return _scaled(path, read_text(path, rlog, required), rlog, scale)


def _scaled(path: str, text: str | None, rlog: ReadLog, scale: float) -> float | None:
    if text is None:
        return None
    value = parse_number(text)
    if value is None:
        rlog.error(path, f"not a number: {text[:40]!r}")
        return None
    return value / round(1 / scale) if scale < 1 else value * scale


class OpenAttributes:
    """Attributes a sampler reads many times a second, kept open and re-read with ``pread`` at
    offset 0 (sysfs renders a fresh value on every read from the start): one syscall a reading
    instead of open, read and close. A read that fails closes that file, so a device that went
    away and came back is opened anew. A lock per file keeps a close from ever meeting a read of
    a descriptor number the kernel has given to another file meanwhile.
    """

    def __init__(self) -> None:
        self._files: dict[str, tuple[threading.Lock, list[int]]] = {}
        self._lock = threading.Lock()

    def number(self, path: str, rlog: ReadLog, scale: float = 1.0, required: bool = True) -> float | None:
        """``read_number`` of ``path`` through its kept descriptor."""
        with self._lock:
            entry = self._files.get(path)
            if entry is None:
                entry = self._files[path] = (threading.Lock(), [-1])
        lock, fd = entry
        with lock:
            try:
                if fd[0] < 0:
                    fd[0] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                data: bytes | None = os.pread(fd[0], _ATTR_SIZE, 0)
            except OSError as exc:
                if fd[0] >= 0:
                    os.close(fd[0])
                    fd[0] = -1
                _classify(path, exc, rlog, required)
                data = None
        if data is not None:  # the sampler's hot path: a plain number, parsed straight from bytes
            try:
                value = float(data)
            except ValueError:
                pass
            else:
                if math.isfinite(value):
                    return value / round(1 / scale) if scale < 1 else value * scale
        return _scaled(path, _text(path, data, rlog), rlog, scale)

    def close(self) -> None:
        with self._lock:
            for lock, fd in self._files.values():
                with lock:
                    if fd[0] >= 0:
                        os.close(fd[0])
                        fd[0] = -1


def list_dir(path: str) -> list[str] | None:
    """Sorted entries of a directory, or None when it is missing or unreadable (a NoData case)."""
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
