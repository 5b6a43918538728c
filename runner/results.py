"""The results file, the run's source of truth: ``<dir>/<run_id>.jsonl`` plus ``<run_id>.meta.json``.

Each record is appended, flushed and fsync'd as its prompt ends, so a crash or power cut loses at
most the prompt in flight. A torn last line (power cut mid-write) is skipped on reading and the
next append starts on a fresh line. The meta file is replaced atomically (write, fsync, rename).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class ResultsError(Exception):
    """The results directory or file cannot be used: one line, exit 2."""


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


class ResultsWriter:
    def __init__(self, directory: Path, run_id: str) -> None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self.path = jsonl_path(directory, run_id)
            self.meta = meta_path(directory, run_id)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise ResultsError(f"--results {directory}: {exc.strerror}") from exc
        size = os.fstat(self._fd).st_size
        if size:
            with self.path.open("rb") as f:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    os.write(self._fd, b"\n")  # end a torn line so the next record stands alone

    def append(self, record: dict[str, Any]) -> None:
        os.write(self._fd, (json.dumps(record, ensure_ascii=False) + "\n").encode())
        os.fsync(self._fd)

    def write_meta(self, meta: dict[str, Any]) -> None:
        tmp = self.meta.with_suffix(".json.tmp")
        with tmp.open("w", encoding="utf-8") as f:
            json.dump(meta, f, indent=2, ensure_ascii=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.meta)

    def close(self) -> None:
        os.close(self._fd)
