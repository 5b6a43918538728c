"""Turning an engine's raw text output (a process's stdout, a serial line) into timed pieces and
the engine's own figures.

Command-line engines and microcontroller firmware have no API: they print the generated text and,
at the end, a line of statistics (llama2.c's ``achieved tok/s: 52.1``, llama.cpp's
``eval time = … ms / N runs``). The parser reads that stream once, as it arrives:

- every chunk keeps its arrival time (:class:`Piece`), so holding text back to classify it never
  shifts a timing;
- a line is held until it ends (at most ``HOLD_CHARS``) and then classified: the end marker
  (``[done]``), a statistics line (``--stats-regex`` / ``--preset``: its figures are kept, the
  line leaves the response), or content;
- an echo of the prompt (llama2.c and llama-cli print the prompt before generating) is dropped
  when ``strip_echo`` is on, so time to first token is the first *generated* text; output that
  does not match the prompt is given back untouched;
- whitespace before the first visible character joins that character's piece (after an echo, it
  is the echo's line end and is dropped): time to first token is the first non-blank output.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

from runner.backends.base import EngineStats, Piece

HOLD_CHARS = 512  # a statistics line is shorter: a longer line is content, passed on unclassified
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


PRESETS = {
    # llama2.c prints the prompt, the story, then on stderr: achieved tok/s: 52.100000. Its rate
    # counts every forward pass after the first, prompt tokens included (they run one at a time).
    "llama2c": Preset(
        {"tokens_per_second": rf"achieved tok/s:\s*{_NUMBER}"},
        strip_echo=True,
        help="Karpathy's llama2.c run: 'achieved tok/s' on stderr; the prompt is echoed",
    ),
    # llama-cli / llama-completion (and the older main): llama_perf_* or llama_print_timings lines
    # on stderr. "eval time" counts decoded runs (one fewer than sampled); "sampling time" runs are
    # the tokens sampled, i.e. generated.
    "llama-cli": Preset(
        {
            "prefill_ms": rf"prompt eval time\s*=\s*{_NUMBER} ms",
            "input_tokens": r"prompt eval time\s*=\s*[0-9.]+ ms /\s*(\d+) tokens",
            "decode_ms": rf"(?<!prompt )eval time\s*=\s*{_NUMBER} ms",
            "decode_tokens": r"(?<!prompt )eval time\s*=\s*[0-9.]+ ms /\s*(\d+) runs",
            "output_tokens": r"sampl(?:e|ing) time\s*=\s*[0-9.]+ ms /\s*(\d+) runs",
            "load_ms": rf"load time\s*=\s*{_NUMBER} ms",
        },
        strip_echo=True,
        help="llama.cpp's llama-cli/llama-completion: llama_perf timings on stderr; the prompt is echoed",
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
        return float(text)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class TextOptions:
    """How to read one text engine's replies (both ``command`` and ``serial``)."""

    patterns: list[tuple[str, re.Pattern[str]]]
    strip_echo: bool
    timeout: float  # the whole reply, first byte included
    end_marker: str | None = None  # serial: a line that ends the reply
    end_on_stats: bool = False  # serial: a statistics line ends the reply too
    idle_timeout: float = 10.0  # serial: silence after output that ends the reply


@dataclass
class OutputParser:
    """One reply's output, fed as it arrives; see the module docstring for the rules."""

    patterns: list[tuple[str, re.Pattern[str]]]
    end_marker: str | None = None
    echo: str | None = None  # the prompt, when the engine prints it back first
    values: dict[str, float] = field(default_factory=dict)
    marker_seen: bool = False  # a line that is exactly the end marker was read
    stats_seen: bool = False  # a statistics line was read
    response: list[str] = field(default_factory=list)
    side_lines: list[str] = field(default_factory=list)  # the last lines of a side channel (stderr)

    def __post_init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._line: list[tuple[str, float]] = []  # the current line, held until classified
        self._line_passed = False  # part of the current line was already passed on as content
        self._echo = "".join(self.echo.split()) if self.echo else ""
        self._echo_at = 0
        self._echo_held: list[Piece] = []
        self._lead: str = ""  # whitespace before the first visible character
        self._after_echo = False  # then the lead is the echo's line end: dropped, not kept
        self._visible = False

    # -- input ---------------------------------------------------------------------------
    def feed(self, data: bytes, at: float) -> list[Piece]:
        """Output bytes that arrived at ``at``; returns the content now known to be response."""
        return self._text(self._decoder.decode(data), at)

    def finish(self, at: float) -> list[Piece]:
        """The output ended: classify what is still held and give back an unfinished echo."""
        out = self._text(self._decoder.decode(b"", final=True), at)
        if self._line:
            out += self._close_line()
        if self._echo_held:
            held, self._echo_held, self._echo = self._echo_held, [], ""
            out = self._visible_pieces(held) + out
        return out

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
        if output is None and runs is not None:
            output, source = (runs + 1 if runs + 1 == max_tokens else runs), "engine_decoded"
        return EngineStats(
            input_tokens=count("input_tokens"),
            output_tokens=output,
            output_tokens_source=source,
            prefill_seconds=seconds("prefill"),
            decode_seconds=seconds("decode"),
            decode_tokens=count("decode_tokens"),
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
                self._line.append((head + newline, at))
            if newline:
                out += self._close_line()
            elif sum(len(t) for t, _ in self._line) > HOLD_CHARS:
                out += self._pass_line()
        return out

    def _close_line(self) -> list[Piece]:
        self._crlf_to_lf()
        line = "".join(t for t, _ in self._line)
        if not self._line_passed:
            stripped = line.strip()
            if self.end_marker is not None and stripped == self.end_marker:
                self._line = []
                self.marker_seen = True
                return []
            if self._stats(line):
                self._line = []
                self.stats_seen = True
                return []
        out = self._pass_line()
        self._line_passed = False
        return out

    def _crlf_to_lf(self) -> None:
        """Serial firmware ends lines with CRLF; the response keeps plain newlines."""
        text, at = self._line[-1]
        if text.endswith("\r\n"):
            self._line[-1] = (text[:-2] + "\n", at)
        elif text == "\n" and len(self._line) > 1 and self._line[-2][0].endswith("\r"):
            before, before_at = self._line[-2]
            self._line[-2] = (before[:-1], before_at)

    def _pass_line(self) -> list[Piece]:
        held, self._line = self._line, []
        self._line_passed = True
        out: list[Piece] = []
        for text, at in held:
            out += self._unecho(Piece(text, at))
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
            if ch != self._echo[self._echo_at]:  # not an echo after all: give everything back
                held, self._echo_held, self._echo = self._echo_held, [], ""
                return self._visible_pieces([*held, piece])
            self._echo_at += 1
            if self._echo_at == len(self._echo):
                self._echo_held, self._echo = [], ""
                self._after_echo = True
                rest = piece.text[i + 1 :]
                return self._visible_pieces([Piece(rest, piece.at)] if rest else [])
        self._echo_held.append(piece)
        return []

    def _visible_pieces(self, pieces: list[Piece]) -> list[Piece]:
        out: list[Piece] = []
        for p in pieces:
            if not p.text:
                continue
            if not self._visible:
                if not p.text.strip():
                    self._lead += p.text
                    continue
                self._visible = True
                p = Piece(p.text.lstrip() if self._after_echo else self._lead + p.text, p.at)
            self.response.append(p.text)
            out.append(p)
        return out
