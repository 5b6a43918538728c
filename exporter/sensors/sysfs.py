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

Attributes are read through descriptors kept open between scrapes (:class:`KeptFiles`): one
``pread`` from offset 0 a reading, with the same outcomes as a fresh open and read.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import resource
import threading
import time

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


class _Failed(Exception):
    """An attribute read that failed, and whether the file had opened (a read error is always
    counted; an open's ENOENT only where the caller required the file)."""

    def __init__(self, error: OSError, opened: bool) -> None:
        self.error, self.opened = error, opened


def read_bytes(
    path: str, rlog: ReadLog, required: bool = False, whole: bool = False, keep: bool = True
) -> bytes | None:
    """Read a file with one raw read (``whole``: until EOF, for procfs tables).

    A single raw read from offset 0 is what sysfs expects: some hwmon drivers answer EAGAIN to
    buffered re-reads. An attribute (not ``whole``) is read through its kept descriptor
    (:data:`KEPT`), so a scrape costs one ``pread`` per reading, not open, read and close;
    ``keep=False`` is for files that come and go with processes (``/proc/<pid>``).
    """
    try:
        if not whole:
            return KEPT.read(path) if keep else _open_read(path, keep=False)[0]
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except _Failed as failed:
        _classify(path, failed.error, rlog, required or failed.opened)
        return None
    except OSError as exc:
        _classify(path, exc, rlog, required)
        return None
    try:
        parts = []
        while chunk := os.read(fd, _CHUNK):
            parts.append(chunk)
        return b"".join(parts)
    except OSError as exc:
        _classify(path, exc, rlog, True)
        return None
    finally:
        os.close(fd)


def _open_read(path: str, keep: bool) -> tuple[bytes, int]:
    """The file's bytes from a fresh open, and its descriptor (-1 once closed) when ``keep``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise _Failed(exc, opened=False) from None
    try:
        data = os.read(fd, _ATTR_SIZE)
    except OSError as exc:
        os.close(fd)
        raise _Failed(exc, opened=True) from None
    if not keep:
        os.close(fd)
        fd = -1
    return data, fd


def read_text(
    path: str, rlog: ReadLog, required: bool = False, whole: bool = False, keep: bool = True
) -> str | None:
    """An attribute as stripped text (NULs of device-tree strings removed); empty is an error."""
    return _text(path, read_bytes(path, rlog, required, whole, keep), rlog)


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
    data = read_bytes(path, rlog, required)
    if data is not None:  # the common case, a plain number, parsed straight from the bytes
        try:
            value = float(data)
        except ValueError:
            pass
        else:
            if math.isfinite(value):
                return value / round(1 / scale) if scale < 1 else value * scale
    return _scaled(path, _text(path, data, rlog), rlog, scale)


def _scaled(path: str, text: str | None, rlog: ReadLog, scale: float) -> float | None:
    if text is None:
        return None
    value = parse_number(text)
    if value is None:
        rlog.error(path, f"not a number: {text[:40]!r}")
        return None
    return value / round(1 / scale) if scale < 1 else value * scale


# How many attribute files stay open at once, and how long one unread stays open. A board's
# sensors are a few dozen to a few hundred files; the connection cap leaves half the open-file
# limit to them and the rest (exporter/connections.py). Past the limit a file is read and closed.
KEEP_LIMIT = 256
KEEP_IDLE = 300.0


def keep_limit() -> int:
    """A quarter of the soft open-file limit, at most KEEP_LIMIT."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return KEEP_LIMIT if soft == resource.RLIM_INFINITY else max(0, min(KEEP_LIMIT, soft // 4))


# Errors of a kept descriptor that mean its file went away (a device unbound, a process gone):
# the path is opened afresh and that outcome counts, as it would have for a first read.
_GONE = frozenset({errno.ENODEV, errno.ESRCH, errno.ENOENT, errno.ESTALE})
# sysfs and procfs render a fresh value at each read from offset 0 and answer ENODEV (or ESRCH)
# once the node is removed: their kept descriptors need no check. On debugfs and its kind a
# driver may write its own file operations (a snapshot taken at open): never kept. Any other file
# (a fixture tree, a copied board, /etc under --rootfs) may be replaced by a new inode: it is
# fstat-ed before each read and opened anew once unlinked.
_FRESH_FILESYSTEMS = frozenset({"sysfs", "proc"})
_UNKEPT_FILESYSTEMS = frozenset({"debugfs", "tracefs", "configfs", "securityfs"})
FRESH, CHECKED, UNKEPT = "fresh", "checked", "unkept"


