"""Turning an engine's raw text output (a process's stdout, a serial line) into timed pieces and
the engine's own figures.

Command-line engines and microcontroller firmware have no API: they print the generated text and,
at the end, a line of statistics (llama2.c's ``achieved tok/s: 52.1``, llama.cpp's
``eval time = … ms / N runs``). The parser reads that stream once, as it arrives:

- every chunk keeps its arrival time (:class:`Piece`), so holding text back to classify it never
  shifts a timing;
- a line is held until it ends and then classified: the end marker (``[done]``), a statistics
  line (``--stats-regex`` / ``--preset``: its figures are kept, the line leaves the response), or
  content. A line longer than ``HOLD_CHARS`` is content and is passed on as it comes, all but its
  last ``TAIL_CHARS``, where a preset's trailer (llama-cli's `` [end of text]``) is cut;
- once the reply is over (its end marker, or a statistics line where that ends it), what follows
  is the firmware's prompt or chatter, not the reply;
- an echo of the prompt (llama2.c and llama-cli print the prompt before generating) is dropped
  when ``strip_echo`` is on, so time to first token is the first *generated* text; output that
  does not match the prompt is given back untouched;
- whitespace before the first visible character joins that character's piece (after an echo, it
  is the echo's line end and is dropped): time to first token is the first non-blank output.
"""

from __future__ import annotations

import codecs
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from edgemeter.runner.backends.base import EngineStats, Piece, StopRequested

HOLD_CHARS = 512  # a statistics line is shorter: a longer line is content, passed on unclassified
TAIL_CHARS = 64  # of a long line, held back until it ends: room for a trailer such as [end of text]
STAT_NAMES = (
    "tokens_per_second",
    "output_tokens",
    "input_tokens",
    "decode_tokens",
    "prefill_seconds",
    "decode_seconds",
    "load_seconds",
    "prefill_ms",
    "decode_ms",
    "load_ms",
)
_NUMBER = r"([0-9]+(?:\.[0-9]*)?)"


@dataclass(frozen=True)
class Preset:
    """What one engine prints: its statistics lines, and whether it echoes the prompt first."""

    stats: dict[str, str]
    strip_echo: bool
    help: str
    trailer: str | None = None  # text the engine appends to a reply, taken out of the response
    # output that shows the template runs another program than the preset is for, and what to use
    misuse: tuple[str, str] | None = None


LLAMA_COMPLETION = (
    "llama-completion -m {model} -p {prompt} -n {max_tokens} --seed {seed} --temp {temperature} "
    "-no-cnv --no-escape"
)

PRESETS = {
    # llama2.c prints the prompt, the story, then on stderr: achieved tok/s: 52.100000. Its rate
    # counts every forward pass after the first, prompt tokens included (they run one at a time).
    "llama2c": Preset(
        {"tokens_per_second": rf"achieved tok/s:\s*{_NUMBER}"},
        strip_echo=True,
        help="Karpathy's llama2.c run: 'achieved tok/s' on stderr; the prompt is echoed",
    ),
    # llama-cli / llama-completion (and the older main): llama_perf_* or llama_print_timings lines
    # on stderr. "eval time" counts decoded runs (one fewer than sampled, see engine_stats). The
    # "sampling time … runs" count is not used: since late 2024 it includes the prompt's tokens.
    # A reply that ends on an end-of-generation token gets " [end of text]" on stdout.
    "llama-cli": Preset(
        {
            "prefill_ms": rf"prompt eval time\s*=\s*{_NUMBER} ms",
            "input_tokens": r"prompt eval time\s*=\s*[0-9.]+ ms /\s*(\d+) tokens",
            "decode_ms": rf"(?<!prompt )eval time\s*=\s*{_NUMBER} ms",
            "decode_tokens": r"(?<!prompt )eval time\s*=\s*[0-9.]+ ms /\s*(\d+) runs",
            "load_ms": rf"load time\s*=\s*{_NUMBER} ms",
        },
        strip_echo=True,
        help="llama.cpp's llama-cli/llama-completion: llama_perf timings on stderr; the prompt is echoed",
        trailer=r" ?\[end of text\]\s*$",
        # current llama.cpp's llama-cli is an interactive chat: a banner and its commands, or a
        # refusal of -no-cnv; its one-shot engine is llama-completion
        misuse=(
            r"^available commands:|/exit or Ctrl\+C|invalid argument: -no-cnv",
            "this llama-cli is llama.cpp's interactive chat, not a one-shot engine: use llama-completion, "
            f"--command '{LLAMA_COMPLETION}'",
        ),
    ),
}


