"""A command-line engine run once per prompt: llama2.c's ``run``, ``llama-cli``, any program that
prints its answer.

The template is split like a shell would (``shlex``) once, at start; ``{prompt}``,
``{max_tokens}``, ``{seed}``, ``{temperature}`` and ``{model}`` are then replaced inside each
argument, so a prompt is always exactly one argument and never passes through a shell: quotes,
``;`` or ``$(…)`` in it are just text. With ``--prompt-stdin`` the prompt goes to the engine's
stdin instead. stdout is the reply; stderr is read for statistics lines only (llama2.c and
llama.cpp print their figures there) and its last lines explain a failure.

The engine runs in its own session (process group): a Ctrl-C reaches the runner alone, which then
ends the prompt and kills the engine's whole group, shell wrappers' children included.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import selectors
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Generator
from pathlib import Path
from typing import IO, Any

from edgemeter.runner.backends.base import (
    Backend,
    BackendError,
    EngineMisuse,
    EngineStats,
    ModelInfo,
    Options,
    Piece,
    StopRequested,
    plain_prompt,
)
from edgemeter.runner.backends.text.output import OutputParser, TextOptions, deliver
from edgemeter.runner.digest import cached_sha256

PLACEHOLDERS = ("prompt", "max_tokens", "seed", "temperature", "model")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_-]*)\}")
HEARTBEAT = 0.1  # seconds between empty yields while the engine is silent (stop requests are seen)
BUFFERED_AFTER = 0.5  # an engine that ran this long and wrote its reply in one piece buffers stdout
log = logging.getLogger(__name__)
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
EXIT_GRACE = 0.5  # after the engine exits, how long its pipes may stay open (a child left behind)


class TemplateError(ValueError):
    """A ``--command`` template the runner cannot run (the message says why)."""


def parse_template(template: str, prompt_stdin: bool) -> list[str]:
    """Split the template once; check its placeholders and that the program exists."""
    try:
        argv = shlex.split(template)
    except ValueError as exc:
        raise TemplateError(f"--command {template!r}: {exc}") from exc
    if not argv:
        raise TemplateError("--command is empty")
    names = {name for arg in argv for name in _PLACEHOLDER.findall(arg)}
    unknown = sorted(names - set(PLACEHOLDERS))
    if unknown:
        known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        raise TemplateError(f"--command: unknown placeholder {{{unknown[0]}}} (known: {known})")
    if "prompt" not in names and not prompt_stdin:
        raise TemplateError("--command has no {prompt} argument: add one, or pass --prompt-stdin")
    if shutil.which(argv[0]) is None:
        raise TemplateError(f"--command: program {argv[0]!r} not found or not executable")
    return argv


def fill(argv: list[str], values: dict[str, str]) -> list[str]:
    """Replace placeholders inside each argument; inserted text is never scanned again."""
    return [_PLACEHOLDER.sub(lambda m: values[m.group(1)], arg) for arg in argv]


def _feed(pipe: IO[bytes], text: str) -> None:
    try:
        pipe.write(text.encode() + b"\n")
        pipe.close()
    except OSError:
        pass  # the engine exited without reading: its exit status tells the story


def _end(proc: subprocess.Popen[bytes]) -> None:
    """End the engine's whole group, children it left behind included: SIGTERM, a grace period,
    then SIGKILL whatever is left (even when a second Ctrl-C cuts the grace short); reap it and
    close its pipes."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(KILL_GRACE)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


