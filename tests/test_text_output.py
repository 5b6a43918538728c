"""The parser behind the command and serial backends: held lines keep their arrival times,
statistics and end-marker lines leave the response, an echo is dropped only when it is one."""

from __future__ import annotations

import re

import pytest

from edgemeter.runner.backends.text.output import (
    HOLD_CHARS,
    PRESETS,
    OutputParser,
    StatsRegexError,
    parse_stats_regex,
    stat_patterns,
)


def feed_all(
    parser: OutputParser, chunks: list[tuple[str, float]], end: float = 99.0
) -> list[tuple[str, float]]:
    out = []
    for text, at in chunks:
        out += parser.feed(text.encode(), at)
    out += parser.finish(end)
    return [(p.text, p.at) for p in out]


def test_a_line_split_across_chunks_keeps_each_chunks_time() -> None:
    parser = OutputParser(stat_patterns("llama2c", []), end_marker="[done]")
    pieces = feed_all(
        parser,
        [("\n  Once", 1.0), (" upon", 1.1), (" a time\n", 1.2), ("achieved tok", 1.3), ("/s: 41.5\r\n", 1.31),
         ("[do", 1.4), ("ne]\r\n", 1.41)],
    )  # fmt: skip
    # leading blanks join the first visible text (TTFT = first non-blank output); the stats and
    # marker lines are gone from the response, though they arrived in pieces
    assert pieces == [("\n  Once", 1.0), (" upon", 1.1), (" a time\n", 1.2)]
    assert parser.values == {"tokens_per_second": 41.5}
    assert parser.stats_seen and parser.marker_seen
    assert parser.text() == "\n  Once upon a time\n"


def test_crlf_becomes_lf_even_when_split() -> None:
    parser = OutputParser([])
    pieces = feed_all(parser, [("one\r", 1.0), ("\ntwo\r\n", 2.0)])
    assert parser.text() == "one\ntwo\n"
    assert [at for _, at in pieces] == [1.0, 2.0, 2.0]


