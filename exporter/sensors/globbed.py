"""Attribute files whose place varies by board, found by glob once and remembered.

A glob lists every directory it passes through, and ``devices/platform`` holds a hundred or more
entries on a Jetson or a Pi: globbing at every scrape would cost more than the read it leads to.
So the first match is remembered per sysfs root and pattern list. A caller whose remembered
file is gone (a driver unbound) forgets it and the next call searches again; where nothing
matched, the search is repeated every ``REGLOB_AFTER`` seconds (a driver that binds late).
"""

from __future__ import annotations

import glob
import math
import os
import time

REGLOB_AFTER = 60.0  # seconds between searches where nothing matched
# (sysfs root, patterns) -> (the file found or None, monotonic time of the search)
_found: dict[tuple[str, tuple[str, ...]], tuple[str | None, float]] = {}


def find(sysfs: str, patterns: tuple[str, ...]) -> str | None:
    """The first file matching ``patterns`` under ``sysfs`` (patterns in order, matches of one
    pattern sorted), remembered; None where none matched at the last search."""
    key = (sysfs, patterns)
    path, when = _found.get(key, (None, -math.inf))
    if path is not None or time.monotonic() - when < REGLOB_AFTER:
        return path
    root = glob.escape(sysfs)
    found = next((p for pattern in patterns for p in sorted(glob.glob(os.path.join(root, pattern)))), None)
    _found[key] = (found, time.monotonic())
    return found


def forget(sysfs: str, patterns: tuple[str, ...]) -> None:
    """The remembered file is gone: search at the next ``find``."""
    _found.pop((sysfs, patterns), None)
