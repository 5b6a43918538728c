"""A stand-in for a command-line engine (llama2.c's ``run``, ``llama-cli``): prints tokens with
known delays and its own statistics lines, the way the real ones do, so the runner's figures can
be checked against what it did.

    fake_engine.py [options] -i PROMPT      (or --stdin to read the prompt)

It writes what it received (argv, the prompt, stdin) and its own clock readings as JSON to
``--record FILE`` (appending one line per run), prints each token with ``flush`` like llama2.c,
then ``achieved tok/s: X`` (llama2c) or llama.cpp's perf lines (llama-cli) on stderr. Modes:
``crash`` exits 3 after half the tokens with a message on stderr, ``hang`` stops printing and
sleeps, ``segv`` kills itself with SIGSEGV, ``noflush`` writes everything at exit (a block-buffered
engine).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("-i", dest="prompt")
    p.add_argument("--stdin", action="store_true")
    p.add_argument("-n", dest="tokens", type=int, default=8)
    p.add_argument("--first-delay", type=float, default=0.2)
    p.add_argument("--token-delay", type=float, default=0.02)
    p.add_argument("--echo", action="store_true", help="print the prompt before generating, like llama2.c")
    p.add_argument("--stats", choices=("llama2c", "llama-cli", "none"), default="llama2c")
    p.add_argument("--mode", choices=("ok", "crash", "hang", "segv", "noflush"), default="ok")
    p.add_argument(
        "--exit-delay", type=float, default=0.0, help="linger after the last byte (freeing a model)"
    )
    p.add_argument("--eog", action="store_true", help="end like llama-cli on an end token: ' [end of text]'")
    p.add_argument("--record")
    p.add_argument("rest", nargs="*")
    args = p.parse_args()
    start = time.monotonic()
    prompt = sys.stdin.readline().rstrip("\n") if args.stdin else args.prompt
    out = sys.stdout
    if args.mode == "noflush":  # block-buffered like a C program's stdout on a pipe, PYTHONUNBUFFERED or not
        out = open(sys.stdout.fileno(), "w", buffering=8192, closefd=False)  # noqa: SIM115
    if args.echo:
        for word in prompt.split():
            out.write(word + " ")
            out.flush()
    time.sleep(args.first_delay)
    printed: list[float] = []
    # an end-of-generation token ends a reply before the limit, and every printed token was decoded
    for k in range(args.tokens - 2 if args.eog else args.tokens):
        if k:
            time.sleep(args.token_delay)
        out.write(f" tok{k}" if k else "Once")
        if args.mode != "noflush":
            out.flush()
        printed.append(time.monotonic())
        if args.mode in ("crash", "segv", "hang") and k == args.tokens // 2:
            break
    if args.record:
        with open(args.record, "a") as f:
            f.write(
                json.dumps({"argv": sys.argv[1:], "prompt": prompt, "start": start, "printed": printed})
                + "\n"
            )
    if args.mode == "crash":
        print("error: out of memory allocating the KV cache", file=sys.stderr)
        return 3
    if args.mode == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    if args.mode == "hang":
        time.sleep(3600)
    out.write(" [end of text]\n" if args.eog else "\n")
    out.flush()
    elapsed = printed[-1] - printed[0]
    rate = (len(printed) - 1) / elapsed if elapsed > 0 else 0.0
    if args.stats == "llama2c":
        print(f"achieved tok/s: {rate:f}", file=sys.stderr)
    elif args.stats == "llama-cli":
        n_eval = len(printed) if args.eog else len(printed) - 1  # the last sampled token is never decoded
        err = sys.stderr
        # since late 2024 the sampler's runs include the prompt's tokens (7 here)
        err.write(
            f"llama_perf_sampler_print:    sampling time =       1.23 ms / {7 + len(printed):5d} runs\n"
        )
        err.write(f"llama_perf_context_print:        load time = {123.45:10.2f} ms\n")
        ms = args.first_delay * 1000
        err.write(
            f"llama_perf_context_print: prompt eval time = {ms:10.2f} ms / {7:5d} tokens "
            f"({ms / 7:8.2f} ms per token, {7000 / ms:8.2f} tokens per second)\n"
        )
        err.write(
            f"llama_perf_context_print:        eval time = {elapsed * 1000:10.2f} ms / {n_eval:5d} runs   "
            f"({elapsed * 1000 / n_eval:8.2f} ms per token, {rate:8.2f} tokens per second)\n"
        )
    time.sleep(args.exit_delay)
    return 0


if __name__ == "__main__":
    sys.exit(main())
