#!/usr/bin/env python3
"""How closely the command and serial backends time an engine: the runner's figures side by side
with the engine's own clock.

The reference is the stand-in engine's own record of when it wrote each token
(``tests/fake_engine.py`` for a command, ``tests/fake_serial.py`` for an ESP32 on a pty pair), so
the difference is what the runner adds or loses: pipe/tty latency, the line hold, process start.
Also the cost of going through the runner at all: each prompt's wall time through the runner vs
the same engine command run directly (``subprocess.run``).

usage: .venv/bin/python benchmarks/text_engines.py [--prompts N] [--tokens N] [--token-delay S] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from fake_serial import FakeEsp32  # noqa: E402

FAKE = REPO / "tests" / "fake_engine.py"


def _runner(tmp: Path, prompts: int, tokens: int, flags: list[str]) -> list[dict]:
    path = tmp / "p.txt"
    path.write_text("".join(f"Once upon a time {i}\n" for i in range(prompts)))
    results = tmp / "r"
    cmd = [sys.executable, "-m", "edgemeter.runner", "--prompts", str(path), "--no-push", "--quiet",
           "--results", str(results), "--max-tokens", str(tokens), *flags]  # fmt: skip
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"runner failed: {done.stderr.strip()}")
    [jsonl] = results.glob("*.jsonl")
    return [json.loads(line) for line in jsonl.read_text().splitlines()]


def _ms(values: list[float]) -> dict[str, float]:
    return {"median_ms": statistics.median(values) * 1000, "max_abs_ms": max(abs(v) for v in values) * 1000}


def command(prompts: int, tokens: int, delay: float) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        rec = tmp / "rec.jsonl"
        template = (
            f"{sys.executable} {FAKE} -i {{prompt}} -n {{max_tokens}} --token-delay {delay} --record {rec}"
        )
        recs = _runner(
            tmp, prompts, tokens, ["--backend", "command", "--command", template, "--preset", "llama2c"]
        )
        fakes = [json.loads(line) for line in rec.read_text().splitlines()]
        direct = []
        for i in range(prompts):  # the reference cost: the engine alone, same arguments
            start = time.monotonic()
            subprocess.run([sys.executable, str(FAKE), "-i", f"Once upon a time {i}", "-n", str(tokens),
                            "--token-delay", str(delay)], capture_output=True, check=True)  # fmt: skip
            direct.append(time.monotonic() - start)
    return {
        "decode: runner - engine": _ms(
            [
                r["decode_seconds"] - (f["printed"][-1] - f["printed"][0])
                for r, f in zip(recs, fakes, strict=True)
            ]
        ),
        "ttft: runner - engine's own (process start)": _ms(
            [r["ttft_seconds"] - (f["printed"][0] - f["start"]) for r, f in zip(recs, fakes, strict=True)]
        ),
        "prompt wall: runner - direct": _ms(
            [r["request_duration_seconds"] - t for r, t in zip(recs, direct, strict=True)]
        ),
    }


def serial(prompts: int, tokens: int, delay: float) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as d, FakeEsp32(tokens=tokens, token_delay=delay) as esp:
        flags = ["--backend", "serial", "--port", esp.device, "--model", "stories260K", "--preset", "llama2c"]
        recs = _runner(Path(d), prompts, tokens, flags)
    pairs = list(zip(recs, esp.printed, esp.received_at, strict=True))
    return {
        "decode: runner - firmware": _ms([r["decode_seconds"] - (p[-1] - p[0]) for r, p, _ in pairs]),
        "ttft: runner - firmware (line in -> first token)": _ms(
            [r["ttft_seconds"] - (p[0] - g) for r, p, g in pairs]
        ),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=20)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--token-delay", type=float, default=0.02)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    figures = {
        "command": command(args.prompts, args.tokens, args.token_delay),
        "serial": serial(args.prompts, args.tokens, args.token_delay),
    }
    print(f"{args.prompts} prompts x {args.tokens} tokens, {args.token_delay * 1000:g} ms apart")
    print(f"{'backend':8}  {'figure':50}  {'median ms':>9}  {'max |ms|':>8}")
    for backend, rows in figures.items():
        for name, v in rows.items():
            print(f"{backend:8}  {name:50}  {v['median_ms']:9.2f}  {v['max_abs_ms']:8.2f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
