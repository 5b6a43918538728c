"""The exporter's page, read fast: its sample lines as (name, labels, value).

prometheus_client's parser builds a metric family object per family and takes ~2 ms for the
60 lines of an edge read, as long as the exporter takes to serve them; the runner reads at
every prompt's edges and ``edgemeter.span()`` twice a span, so the page is read here with two
regular expressions instead. It takes the text exposition format as written (comments and
blank lines skipped, label values unescaped, an optional timestamp ignored) and raises
ValueError on a line that is not one (an HTML page, a cut line). tests/test_exposition_parse.py
checks it against prometheus_client's on every golden page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_LINE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]*(?<=[ \t}])(\S+)(?:[ \t]+-?[\d.]+)?")
_LABEL = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\]|\\.)*)"[ \t]*(?:,|$)')
_ESCAPE = re.compile(r"\\(.)")
_ESCAPED = {"n": "\n", "\\": "\\", '"': '"'}


def _labels(text: str, line: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    at = 0
    while at < len(text):
        m = _LABEL.match(text, at)
        if m is None:
            if text[at:].strip(" \t,"):
                raise ValueError(f"bad labels in {line[:80]!r}")
            break
        value = m.group(2)
        if "\\" in value:
            value = _ESCAPE.sub(lambda e: _ESCAPED.get(e.group(1), "\\" + e.group(1)), value)
        labels[m.group(1)] = value
        at = m.end()
    return labels


def samples(text: str) -> Iterator[tuple[str, dict[str, str], float]]:
    """Every sample line of ``text``: (name, labels, value); ValueError on a line that is not one."""
    for raw in text.split("\n"):
        line = raw.strip(" \t\r")
        if not line or line[0] == "#":
            continue
        m = _LINE.fullmatch(line)
        if m is None or "_" in m.group(3):  # Python's float() takes 1_000; the format does not
            raise ValueError(f"not an exposition line: {line[:80]!r}")
        labels = _labels(m.group(2), line) if m.group(2) else {}
        yield m.group(1), labels, float(m.group(3))
