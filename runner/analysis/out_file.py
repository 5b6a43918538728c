"""The files ``runner export``, ``runner spans`` and ``runner wrap`` write: refused when they
exist (unless ``--force``) or their folder does not, and written whole or not at all (a full
disk leaves the old file, not half a new one)."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from pathlib import Path


class OutFileError(Exception):
    """One line naming the flag and the file."""


def check_out(out: Path, force: bool, flag: str) -> Path:
    if out.exists() and not force:
        raise OutFileError(f"{flag} {out}: exists (add --force to overwrite)")
    if not out.parent.is_dir():
        raise OutFileError(f"{flag} {out}: no such directory {out.parent}")
    return out


def write_csv(out: Path, fields: Sequence[str], rows: Iterable[dict[str, object]], flag: str) -> None:
    """``rows`` under ``fields`` (keys beyond them are left out), via a temporary file beside it."""
    part = out.with_name(f".{out.name}.part")
    try:
        with part.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(fields), extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        os.replace(part, out)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise OutFileError(f"{flag} {out}: {exc.strerror}") from exc