class StatsRegexError(ValueError):
    """A ``--stats-regex`` the runner cannot use (the message names what is wrong)."""


def parse_stats_regex(text: str) -> tuple[str, re.Pattern[str]]:
    """``NAME=REGEX`` → (name, compiled): the first group (or the group called NAME) is the value."""
    name, sep, pattern = text.partition("=")
    if not sep or not pattern:
        raise StatsRegexError(f"{text!r}: expected NAME=REGEX")
    if name not in STAT_NAMES:
        raise StatsRegexError(f"{text!r}: unknown NAME {name!r} (one of {', '.join(STAT_NAMES)})")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise StatsRegexError(f"{text!r}: {exc}") from exc
    if compiled.groups < 1:
        raise StatsRegexError(f"{text!r}: the regex needs a group around the number, e.g. ([0-9.]+)")
    return name, compiled


def stat_patterns(preset: str | None, extra: list[str]) -> list[tuple[str, re.Pattern[str]]]:
    """The preset's patterns, with each ``--stats-regex`` replacing the preset's of the same name."""
    own = dict(parse_stats_regex(text) for text in extra)
    base = {} if preset is None else {k: re.compile(v) for k, v in PRESETS[preset].stats.items()}
    return list({**base, **own}.items())


def _value(match: re.Match[str], name: str) -> float | None:
    text = match.groupdict().get(name) or match.group(1)
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class TextOptions:
    """How to read one text engine's replies (both ``command`` and ``serial``)."""

    patterns: list[tuple[str, re.Pattern[str]]]
    strip_echo: bool
    timeout: float  # the whole reply, first byte included
    end_marker: str | None = None  # serial: a line that ends the reply
    end_on_stats: bool = False  # serial: a statistics line ends the reply too
    idle_timeout: float = 10.0  # serial: silence after output that ends the reply
    trailer: re.Pattern[str] | None = None  # the preset's reply trailer
    misuse: tuple[re.Pattern[str], str] | None = None  # the preset's wrong-engine sign and advice

    def misused(self, parser: OutputParser) -> str | None:
        """The advice, when the output shows the template runs the wrong program for the preset."""
        if self.misuse is None:
            return None
        sign, advice = self.misuse
        lines = [*parser.text().splitlines(), *parser.side_lines]
        return advice if any(sign.search(line) for line in lines) else None

    def parser(self, prompt: str) -> OutputParser:
        """A parser for one reply to ``prompt``."""
        return OutputParser(
            self.patterns,
            self.end_marker,
            prompt if self.strip_echo else None,
            end_on_stats=self.end_on_stats,
            trailer=self.trailer,
        )