class CommandBackend(Backend):
    name = "command"
    chunked_output = True

    def __init__(
        self, model: str, host: str, options: Options, argv: list[str], prompt_stdin: bool, text: TextOptions
    ) -> None:
        super().__init__(model, host, options)
        self.argv = argv
        self.prompt_stdin = prompt_stdin
        self.text = text
        self._warned_buffered = False

    def start(self) -> float:
        return 0.0  # the engine starts (and loads its model) inside every prompt

    def stream(
        self, prompt: str, system: str | None, max_tokens: int
    ) -> Generator[str | Piece, None, EngineStats]:
        text = plain_prompt(prompt, system)
        values = {
            "prompt": text,
            "max_tokens": str(max_tokens),
            "seed": str(self.options.seed),
            "temperature": f"{self.options.temperature:g}",
            "model": self.model,
        }
        argv = fill(self.argv, values)
        parser = self.text.parser(text)
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if self.prompt_stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise BackendError(f"cannot start {argv[0]}: {exc.strerror or exc}") from exc
        try:
            if proc.stdin is not None:
                threading.Thread(target=_feed, args=(proc.stdin, text), daemon=True).start()
            deadline = time.monotonic() + self.text.timeout
            try:
                yield from self._read(proc, parser, deadline)
                yield from deliver(parser.finish(time.monotonic()))
            except (BackendError, StopRequested):  # a timeout or a stop: the text printed so far is kept
                yield from deliver(parser.finish(time.monotonic()))
                raise
            try:
                code = proc.wait(max(deadline - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                raise BackendError(self._timeout_text()) from None
        finally:
            _end(proc)
        advice = self.text.misused(parser)
        if advice is not None:
            raise EngineMisuse(advice)
        if code != 0:
            last = parser.side_lines[-1] if parser.side_lines else "no message on stderr"
            raise BackendError(f"{Path(argv[0]).name} {_exit_text(code)}: {last}")
        stats = parser.engine_stats(max_tokens)
        stats.end_reason = "exit"
        return stats

    def _timeout_text(self) -> str:
        return f"no end of reply within {self.text.timeout:g} s (--timeout): engine killed"

    def _read(
        self, proc: subprocess.Popen[bytes], parser: OutputParser, deadline: float
    ) -> Generator[str | Piece, None, None]:
        """stdout to the parser as it arrives, stderr a line at a time, until both close (or the
        engine has exited and a child it left behind still holds them)."""
        assert proc.stdout is not None and proc.stderr is not None
        err = b""
        started, writes, exited = time.monotonic(), 0, None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ, "out")
            sel.register(proc.stderr, selectors.EVENT_READ, "err")
            while sel.get_map():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BackendError(self._timeout_text())
                events = sel.select(min(HEARTBEAT, remaining))
                pieces: list[Piece] = []
                for key, _ in events:
                    data = os.read(key.fd, 65536)
                    at = time.monotonic()
                    if not data:
                        sel.unregister(key.fileobj)
                    elif key.data == "out":
                        writes += 1
                        pieces += parser.feed(data, at)
                    else:
                        *lines, err = (err + data).split(b"\n")
                        for line in lines:
                            parser.side_line(line.decode(errors="replace"))
                yield from deliver(pieces)
                if exited is None and proc.poll() is not None:
                    exited = time.monotonic()
                if exited is not None and time.monotonic() - exited > EXIT_GRACE:
                    break
        if err:
            parser.side_line(err.decode(errors="replace"))
        if writes == 1 and time.monotonic() - started > BUFFERED_AFTER and not self._warned_buffered:
            self._warned_buffered = True
            log.warning(
                "%s wrote its whole reply at once: it buffers stdout, so time to first token and decode "
                "time are not measured; put 'stdbuf -o0' before it in --command",
                Path(self.argv[0]).name,
            )

    @property
    def label(self) -> str:
        return Path(self.model).name if self.model else Path(self.argv[0]).name

    def info(self) -> ModelInfo:
        path = Path(self.model) if self.model else None
        size = path.stat().st_size if path is not None and path.is_file() else None
        details: dict[str, Any] = {"command": shlex.join(self.argv)}
        if size is None or path is None:
            return ModelInfo(self.label, None, size, details)
        return ModelInfo(self.label, None, size, details, str(path.resolve()), cached_sha256(path))
