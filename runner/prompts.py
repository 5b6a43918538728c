"""Prompt files: plain text (one prompt per line) or JSONL (``id``, ``prompt``, optional ``system``,
``max_tokens``, ``expected``).

Plain text skips blank lines and ``#`` comments; a prompt's id is its 1-based line number, so
ids stay stable when comments are edited elsewhere in the file. JSONL is recognised by its
``.jsonl`` suffix or a first non-blank line that starts with ``{``. Every problem is a
:class:`PromptFileError` naming file and line: nothing runs on a half-valid file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


class PromptFileError(Exception):
    """A bad prompt file: the message names the file and line."""


@dataclass(frozen=True)
class Prompt:
    id: str
    text: str
    line: int
    system: str | None = None
    max_tokens: int | None = None
    expected: str | None = None


def _is_jsonl(path: Path, lines: list[str]) -> bool:
    if path.suffix == ".jsonl":
        return True
    first = next((line.strip() for line in lines if line.strip()), "")
    return first.startswith("{")


def _from_json(path: Path, number: int, line: str) -> Prompt:
    where = f"{path}:{number}"
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise PromptFileError(f"{where}: not valid JSON ({exc.msg})") from exc
    if not isinstance(obj, dict):
        raise PromptFileError(f"{where}: expected a JSON object with 'id' and 'prompt'")
    text = obj.get("prompt")
    if not isinstance(text, str) or not text.strip():
        raise PromptFileError(f"{where}: 'prompt' must be a non-empty string")
    pid = obj.get("id", number)
    if not isinstance(pid, (str, int)) or isinstance(pid, bool) or not str(pid).strip():
        raise PromptFileError(f"{where}: 'id' must be a string or an integer")
    max_tokens = obj.get("max_tokens")
    if max_tokens is not None and (
        not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1
    ):
        raise PromptFileError(f"{where}: 'max_tokens' must be a positive integer")
    for key in ("system", "expected"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise PromptFileError(f"{where}: '{key}' must be a string")
    for key in ("id", "prompt", "system", "expected"):
        value = obj.get(key)
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:  # JSON's \ud800 escapes decode to lone surrogates
                bad = f"\\u{ord(value[exc.start]):04x}"
                raise PromptFileError(
                    f"{where}: '{key}' holds {bad}, half of a surrogate pair: not text"
                ) from exc
    return Prompt(str(pid), text, number, obj.get("system"), max_tokens, obj.get("expected"))


def load_prompts(path: Path) -> list[Prompt]:
    """Every prompt of the file, in order; raises PromptFileError for any problem."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise PromptFileError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise PromptFileError(f"{path}: is a directory, not a prompt file") from exc
    except OSError as exc:
        raise PromptFileError(f"{path}: {exc.strerror}") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        number = data[: exc.start].count(b"\n") + 1
        raise PromptFileError(f"{path}:{number}: not UTF-8 text (byte {exc.start})") from exc
    lines = text.splitlines()
    jsonl = _is_jsonl(path, lines)
    prompts: list[Prompt] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or (not jsonl and line.startswith("#")):
            continue
        prompt = _from_json(path, number, line) if jsonl else Prompt(str(number), line, number)
        if prompt.id in seen:
            raise PromptFileError(
                f"{path}:{number}: duplicate id {prompt.id!r} (first on line {seen[prompt.id]})"
            )
        seen[prompt.id] = number
        prompts.append(prompt)
    if not prompts:
        raise PromptFileError(f"{path}: no prompts (empty, or only blank lines and comments)")
    return prompts
