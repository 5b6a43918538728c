"""The spans ``runner spans`` measures, from the files profilers and users write.

- CSV with a header holding ``name,start,end`` (Unix seconds); every other column is carried
  through to the output as is.
- JSONL: one object a line with the same keys; other keys are carried (JSON text for nested ones).
- A Chrome / Perfetto trace (what the PyTorch profiler, ``chrome://tracing`` and many tools
  write): an object with ``traceEvents``, or a bare array of events. Complete events (``"ph":
  "X"``) are spans: ``ts`` and ``dur`` in microseconds; ``cat``, ``pid``, ``tid`` and each of
  ``args`` are carried (``args`` keys as ``args.KEY``). Other events are skipped.

``--offset SECONDS`` is added to every start and end (a trace whose clock starts at 0 at the
program's start: add the Unix time it started). Every fault is one line naming the file and the
line (or event) that is wrong.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REQUIRED = ("name", "start", "end")
TRACE_CARRIED = ("cat", "pid", "tid")


class SpanFileError(Exception):
    """A spans file that cannot be read: one line naming it and where."""


@dataclass(frozen=True)
class Span:
    name: str
    start: float  # Unix seconds
    end: float
    where: str  # "FILE:LINE" or "FILE event N", for the errors about it
    carried: dict[str, str] = field(default_factory=dict)


def _seconds(value: Any, key: str, where: str, scale: float = 1.0) -> float:
    try:
        number = float(value) * scale
    except (TypeError, ValueError, OverflowError):
        raise SpanFileError(f"{where}: {key} {value!r} is not a number of seconds") from None
    if not math.isfinite(number):
        raise SpanFileError(f"{where}: {key} {value!r} is not a finite number")
    return number


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _span(name: Any, start: float, end: float, where: str, carried: dict[str, str], offset: float) -> Span:
    if not isinstance(name, str) or not name:
        raise SpanFileError(f"{where}: a span needs a name")
    if end < start:
        raise SpanFileError(f"{where}: span {name!r} ends ({end:.6f}) before it starts ({start:.6f})")
    return Span(name, start + offset, end + offset, where, carried)


def _csv(path: Path, text: str, offset: float) -> list[Span]:
    rows = csv.DictReader(text.splitlines())
    missing = [k for k in REQUIRED if k not in (rows.fieldnames or [])]
    if missing:
        raise SpanFileError(f"{path}:1: the header needs name,start,end (missing: {', '.join(missing)})")
    spans = []
    for row in rows:
        where = f"{path}:{rows.line_num}"  # the file's own line (blank lines, quoted newlines)
        if None in row:
            raise SpanFileError(f"{where}: more fields than the header has")
        start, end = _seconds(row["start"], "start", where), _seconds(row["end"], "end", where)
        carried = {k: v or "" for k, v in row.items() if k not in REQUIRED}
        spans.append(_span(row["name"], start, end, where, carried, offset))
    return spans


def _jsonl(path: Path, text: str, offset: float) -> list[Span]:
    spans = []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{path}:{line}"
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise SpanFileError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(obj, dict) or any(k not in obj for k in REQUIRED):
            raise SpanFileError(f"{where}: a span needs the keys name, start and end")
        start, end = _seconds(obj["start"], "start", where), _seconds(obj["end"], "end", where)
        carried = {k: _text(v) for k, v in obj.items() if k not in REQUIRED}
        spans.append(_span(obj["name"], start, end, where, carried, offset))
    return spans


def _trace(path: Path, data: Any, offset: float) -> list[Span]:
    events = data.get("traceEvents") if isinstance(data, dict) else data
    if not isinstance(events, list):
        raise SpanFileError(f"{path}: a trace needs a traceEvents list")
    spans = []
    for k, event in enumerate(events):
        if not isinstance(event, dict) or event.get("ph") != "X":
            continue
        where = f"{path} event {k}"
        if "ts" not in event or "dur" not in event:
            raise SpanFileError(f"{where}: a complete event needs ts and dur (microseconds)")
        start = _seconds(event["ts"], "ts", where, 1e-6)
        end = start + _seconds(event["dur"], "dur", where, 1e-6)
        carried = {key: _text(event[key]) for key in TRACE_CARRIED if key in event}
        args = event.get("args")
        if isinstance(args, dict):
            carried.update({f"args.{key}": _text(v) for key, v in args.items()})
        spans.append(_span(event.get("name"), start, end, where, carried, offset))
    return spans


def read_spans(path: Path, offset: float = 0.0) -> list[Span]:
    """The spans of ``path`` (the format from its content), shifted by ``offset`` seconds."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's BOM is not part of the header
    except FileNotFoundError:
        raise SpanFileError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise SpanFileError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise SpanFileError(f"{path}: {exc.strerror}") from None
    head = text.lstrip()[:1]
    whole: Any = None
    if head in "[{" and head:
        try:  # a trace is one JSON document; JSONL of more than one line is not
            whole = json.loads(text)
        except json.JSONDecodeError as exc:
            if head == "[":
                raise SpanFileError(f"{path}:{exc.lineno}: not a JSON trace ({exc.msg})") from None
    if head == "[" or (isinstance(whole, dict) and "traceEvents" in whole):
        spans = _trace(path, whole, offset)
    elif head == "{":
        spans = _jsonl(path, text, offset)
    else:
        spans = _csv(path, text, offset)
    if not spans:
        raise SpanFileError(f"{path}: no spans in it")
    return spans
