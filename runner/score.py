"""Answers graded against a JSONL prompt's ``expected``: 1 or 0, empty without ``expected``.

``contains`` (the default): the expected text appears in the reply, case-insensitively and with
runs of whitespace folded (small models wrap and capitalise freely); ``exact``: the reply, stripped,
is the expected text; ``regex``: the expected text is a regular expression found in the reply.
"""

from __future__ import annotations

import re

MODES = ("contains", "exact", "regex")


def _folded(text: str) -> str:
    return " ".join(text.split()).casefold()


def score(expected: str | None, reply: str, mode: str = "contains") -> int | None:
    if expected is None:
        return None
    if mode == "exact":
        return int(reply.strip() == expected.strip())
    if mode == "regex":
        return int(re.search(expected, reply) is not None)
    return int(_folded(expected) in _folded(reply))


def check_patterns(expected: list[tuple[str, str]], mode: str) -> str | None:
    """The one-line complaint for an ``expected`` that is not a regular expression (``regex``)."""
    if mode != "regex":
        return None
    for where, pattern in expected:
        try:
            re.compile(pattern)
        except re.error as exc:
            return f"{where}: expected {pattern!r} is not a regular expression ({exc})"
    return None
