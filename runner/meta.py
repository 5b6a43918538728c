"""The run's meta file (``<run_id>.meta.json``): what was measured, on what, with which options,
and each part of the run (a run resumed twice has three parts).

pyperf's habit, in a module of its own: everything that says *what* the figures are of is
collected here, once, at the run's start; the end of each part is added as it ends.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from edgemeter.runner import __version__, run_options
from edgemeter.runner.backends.base import Backend
from edgemeter.runner.digest import file_sha256


def git_sha() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def _part(args: argparse.Namespace, load_seconds: float) -> dict[str, Any]:
    return {
        "started_at": time.time(),
        "ended_at": None,
        "status": "running",
        "load_seconds": load_seconds,
        "options": run_options.recorded(args, run_options.OPERATIONAL),
        "edgemeter_version": __version__,
        "git_sha": git_sha(),
    }


def _first_part(old: dict[str, Any]) -> dict[str, Any]:
    """A part for a run recorded before meta kept parts, from what it did keep."""
    options = run_options.saved_options(old)
    return {
        "started_at": old.get("started_at"),
        "ended_at": old.get("ended_at"),
        "status": old.get("status"),
        "load_seconds": old.get("load_seconds"),
        "options": {k: options[k] for k in run_options.OPERATIONAL if k in options},
    }


def begin(
    args: argparse.Namespace,
    run_id: str,
    backend: Backend,
    load_seconds: float,
    board: dict[str, Any],
    old: dict[str, Any] | None,
) -> dict[str, Any]:
    """The meta of a run starting (``old`` is None) or of a resumed one starting its next part."""
    info = backend.info()
    part = _part(args, load_seconds)
    if old is not None:
        parts = old.get("parts") or [_first_part(old)]
        return {**old, "parts": [*parts, part], "ended_at": None, "status": "running"}
    return {
        "run_id": run_id,
        "host": socket.gethostname(),
        "board": board,
        "backend": backend.name,
        "backend_version": backend.version(),
        "model": {
            "name": info.name,
            "path": info.path,
            "sha256": info.sha256,
            "digest": info.digest,
            "size_bytes": info.size_bytes,
            "details": info.details,
        },
        "prompts_file": str(args.prompts.resolve()),
        "prompts_sha256": file_sha256(args.prompts),
        "options": run_options.recorded(args, run_options.RUN_OPTIONS),
        "edgemeter_version": __version__,
        "git_sha": part["git_sha"],
        "load_seconds": load_seconds,
        "started_at": part["started_at"],
        "ended_at": None,
        "status": "running",
        "parts": [part],
    }


def end(meta: dict[str, Any], status: str, error: str | None = None) -> None:
    """Mark the run and its last part ended with ``status`` (finished, interrupted, failed)."""
    now = time.time()
    meta.update(ended_at=now, status=status)
    meta["parts"][-1].update(ended_at=now, status=status)
    if error is not None:
        meta["error"] = meta["parts"][-1]["error"] = error