def test_a_long_line_is_passed_on_before_it_ends() -> None:
    parser = OutputParser(stat_patterns("llama2c", []))
    words = [(f" w{k:03d}", float(k)) for k in range(HOLD_CHARS // 5 + 20)]  # one line, no newline yet
    out = []
    for text, at in words:
        out += parser.feed(text.encode(), at)
    assert out, "a line longer than any statistics line must not be held to its end"
    assert [p.at for p in out] == [at for _, at in words[: len(out)]]


def test_echo_is_dropped_whitespace_insensitively() -> None:
    parser = OutputParser([], echo="Once  upon\na time")
    pieces = feed_all(
        parser, [("Once", 1.0), (" upon", 1.1), (" a", 1.2), (" time", 1.3), (",", 2.0), (" there", 2.1)]
    )
    assert pieces == [(",", 2.0), (" there", 2.1)]  # the first generated text is the first token


def test_output_that_is_not_an_echo_is_given_back_untouched() -> None:
    parser = OutputParser([], echo="Once upon a time")
    pieces = feed_all(parser, [("Once", 1.0), (" upon", 1.1), (" the", 1.2), (" hill", 1.3)])
    assert pieces == [("Once", 1.0), (" upon", 1.1), (" the", 1.2), (" hill", 1.3)]


def test_output_that_ends_inside_the_echo_generated_nothing() -> None:
    # llama2.c's -n counts the prompt's tokens: -n below the prompt's length cuts the echo short
    parser = OutputParser([], echo="Once upon a time")
    assert feed_all(parser, [("Once", 1.0), (" upon", 1.1)]) == []
    assert parser.text() == ""


def test_echo_skips_characters_llama2c_cannot_print() -> None:
    # safe_printf drops byte tokens: the parts of non-ASCII characters without a piece of their own
    parser = OutputParser([], echo="Tell me about 東京 please")
    pieces = feed_all(parser, [("Tell me about  please", 1.0), (" Tokyo is", 2.0)])
    assert pieces == [("Tokyo is", 2.0)]


def test_a_long_lines_tail_is_held_for_the_trailer() -> None:
    trailer = re.compile(PRESETS["llama-cli"].trailer or "")
    parser = OutputParser(stat_patterns("llama-cli", []), trailer=trailer)
    words = [(f" w{k:03d}", float(k)) for k in range(200)]  # 1,000 characters, one line
    pieces = feed_all(parser, [*words, (" [end of text]\n", 300.0)])
    assert parser.text() == "".join(w for w, _ in words) + "\n"
    # every piece kept its own arrival time, the held tail included; the trailer is not output,
    # so the reply's last byte is the last word's
    assert "".join(t for t, _ in pieces) == parser.text()
    assert pieces[-1] == (" w199\n", 199.0)
    char_times = [at for t, at in pieces for _ in t]
    assert char_times[:-1] == [float(i // 5) for i in range(1000)]  # each word: 5 characters


def test_a_long_line_is_content_however_it_arrives() -> None:
    line = "x" * 600 + " load time = 5 ms\n"
    whole = OutputParser(stat_patterns("llama-cli", []))
    split = OutputParser(stat_patterns("llama-cli", []))
    feed_all(whole, [(line, 1.0)])
    feed_all(split, [(line[:550], 1.0), (line[550:], 2.0)])  # the first part is passed on unclassified
    assert whole.text() == split.text() == line and not whole.values and not split.values


def test_after_the_end_marker_or_an_ending_stats_line_nothing_is_response() -> None:
    marker = OutputParser([], end_marker="[done]")
    feed_all(marker, [("Once upon\r\n[done]\r\nEnter prompt: ", 1.0)])
    assert marker.text() == "Once upon\n"
    stats = OutputParser(stat_patterns("llama2c", []), end_on_stats=True)
    feed_all(stats, [("Once\nachieved tok/s: 9.5\nEnter prompt: ", 1.0)])
    assert stats.text() == "Once\n" and stats.values == {"tokens_per_second": 9.5} and stats.over


def test_a_marker_without_newline_is_recognised_while_held() -> None:
    parser = OutputParser([], end_marker="[done]")
    parser.feed(b"Once\r\n[done]", 1.0)
    assert parser.held_is_marker()


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_a_non_finite_figure_is_ignored(value: str) -> None:
    parser = OutputParser(stat_patterns(None, ["tokens_per_second=rate (\\w+)"]))
    parser.side_line(f"rate {value}")
    assert parser.values == {} and parser.engine_stats().tokens_per_second is None


def test_stderr_lines_give_figures_and_keep_the_last_message() -> None:
    parser = OutputParser(stat_patterns("llama-cli", []))
    lines = [
        "llama_perf_sampler_print:    sampling time =       3.10 ms /    33 runs   (    0.09 ms per token)",
        "llama_perf_context_print:        load time =     512.00 ms",
        "llama_perf_context_print: prompt eval time =      43.21 ms /     9 tokens "
        "(    4.80 ms per token,   208.29 tokens per second)",
        "llama_perf_context_print:        eval time =     785.37 ms /    31 runs   "
        "(   25.33 ms per token,    39.47 tokens per second)",
        "main: something went fine",
    ]
    for line in lines:
        parser.side_line(line + "\n")
    stats = parser.engine_stats(max_tokens=64)
    # 31 runs, not cut at 64: an end-of-generation token ended it, so 31 tokens (the sampler's
    # runs are never used: newer builds count the prompt's tokens in them)
    assert (stats.output_tokens, stats.input_tokens, stats.decode_tokens) == (31, 9, 31)
    assert stats.output_tokens_source == "engine_decoded"
    assert parser.engine_stats(max_tokens=32).output_tokens == 32  # cut at the limit: runs + 1
    assert stats.prefill_seconds == pytest.approx(0.04321)
    assert stats.decode_seconds == pytest.approx(0.78537)
    assert stats.load_seconds == pytest.approx(0.512)
    assert stats.chunked_output
    assert parser.side_lines[-1] == "main: something went fine"  # for an error message


def test_old_llama_print_timings_lines_parse_too() -> None:
    parser = OutputParser(stat_patterns("llama-cli", []))
    for line in (
        "llama_print_timings:      sample time =    12.25 ms /    32 runs   (    0.38 ms per token)",
        "llama_print_timings: prompt eval time =   925.78 ms /    24 tokens (   38.57 ms per token)",
        "llama_print_timings:        eval time =  4178.32 ms /    31 runs   (  134.78 ms per token)",
    ):
        parser.side_line(line)
    assert parser.values == {
        "prefill_ms": 925.78,
        "input_tokens": 24.0,
        "decode_ms": 4178.32,
        "decode_tokens": 31.0,
    }


def test_own_regex_replaces_the_presets_of_the_same_name() -> None:
    patterns = dict(stat_patterns("llama2c", ["tokens_per_second=speed (?P<tokens_per_second>[0-9.]+)"]))
    assert patterns["tokens_per_second"].pattern.startswith("speed")
    assert set(PRESETS) == {"llama2c", "llama-cli"}


@pytest.mark.parametrize(
    ("text", "message"),
    [("nonsense", "expected NAME=REGEX"), ("tps=([0-9]+)", "unknown NAME"), ("output_tokens=(", "missing")],
)
def test_bad_stats_regex(text: str, message: str) -> None:
    with pytest.raises(StatsRegexError, match=re.escape(message)):
        parse_stats_regex(text)
