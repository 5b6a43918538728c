"""The runner's flags for text engines (``--backend command`` and ``--backend serial``) and the
backends built from them.

Each flag here belongs to one or both of those backends; passing one with another backend is a
mistake the runner names rather than ignores. Every flag defaults to None so that ``--resume``
can tell "not given" from "given" and take the interrupted run's value.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from edgemeter.runner.backends.base import Backend, Options
from edgemeter.runner.backends.text.output import (
    PRESETS,
    STAT_NAMES,
    StatsRegexError,
    TextOptions,
    stat_patterns,
)

BACKENDS = ("command", "serial")
COMMAND, SERIAL, BOTH = BACKENDS[:1], BACKENDS[1:], BACKENDS
FLAGS: dict[str, tuple[Any, tuple[str, ...]]] = {  # flag -> (default, the backends it applies to)
    "command": (None, COMMAND),
    "prompt_stdin": (False, COMMAND),
    "preset": (None, BOTH),
    "stats_regex": ([], BOTH),
    "strip_echo": (None, BOTH),
    "port": (None, SERIAL),
    "baud": (115200, SERIAL),
    "end_marker": (None, SERIAL),
    "idle_timeout": (10.0, SERIAL),
    "ready_marker": (None, SERIAL),
}
DEFAULT_END_MARKER = "[done]"
# a serial device may come back under another name after a replug: where it is, not what it measures
OPERATIONAL = ("port",)
MEASURED = tuple(k for k in FLAGS if k not in OPERATIONAL)


class TextFlagError(ValueError):
    """A text-engine flag that is wrong or misplaced (the message names the flag)."""


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(text)
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("command and serial engines (llama2.c, llama-cli, an ESP32)")
    g.add_argument(
        "--command",
        metavar="TEMPLATE",
        help="engine command, split like a shell would; {prompt} {max_tokens} {seed} {temperature} "
        "{model} are replaced inside arguments, never through a shell",
    )
    g.add_argument("--prompt-stdin", action="store_true", default=None, help="send the prompt on stdin")
    g.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="the engine's statistics lines and prompt echo: "
        + "; ".join(f"{k}: {v.help}" for k, v in sorted(PRESETS.items())),
    )
    g.add_argument(
        "--stats-regex",
        action="append",
        metavar="NAME=REGEX",
        help="read a figure from the engine's output (repeatable); NAME is one of " + ", ".join(STAT_NAMES),
    )
    g.add_argument(
        "--strip-echo",
        action=argparse.BooleanOptionalAction,
        help="drop the prompt when the engine prints it back first (default: the preset's choice)",
    )
    g.add_argument("--port", metavar="DEV", help="serial device, e.g. /dev/ttyUSB0")
    g.add_argument("--baud", type=int, metavar="N", help="serial speed (default 115200)")
    g.add_argument(
        "--end-marker",
        metavar="TEXT",
        help="a line that ends a serial reply (default: a line [done] or the engine's statistics line)",
    )
    g.add_argument(
        "--idle-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="silence after output that ends a serial reply (default 10)",
    )
    g.add_argument("--ready-marker", metavar="TEXT", help="wait for a line containing TEXT after opening")


def applies(name: str, backend: str) -> bool:
    """Whether a run option belongs to this backend (options not listed here belong to all)."""
    return name not in FLAGS or backend in FLAGS[name][1]


def check(args: argparse.Namespace) -> None:
    """Refuse flags given to a backend they do not apply to; fill the defaults."""
    for key, (default, owners) in FLAGS.items():
        if getattr(args, key) is None:
            setattr(args, key, default)
        elif args.backend not in owners:
            flag = "--" + key.replace("_", "-")
            raise TextFlagError(f"{flag} applies to --backend {' or '.join(owners)}, not {args.backend}")


def _text_options(args: argparse.Namespace) -> TextOptions:
    try:
        patterns = stat_patterns(args.preset, args.stats_regex)
    except StatsRegexError as exc:
        raise TextFlagError(f"--stats-regex {exc}") from exc
    preset = PRESETS[args.preset] if args.preset else None
    strip = args.strip_echo if args.strip_echo is not None else bool(preset and preset.strip_echo)
    serial = args.backend in SERIAL  # a command's reply ends when it exits, never at a line
    return TextOptions(
        patterns=patterns,
        strip_echo=strip,
        timeout=args.timeout,
        end_marker=(args.end_marker or DEFAULT_END_MARKER) if serial else None,
        end_on_stats=serial and args.end_marker is None,
        idle_timeout=args.idle_timeout,
        trailer=re.compile(preset.trailer) if preset and preset.trailer else None,
        misuse=(re.compile(preset.misuse[0], re.M), preset.misuse[1]) if preset and preset.misuse else None,
    )


def make_text_backend(args: argparse.Namespace, options: Options) -> Backend:
    """The command or serial backend the flags describe (TextFlagError for a mistake)."""
    text = _text_options(args)
    if args.backend in COMMAND:
        from edgemeter.runner.backends.text.command import CommandBackend, TemplateError, parse_template

        if not args.command:
            example = "./run {model} -i {prompt} -n {max_tokens}"
            raise TextFlagError(f"--backend command needs --command TEMPLATE, e.g. --command '{example}'")
        try:
            argv = parse_template(args.command, args.prompt_stdin)
        except TemplateError as exc:
            raise TextFlagError(str(exc)) from exc
        return CommandBackend(args.model or "", "", options, argv, args.prompt_stdin, text)
    from edgemeter.runner.backends.text.serial_line import SerialBackend

    if not args.port:
        raise TextFlagError("--backend serial needs --port DEV (e.g. /dev/ttyUSB0)")
    if not args.model:
        raise TextFlagError("--backend serial needs --model NAME: the model on the device, for labels")
    if args.baud < 1:
        raise TextFlagError(f"--baud {args.baud}: must be a positive number")
    return SerialBackend(args.model, args.port, options, args.baud, text, args.ready_marker)
