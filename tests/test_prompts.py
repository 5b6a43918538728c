"""Prompt files: text and JSONL, ids, and every bad input as one line naming file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgemeter.runner.prompts import PromptFileError, load_prompts


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def test_text_file_ids_are_line_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, "p.txt", "# my prompts\nWhy is the sky blue?\n\n  Name three primes.  \n# end\n")
    prompts = load_prompts(path)
    assert [(p.id, p.text) for p in prompts] == [("2", "Why is the sky blue?"), ("4", "Name three primes.")]


def test_jsonl_with_optional_fields(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.jsonl",
        '{"id": "sky", "prompt": "Why blue?", "system": "Be brief.", "max_tokens": 16,'
        ' "expected": "Rayleigh"}\n\n{"id": 7, "prompt": "2+2?"}\n',
    )
    a, b = load_prompts(path)
    assert (a.id, a.system, a.max_tokens, a.expected) == ("sky", "Be brief.", 16, "Rayleigh")
    assert (b.id, b.text, b.line) == ("7", "2+2?", 3)


def test_jsonl_detected_by_content(tmp_path: Path) -> None:
    assert load_prompts(write(tmp_path, "p.txt", '{"id": "a", "prompt": "x"}\n'))[0].id == "a"


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("empty.txt", "", "no prompts"),
        ("comments.txt", "# only\n\n   \n", "no prompts"),
        ("latin1.txt", b"ok\ncaf\xe9\n", ":2: not UTF-8"),
        ("bad.jsonl", '{"id": 1, "prompt": "a"}\n{"id": 2, "prompt": \n', ":2: not valid JSON"),
        ("noprompt.jsonl", '{"id": 1}\n', ":1: 'prompt' must be a non-empty string"),
        ("list.jsonl", "[1, 2]\n", ":1: expected a JSON object"),
        (
            "dup.jsonl",
            '{"id": "a", "prompt": "x"}\n{"id": "a", "prompt": "y"}\n',
            ":2: duplicate id 'a' (first on line 1)",
        ),
        (
            "maxtok.jsonl",
            '{"id": "a", "prompt": "x", "max_tokens": 0}\n',
            "'max_tokens' must be a positive integer",
        ),
    ],
)
def test_bad_files_name_file_and_line(tmp_path: Path, name: str, content: str | bytes, needle: str) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(PromptFileError) as err:
        load_prompts(path)
    assert str(path) in str(err.value) and needle in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(PromptFileError, match="no such file"):
        load_prompts(tmp_path / "nope.txt")
    with pytest.raises(PromptFileError, match="is a directory"):
        load_prompts(tmp_path)