@dataclass
class OutputParser:
    """One reply's output, fed as it arrives; see the module docstring for the rules."""

    patterns: list[tuple[str, re.Pattern[str]]]
    end_marker: str | None = None
    echo: str | None = None  # the prompt, when the engine prints it back first
    end_on_stats: bool = False  # a statistics line ends the reply: later content is not response
    trailer: re.Pattern[str] | None = None  # engine text closing a reply (llama-cli " [end of text]")
    values: dict[str, float] = field(default_factory=dict)
    marker_seen: bool = False  # a line that is exactly the end marker was read
    trailer_seen: bool = False  # the engine's end-of-generation trailer was cut from the reply
    stats_seen: bool = False  # a statistics line was read
    response: list[str] = field(default_factory=list)
    side_lines: list[str] = field(default_factory=list)  # the last lines of a side channel (stderr)

    def __post_init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._line: list[Piece] = []  # the current line (or a long line's tail), held until classified
        self._line_passed = False  # part of the current line was already passed on as content
        self._echo = "".join(self.echo.split()) if self.echo else ""
        self._echo_at = 0
        self._echo_held: list[Piece] = []
        self._lead: str = ""  # whitespace before the first visible character
        self._after_echo = False  # then the lead is the echo's line end: dropped, not kept

    @property
    def over(self) -> bool:
        """The reply has ended (its marker, or a statistics line where that ends it): text that
        follows is the firmware's, not the reply's."""
        return self.marker_seen or (self.stats_seen and self.end_on_stats)

    # -- input ---------------------------------------------------------------------------
    def feed(self, data: bytes, at: float) -> list[Piece]:
        """Output bytes that arrived at ``at``; returns the content now known to be response."""
        return self._text(self._decoder.decode(data), at)

    def finish(self, at: float) -> list[Piece]:
        """The output ended: classify what is still held. Output that ended inside the echo was
        all echo (llama2.c's ``-n`` counts prompt tokens): nothing was generated."""
        out = self._text(self._decoder.decode(b"", final=True), at)
        if self._line:
            out += self._close_line()
        self._echo_held = []
        return out

    def held_is_marker(self) -> bool:
        """The unfinished line is the end marker (firmware that prints ``[done]`` without a newline)."""
        text = "".join(p.text for p in self._line)
        return self.end_marker is not None and not self._line_passed and text.strip() == self.end_marker

    def side_line(self, line: str) -> None:
        """A line from a channel that is never response (stderr): statistics only."""
        line = line.rstrip("\r\n")
        if not self._stats(line) and line.strip():
            self.side_lines = [*self.side_lines[-19:], line]

    # -- results -------------------------------------------------------------------------
    def text(self) -> str:
        return "".join(self.response)

    def engine_stats(self, max_tokens: int | None = None) -> EngineStats:
        """The figures read from statistics lines, in the units EngineStats uses.

        Without a count of generated tokens but with llama.cpp's decoded runs, the count follows
        from them: the last sampled token is never decoded, so a reply cut at ``max_tokens`` has
        runs + 1 tokens, and one ended by an end-of-generation token (sampled, never printed) has
        as many tokens as runs (``token_count_source`` = ``engine_decoded``)."""
        v = self.values

        def seconds(name: str) -> float | None:
            if name + "_seconds" in v:
                return v[name + "_seconds"]
            return v[name + "_ms"] / 1000 if name + "_ms" in v else None

        def count(name: str) -> int | None:
            return int(v[name]) if name in v else None

        output, source = count("output_tokens"), None
        runs = count("decode_tokens")
        if output is None and runs is not None and runs <= 1 and not self.text().strip():
            output, runs, source = 0, 0, "engine_decoded"  # llama.cpp never prints fewer than 1 run
        elif output is None and runs is not None:
            cut = runs + 1 == max_tokens and not self.trailer_seen  # the trailer: it ended on its own
            output, source = (runs + 1 if cut else runs), "engine_decoded"
        return EngineStats(
            input_tokens=count("input_tokens"),
            output_tokens=output,
            output_tokens_source=source,
            prefill_seconds=seconds("prefill"),
            decode_seconds=seconds("decode"),
            decode_tokens=runs,
            load_seconds=seconds("load"),
            tokens_per_second=v.get("tokens_per_second"),
            chunked_output=True,
        )

    # -- stages --------------------------------------------------------------------------
    def _text(self, text: str, at: float) -> list[Piece]:
        out: list[Piece] = []
        while text:
            head, newline, text = text.partition("\n")
            if head or newline:
                self._line.append(Piece(head + newline, at))
            if newline:
                out += self._close_line()
            elif sum(len(p.text) for p in self._line) > HOLD_CHARS:
                out += self._pass(keep=TAIL_CHARS)
        return out

    def _close_line(self) -> list[Piece]:
        self._crlf_to_lf()
        line = "".join(p.text for p in self._line)
        if not self._line_passed and len(line) <= HOLD_CHARS:  # longer is content, however it arrived
            if self.end_marker is not None and line.strip() == self.end_marker:
                self._line = []
                self.marker_seen = True
                return []
            if self._stats(line):
                self._line = []
                self.stats_seen = True
                return []
        if self.trailer is not None and (m := self.trailer.search(line)):
            self.trailer_seen = True
            self._cut(m.start(), "\n" if line.endswith("\n") else "")
        out = self._pass()
        self._line_passed = False
        return out

    def _crlf_to_lf(self) -> None:
        """Serial firmware ends lines with CRLF; the response keeps plain newlines."""
        last = self._line[-1]
        if last.text.endswith("\r\n"):
            self._line[-1] = Piece(last.text[:-2] + "\n", last.at)
        elif last.text == "\n" and len(self._line) > 1 and self._line[-2].text.endswith("\r"):
            before = self._line[-2]
            self._line[-2] = Piece(before.text[:-1], before.at)

    def _cut(self, keep: int, end: str) -> None:
        """Keep the held line's first ``keep`` characters (each at its own time), then ``end``."""
        kept: list[Piece] = []
        for p in self._line:
            if keep > 0:
                kept.append(Piece(p.text[:keep], p.at))
            keep -= len(p.text)
        if end and kept:
            kept[-1] = Piece(kept[-1].text + end, kept[-1].at)
        self._line = kept

    def _pass(self, keep: int = 0) -> list[Piece]:
        """Pass the held line on as content, all but its last ``keep`` characters (a long line's
        tail stays held, so that a trailer at its end can still be cut)."""
        held, tail = self._line, []
        while keep > 0 and held:
            p = held[-1]
            if len(p.text) > keep:
                held = [*held[:-1], Piece(p.text[:-keep], p.at)]
                tail.insert(0, Piece(p.text[-keep:], p.at))
                break
            tail.insert(0, p)
            held = held[:-1]
            keep -= len(p.text)
        self._line = tail
        self._line_passed = True
        if self.over:
            return []
        out: list[Piece] = []
        for piece in held:
            out += self._unecho(piece)
        return out

    def _stats(self, line: str) -> bool:
        found = False
        for name, pattern in self.patterns:
            m = pattern.search(line)
            if m is not None:
                value = _value(m, name)
                if value is not None:
                    self.values[name] = value
                    found = True
        return found

    def _unecho(self, piece: Piece) -> list[Piece]:
        if not self._echo:
            return self._visible_pieces([piece])
        for i, ch in enumerate(piece.text):
            if ch.isspace():
                continue
            # llama2.c's safe_printf drops byte tokens (parts of non-ASCII characters): skip them
            while ch != self._echo[self._echo_at] and not self._echo[self._echo_at].isascii():
                self._echo_at += 1
                if self._echo_at == len(self._echo):
                    return self._echo_done(piece.text[i:], piece.at)
            if ch != self._echo[self._echo_at]:  # not an echo after all: give everything back
                held, self._echo_held, self._echo = self._echo_held, [], ""
                return self._visible_pieces([*held, piece])
            self._echo_at += 1
            if self._echo_at == len(self._echo):
                return self._echo_done(piece.text[i + 1 :], piece.at)
        self._echo_held.append(piece)
        return []

    def _echo_done(self, rest: str, at: float) -> list[Piece]:
        self._echo_held, self._echo = [], ""
        self._after_echo = True
        return self._visible_pieces([Piece(rest, at)] if rest else [])

    def _visible_pieces(self, pieces: list[Piece]) -> list[Piece]:
        out: list[Piece] = []
        for p in pieces:
            if not p.text:
                continue
            if not self.response:
                if not p.text.strip():
                    self._lead += p.text
                    continue
                p = Piece(p.text.lstrip() if self._after_echo else self._lead + p.text, p.at)
            self.response.append(p.text)
            out.append(p)
        return out


def deliver(pieces: list[Piece]) -> Iterator[str | Piece]:
    """Yield pieces so that a stop thrown in between still delivers the rest of them (they were
    already read: losing them would lose measured output); an empty list yields a heartbeat."""
    rest = list(pieces) or [""]
    while rest:
        piece = rest.pop(0)
        try:
            yield piece
        except StopRequested:
            yield from rest
            raise
