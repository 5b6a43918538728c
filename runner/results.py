"""The results file, the run's source of truth: ``<dir>/<run_id>.jsonl`` plus ``<run_id>.meta.json``.

Each record is appended, flushed and fsync'd as its prompt ends, so a crash or power cut loses at
most the prompt in flight. A torn last line (power cut mid-write) is skipped on reading and the
next append starts on a fresh line. The meta file is replaced atomically (write, fsync, rename).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


class ResultsError(Exception):
    """The results directory or file cannot be used: one line, exit 2."""


RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")


class RunIdError(ValueError):
    """Not a run id: the one place that says what one is (it is also a file name and a label)."""


def check_run_id(text: str) -> str:
    """A run id as the runner makes them (letters, digits, ``_ . : -``): never a path, never PromQL."""
    if not RUN_ID.fullmatch(text):
        raise RunIdError(f"--run {text!r}: not a run id (letters, digits and _ . : - only)")
    return text


def jsonl_path(directory: Path, run_id: str) -> Path:
    return directory / f"{run_id}.jsonl"


def meta_path(directory: Path, run_id: str) -> Path:
    return directory / f"{run_id}.meta.json"


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Complete records of a results file, in order (a torn last line is skipped)."""
    with path.open("rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                return
            try:
                yield json.loads(line)
            except ValueError:
                continue


def _mount_point(path: Path) -> Path:
    path = path.resolve()
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path


def disk_error(path: Path, exc: OSError, saved: int | None = None) -> ResultsError:
    """One line naming the file and the disk it is on (and, mid-run, what is safe so far)."""
    why = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        disk = _mount_point(path.parent)
        with contextlib.suppress(OSError):
            free = shutil.disk_usage(disk).free
            why = f"{why} on {disk} ({free // 1024} KiB free)"
    done = f"; {saved} records saved before it, continue with --resume once there is room" if saved else ""
    return ResultsError(f"results file {path}: {why}{done}")


class ResultsWriter:
    """Appends records and replaces the meta. A small reserve file is kept beside them while the
    run goes on, so that on a full disk there is still room to mark the meta failed."""

    RESERVE = 64 * 1024

    def __init__(self, directory: Path, run_id: str, write: Callable[[int, bytes], int] = os.write) -> None:
        self._write = write
        self.saved = 0
        self.path = jsonl_path(directory, run_id)
        self.meta = meta_path(directory, run_id)
        self.reserve = directory / f".{run_id}.reserve"
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ResultsError(f"--results {directory}: {exc.strerror}") from exc
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise disk_error(self.path, exc) from exc
        try:
            size = os.fstat(self._fd).st_size
            if size:
                with self.path.open("rb") as f:
                    f.seek(size - 1)
                    if f.read(1) != b"\n":
                        self._write_all(b"\n")  # end a torn line so the next record stands alone
            with self.reserve.open("wb") as f:
                f.write(b"\0" * self.RESERVE)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            self.close()
            raise disk_error(self.path, exc) from exc

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[self._write(self._fd, view) :]

    def append(self, record: dict[str, Any]) -> None:
        """Save one record, or raise ResultsError leaving the file as it was: a record is either
        whole and fsync'd, or not there (a short write is cut off again)."""
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode()
        size = os.fstat(self._fd).st_size
        try:
            self._write_all(line)
            os.fsync(self._fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, size)
            raise disk_error(self.path, exc, self.saved) from exc
        self.saved += 1

    def write_meta(self, meta: dict[str, Any]) -> None:
        tmp = self.meta.with_suffix(".json.tmp")
        try:
            with tmp.open("w", encoding="utf-8") as f:
                json.dump(meta, f, indent=2, ensure_ascii=False)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.meta)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise disk_error(self.meta, exc) from exc

    def write_meta_last(self, meta: dict[str, Any]) -> bool:
        """The meta's last write when the disk is full: the reserve is given up to make room.
        Whether it was written."""
        with contextlib.suppress(OSError):
            self.reserve.unlink()
        try:
            self.write_meta(meta)
        except ResultsError:
            return False
        return True

    def close(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1
        with contextlib.suppress(OSError):
            self.reserve.unlink()
