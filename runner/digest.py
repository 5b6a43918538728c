"""sha256 of files the meta names: the prompts (hashed each time, they are small) and model files
(gigabytes: hashed once, then taken from a cache keyed by path, size and modification time)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_file() -> Path:
    root = os.environ.get("EDGEMETER_CACHE") or Path.home() / ".cache" / "edgemeter"
    return Path(root) / "sha256.json"


def cached_sha256(path: Path, cache: Path | None = None) -> str | None:
    """The file's sha256, hashed only when the cache has no entry for its path, size and mtime;
    None when the file cannot be read (the meta then says nothing rather than something wrong)."""
    cache = cache or cache_file()
    try:
        st = path.stat()
    except OSError:
        return None
    key, stamp = str(path.resolve()), [st.st_size, st.st_mtime_ns]
    entries: dict[str, dict] = {}
    with contextlib.suppress(OSError, ValueError):
        entries = json.loads(cache.read_text())
    entry = entries.get(key) if isinstance(entries, dict) else None
    if isinstance(entry, dict) and entry.get("stamp") == stamp and isinstance(entry.get("sha256"), str):
        return entry["sha256"]
    try:
        sha = file_sha256(path)
    except OSError:
        return None
    entries = entries if isinstance(entries, dict) else {}
    entries[key] = {"stamp": stamp, "sha256": sha}
    with contextlib.suppress(OSError):  # a cache we cannot write costs a hash next time, no more
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(entries))
        os.replace(tmp, cache)
    return sha