def mount_types(mountinfo: str = "/proc/self/mountinfo") -> dict[int, str]:
    """The filesystem type of each of this process's mounts, by device number (empty when
    unreadable: then every kept file is checked, and debugfs too is kept)."""
    found = {}
    try:
        with open(mountinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                fields, _, tail = line.partition(" - ")
                parts = fields.split()
                if len(parts) > 2 and tail:
                    major, _, minor = parts[2].partition(":")
                    found[os.makedev(int(major), int(minor))] = tail.split(" ", 1)[0]
    except (OSError, ValueError):
        return {}
    return found


def keeping(fstype: str | None) -> str:
    """How a file on a filesystem of ``fstype`` is kept: FRESH, CHECKED or UNKEPT."""
    if fstype in _FRESH_FILESYSTEMS:
        return FRESH
    return UNKEPT if fstype in _UNKEPT_FILESYSTEMS else CHECKED


class _Kept:
    __slots__ = ("checked", "fd", "lock", "used")

    def __init__(self, fd: int, checked: bool, used: float) -> None:
        self.fd, self.checked, self.used = fd, checked, used
        self.lock = threading.Lock()


class KeptFiles:
    """Attribute files kept open and re-read with ``pread`` at offset 0: one syscall a reading
    instead of open, read and close, and no path walk. On this project's VM a real sysfs
    attribute read through ``read_number`` costs 9-10 µs opened afresh and 1.4 µs kept
    (benchmarks/sysfs_reads.py); a board's scrape reads 30 to 100 of them.

    A read that fails closes that descriptor; where the file went away the path is opened anew,
    so a device that was removed reads as absent and one that came back is read again. A file
    outside sysfs and procfs is reopened once its inode was unlinked (a fixture file replaced, a
    config rewritten by rename). A lock per file keeps a close from ever meeting a read of a
    descriptor number the kernel has given to another file meanwhile.
    """

    def __init__(
        self, limit: int | None = None, idle: float = KEEP_IDLE, mounts: dict[int, str] | None = None
    ) -> None:
        self.limit = keep_limit() if limit is None else limit
        self.idle = idle
        self._mounts = mounts  # read on first use: an exporter that reads nothing never reads it
        self._files: dict[str, _Kept] = {}
        self._lock = threading.Lock()
        self._sweep_at = 0.0

    def read(self, path: str) -> bytes:
        """The file's first page now; raises _Failed."""
        now = time.monotonic()
        kept = self._files.get(path)
        if kept is not None:
            with kept.lock:
                if kept.fd >= 0:
                    try:
                        if not kept.checked or os.fstat(kept.fd).st_nlink:
                            data = os.pread(kept.fd, _ATTR_SIZE, 0)
                            kept.used = now
                            return data
                    except OSError as exc:
                        if exc.errno not in _GONE:
                            self._forget(path, kept)
                            raise _Failed(exc, opened=True) from None
                    self._forget(path, kept)
        if now >= self._sweep_at:
            self._sweep(now)
        data, fd = _open_read(path, keep=len(self._files) < self.limit)
        if fd >= 0:
            self._keep(path, fd, now)
        return data

    def _keep(self, path: str, fd: int, now: float) -> None:
        if self._mounts is None:
            self._mounts = mount_types()
        try:
            how = keeping(self._mounts.get(os.fstat(fd).st_dev))
        except OSError:
            how = UNKEPT
        with self._lock:
            if how == UNKEPT or path in self._files or len(self._files) >= self.limit:
                os.close(fd)  # not to be kept, or another thread kept it meanwhile
                return
            self._files[path] = _Kept(fd, how == CHECKED, now)

    def _forget(self, path: str, kept: _Kept) -> None:
        """Close ``kept`` (its lock held) and drop it from the table."""
        os.close(kept.fd)
        kept.fd = -1
        with self._lock:
            if self._files.get(path) is kept:
                del self._files[path]

    def _sweep(self, now: float) -> None:
        """Close the files nobody read for ``idle`` seconds (their device went away, or a
        collector stopped reading them)."""
        self._sweep_at = now + self.idle
        for path, kept in list(self._files.items()):
            if now - kept.used > self.idle:
                with kept.lock:
                    if kept.fd >= 0:
                        self._forget(path, kept)

    def __len__(self) -> int:
        return len(self._files)

    def close(self) -> None:
        """Close every kept file (the tests do after each test)."""
        for path, kept in list(self._files.items()):
            with kept.lock:
                if kept.fd >= 0:
                    self._forget(path, kept)


KEPT = KeptFiles()  # the exporter's one table: every collector's attribute reads share it


def list_dir(path: str) -> list[str] | None:
    """Sorted entries of a directory, or None when it is missing or unreadable (a NoData case)."""
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
