"""Reading a request's head (request line and header fields) for the exporter's HTTP server.

The standard library hands the header block to the ``email`` package's generic MIME parser,
which took 0.7 ms of a 4 ms Pi scrape: more than any sensor collector. A scrape's head is a
handful of ``Name: value`` lines, so this reads them directly, with the same limits as the
standard library (a line of at most 64 KiB, at most 100 fields) and stricter syntax, as Go's
servers (node_exporter's) apply it: a field name with spaces or without a colon, or an
obsolete folded line, is a 400, not something to guess at.
"""

from __future__ import annotations

from typing import BinaryIO

MAX_LINE = 65536
MAX_FIELDS = 100


class BadHead(ValueError):
    """A request head the server refuses; ``status`` is what it answers."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class CutHead(ConnectionError):
    """The connection ended inside the request's head: nothing to answer."""


class RequestHeaders(dict[str, str]):
    """A request's header fields by lower-cased name; a repeated field keeps its first value."""

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(name.lower(), default)


def http_version(word: str) -> tuple[int, int] | None:
    """(major, minor) of an ``HTTP/x.y`` word, or None when it is not one."""
    if not word.startswith("HTTP/"):
        return None
    major, dot, minor = word[5:].partition(".")
    if not dot or not (major.isdigit() and minor.isdigit()) or len(major) > 10 or len(minor) > 10:
        return None
    return int(major), int(minor)


def read_headers(rfile: BinaryIO) -> RequestHeaders:
    """The header fields up to the blank line that ends them."""
    headers = RequestHeaders()
    for _ in range(MAX_FIELDS + 1):
        line = rfile.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise BadHead(431, "Line too long")
        if line in (b"\r\n", b"\n"):
            return headers
        if not line.endswith(b"\n"):
            raise CutHead("connection ended inside the request's header fields")
        if line[:1] in (b" ", b"\t"):
            raise BadHead(400, "Bad request: folded header line")
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip() or b" " in name or b"\t" in name:
            raise BadHead(400, f"Bad request: malformed header line {line[:80]!r}")
        headers.setdefault(name.decode("latin-1").lower(), value.strip(b" \t\r\n").decode("latin-1"))
    raise BadHead(431, "Too many headers")
