"""The run's options: which change what is measured, which only how the run is carried out, and
how ``--resume`` restores them from the run's meta.

A resumed run must measure what its first part measured, or its records are not one run: every
option of the first kind is taken from the meta, and one given again with another value is
refused (one line naming both values, nothing run). Options of the second kind (where to push,
which exporter, how long to wait) may change between parts; the meta keeps what each part used.
To tell "given" from "default", the command line is parsed into a namespace whose run options
start as :data:`UNSET` (argparse fills a default only for a name the namespace lacks).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from edgemeter.runner.backends.text import flags as text_cli
from edgemeter.runner.digest import file_sha256

# options that change what is measured: fixed for the whole run
MEASURED = (
    "backend",
    "model",
    "prompts",
    "max_tokens",
    "temperature",
    "seed",
    "ctx",
    "threads",
    "repeat",
    "warmup",
    "raw_prompt",
    "rail",
    "idle",
    "score",
    "cooldown_to",
    "repeat_until",
    "max_repeat",
    *text_cli.MEASURED,
)
# options that say only how the run is carried out: a resumed part may change them
OPERATIONAL = (
    "host",
    "pushgateway",
    "no_push",
    "exporter_url",
    "quiet",
    "include_throttled",
    "cooldown_timeout",
    "max_failures",
    "timeout",
    "delete_after",
    *text_cli.OPERATIONAL,
)
RUN_OPTIONS = MEASURED + OPERATIONAL


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


class OptionError(ValueError):
    """A resumed run asked to measure something else: one line, exit 2."""


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


# argparse's "append" extends what the namespace holds: these start at None (their default), and
# a list means given
APPENDED = ("stats_regex",)


def parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> tuple[argparse.Namespace, set[str]]:
    """The parsed options and the names of those given on the command line."""
    start = {name: None if name in APPENDED else UNSET for name in RUN_OPTIONS}
    args = parser.parse_args(argv, namespace=argparse.Namespace(**start))
    given = {name for name in RUN_OPTIONS if getattr(args, name) is not (None if name in APPENDED else UNSET)}
    return args, given


def fill_defaults(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    for name in RUN_OPTIONS:
        if getattr(args, name) is UNSET:
            setattr(args, name, parser.get_default(name))


def _comparable(name: str, value: Any) -> Any:
    """Values as the meta keeps them (JSON), paths resolved, so equal settings compare equal."""
    if value is None:
        return None
    if name in ("prompts", "model") or isinstance(value, Path):
        path = Path(str(value)).expanduser()
        return str(path.resolve()) if path.exists() else str(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _shown(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, list):
        return " ".join(str(v) for v in value) or "none"
    return str(value)


def saved_options(meta: dict[str, Any]) -> dict[str, Any]:
    """The options a run's meta recorded (older metas kept text-engine flags apart and the
    prompt file outside ``options``)."""
    options = dict(meta.get("options") or {})
    options.update(options.pop("text_engine", None) or {})
    if "prompts" not in options and meta.get("prompts_file"):
        options["prompts"] = meta["prompts_file"]
    return options


def restore(args: argparse.Namespace, given: set[str], meta: dict[str, Any]) -> None:
    """Take every option the run recorded; refuse a measured one given with another value."""
    saved = saved_options(meta)
    for name in MEASURED:
        if name not in saved:
            continue  # a run recorded before this option existed: it takes the default
        if name in given:
            mine, theirs = _comparable(name, getattr(args, name)), _comparable(name, saved[name])
            if mine != theirs:
                raise OptionError(
                    f"--resume {meta.get('run_id')}: {flag(name)} {_shown(mine)} differs from the run's "
                    f"{_shown(theirs)}; a resumed run measures what it measured (start a new run instead)"
                )
        else:
            setattr(args, name, Path(saved[name]) if name == "prompts" else saved[name])
    for name in OPERATIONAL:
        if name not in given and name in saved:
            if name in URLS and isinstance(saved[name], str) and f":{REDACTED}@" in saved[name]:
                raise OptionError(
                    f"--resume {meta.get('run_id')}: the run's {flag(name)} had a password, which the meta "
                    f"does not keep: give {flag(name)} again"
                )
            setattr(args, name, saved[name])


URLS = ("host", "pushgateway", "exporter_url")
REDACTED = "REDACTED"


def redacted(url: str) -> str:
    """A URL as the meta may keep it: a password in it is never written to disk."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:{REDACTED}@{parts.netloc.rpartition('@')[2]}"
    return urlunsplit(parts._replace(netloc=netloc))


def recorded(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    """The options as the meta keeps them (paths resolved, passwords left out); text-engine flags
    only for the engine they belong to."""
    out: dict[str, Any] = {}
    for name in names:
        if not text_cli.applies(name, args.backend):
            continue
        value = getattr(args, name)
        if isinstance(value, Path):
            value = str(value.resolve())
        elif name in URLS and isinstance(value, str):
            value = redacted(value)
        out[name] = value
    return out


def check_prompts_unchanged(path: Path, meta: dict[str, Any]) -> None:
    """The prompts are part of what is measured: a file edited since the run began is refused."""
    before = meta.get("prompts_sha256")
    if before and file_sha256(path) != before:
        raise OptionError(
            f"--resume {meta.get('run_id')}: {path} changed since the run began (sha256 differs); "
            "a resumed run measures the same prompts (start a new run instead)"
        )
